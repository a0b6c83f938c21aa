//! Statuses that tonic answers before a handler runs, restated under the error policy.
//!
//! tonic decodes a request before the handler sees it, and answers its own statuses when
//! that fails: `INTERNAL` for a message prost cannot decode (one nested deeper than
//! prost's 100-level recursion limit, or malformed bytes) and `OUT_OF_RANGE` for a message
//! over the size limit. Both are the caller's doing, so [`restate`] turns them into
//! `INVALID_ARGUMENT` and `RESOURCE_EXHAUSTED` with `google.rpc` details. The two are
//! recognised by their code and message text, the only mark tonic leaves on them; a
//! handler's own `INTERNAL` always reads "internal error" ([`crate::error`]).
//!
//! These statuses come in a trailers-only answer (the status in the response headers), which
//! is how tonic answers every unary and server-streaming call that fails before it starts.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::error::{ApiError, ERROR_DOMAIN};
use crate::validate::MAX_JSON_DEPTH;

/// The largest request a service decodes (tonic's default, named here so docs and checks
/// agree): a larger one is `RESOURCE_EXHAUSTED`.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// `ErrorInfo.reason` of a request tonic could not decode. A peer answering it to another
/// Trellis service means that service built a request it should not have: our fault, which
/// [`crate::error::ApiError`]'s conversion from a peer's status keeps as such.
pub const REQUEST_UNDECODABLE: &str = "REQUEST_UNDECODABLE";

const DECODE_FAILURE: &str = "failed to decode Protobuf message";
const TRUNCATED: [&str; 2] = [
    "Unexpected EOF decoding stream.",
    "Missing request message.",
];
const TOO_LARGE: &str = "Error, decoded message length too large";

/// The caller's mistake that `status` stands for, if tonic produced it while decoding.
///
/// tonic's `protocol error: …` statuses (a compressed-flag the request does not declare)
/// stay INTERNAL: the gRPC specification asks for that code.
pub fn caller_mistake(status: &Status) -> Option<Status> {
    let message = status.message();
    let undecodable = |why: String| {
        let mut details = ErrorDetails::new();
        details.set_error_info(REQUEST_UNDECODABLE, ERROR_DOMAIN, []);
        details.set_bad_request(vec![FieldViolation::new("request", why.clone())]);
        Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid argument: {REQUEST_UNDECODABLE}: {why}"),
            details,
        )
    };
    match status.code() {
        Code::Internal if message.starts_with(DECODE_FAILURE) => Some(undecodable(format!(
            "the request could not be decoded ({message}); protobuf messages may nest at most \
             100 levels, JSON values in them at most {MAX_JSON_DEPTH}"
        ))),
        Code::Internal if TRUNCATED.contains(&message) => Some(undecodable(format!(
            "the request ended before its message did ({message})"
        ))),
        Code::OutOfRange if message.starts_with(TOO_LARGE) => {
            Some(Status::from(ApiError::ResourceExhausted {
                message: format!(
                    "the request is larger than the {MAX_REQUEST_BYTES} bytes a call may carry"
                ),
                retry_after: None,
            }))
        }
        _ => None,
    }
}

/// Rewrites a trailers-only answer whose status is a decoding failure of the request.
pub fn restate<B>(mut response: http::Response<B>) -> http::Response<B> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    if let Some(restated) = caller_mistake(&status) {
        tracing::info!(code = ?restated.code(), message = restated.message(), "call refused");
        let headers = response.headers_mut();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            headers.remove(name);
        }
        if restated.add_header(headers).is_err() {
            tracing::warn!("could not restate a decoding failure");
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    fn answer(status: Status) -> http::Response<()> {
        let mut response = http::Response::new(());
        status.add_header(response.headers_mut()).expect("headers");
        response
    }

    fn status_of(response: &http::Response<()>) -> Status {
        Status::from_header_map(response.headers()).expect("a status")
    }

    #[test]
    fn a_request_too_deep_to_decode_is_an_invalid_argument_with_details() {
        let tonic_says = Status::internal(
            "failed to decode Protobuf message: Value.kind: Struct.fields: recursion limit reached",
        );
        let status = status_of(&restate(answer(tonic_says)));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("recursion limit reached"));
        assert!(status.message().contains(REQUEST_UNDECODABLE));
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("BadRequest details");
        assert_eq!(bad_request.field_violations[0].field, "request");
        assert_eq!(
            details.error_info().expect("ErrorInfo").reason,
            REQUEST_UNDECODABLE
        );
    }

    #[test]
    fn a_truncated_request_is_an_invalid_argument() {
        for message in TRUNCATED {
            let status = status_of(&restate(answer(Status::internal(message))));
            assert_eq!(status.code(), Code::InvalidArgument, "{message}");
        }
        let protocol = Status::internal(
            "protocol error: received message with compressed-flag but no grpc-encoding was specified",
        );
        let status = status_of(&restate(answer(protocol)));
        assert_eq!(
            status.code(),
            Code::Internal,
            "the specification's code stays"
        );
    }

    #[test]
    fn a_peer_that_could_not_decode_our_request_is_our_fault() {
        let from_peer = caller_mistake(&Status::internal(
            "failed to decode Protobuf message: recursion limit reached",
        ))
        .expect("restated");
        let error = ApiError::from(from_peer);
        assert_eq!(error.code(), Code::Internal);
    }

    #[test]
    fn an_oversized_request_is_resource_exhausted() {
        let tonic_says = Status::out_of_range(
            "Error, decoded message length too large: found 5242880 bytes, the limit is: 4194304 bytes",
        );
        let status = status_of(&restate(answer(tonic_says)));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("4194304 bytes"));
    }

    #[test]
    fn other_statuses_pass_unchanged() {
        for status in [
            Status::internal("internal error"),
            Status::out_of_range("page 9 is past the end"),
            Status::not_found("dashboard not found"),
        ] {
            let code = status.code();
            let message = status.message().to_owned();
            let after = status_of(&restate(answer(status)));
            assert_eq!((after.code(), after.message()), (code, message.as_str()));
        }
        let plain = restate(http::Response::new(()));
        assert!(Status::from_header_map(plain.headers()).is_none());
    }
}
