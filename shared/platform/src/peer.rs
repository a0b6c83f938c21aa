//! Another service's errors, classified once: what waiting may fix, what the caller got
//! wrong, and what is a fault inside Trellis. A handler that calls a peer maps the peer's
//! status with [`upstream`], so a peer that is down is UNAVAILABLE to our caller, never an
//! INTERNAL of ours, and the caller's own mistakes keep their code and details.

use tonic::{Code, Status};

use crate::error::ApiError;

/// Whose fault a failed call to another service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerFault {
    /// The peer is down, overloaded, timed out or lost a race: try again later.
    Transient,
    /// The request was wrong (bad argument, unknown id, refused): trying again changes
    /// nothing, and the caller should hear why.
    Caller,
    /// A fault inside Trellis (a bug, a misconfigured service token): the caller cannot fix
    /// it; a saga may try again after it is fixed.
    Ours,
}

pub fn classify(status: &Status) -> PeerFault {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Cancelled => PeerFault::Transient,
        Code::Internal
        | Code::Unknown
        | Code::DataLoss
        | Code::Unimplemented
        | Code::Unauthenticated => PeerFault::Ours,
        Code::Ok
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::OutOfRange => PeerFault::Caller,
    }
}

/// Waiting may fix it.
pub fn is_transient(status: &Status) -> bool {
    classify(status) == PeerFault::Transient
}

/// Not the caller's mistake: a step that must eventually happen (a saga's) tries again.
pub fn is_retryable(status: &Status) -> bool {
    classify(status) != PeerFault::Caller
}

/// A failed call to `service` as this service's caller sees it: UNAVAILABLE for a peer that
/// is down or failing (logged here, once), the peer's code and details for the caller's
/// own mistakes.
pub fn upstream(service: &'static str) -> impl Fn(Status) -> ApiError {
    move |status| match classify(&status) {
        PeerFault::Caller => ApiError::from(status),
        fault => {
            tracing::warn!(service, ?fault, code = ?status.code(), message = status.message(), "peer call failed");
            ApiError::Unavailable(format!("the {service} service is unavailable; retry later"))
        }
    }
}

/// A failed call made with this service's own token rather than the caller's: nothing in it
/// is the caller's to fix, so every failure is UNAVAILABLE to our caller (logged here), and
/// the peer's text stays in our log.
pub fn on_our_behalf(service: &'static str) -> impl Fn(Status) -> ApiError {
    move |status| {
        tracing::warn!(service, fault = ?classify(&status), code = ?status.code(), message = status.message(), "peer call on our behalf failed");
        ApiError::Unavailable(format!("the {service} service is unavailable; retry later"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_class() {
        let class = |code| classify(&Status::new(code, "x"));
        assert_eq!(class(Code::Unavailable), PeerFault::Transient);
        assert_eq!(class(Code::DeadlineExceeded), PeerFault::Transient);
        assert_eq!(class(Code::Internal), PeerFault::Ours);
        assert_eq!(class(Code::Unauthenticated), PeerFault::Ours);
        assert_eq!(class(Code::NotFound), PeerFault::Caller);
        assert_eq!(class(Code::PermissionDenied), PeerFault::Caller);
        assert!(is_retryable(&Status::internal("x")));
        assert!(!is_transient(&Status::internal("x")));
        assert!(!is_retryable(&Status::invalid_argument("x")));
    }

    #[test]
    fn a_failing_peer_is_unavailable_and_a_callers_mistake_keeps_its_code() {
        let map = upstream("library");
        assert_eq!(map(Status::internal("boom")).code(), Code::Unavailable);
        assert_eq!(map(Status::not_found("no Klip")).code(), Code::NotFound);
        let ours = on_our_behalf("library");
        let refused = ours(Status::permission_denied("a policy row is missing"));
        assert_eq!(refused.code(), Code::Unavailable);
        assert!(!refused.to_string().contains("policy"), "{refused}");
    }
}
