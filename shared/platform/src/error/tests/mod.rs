//! What each error answers: its gRPC code, message and `google.rpc` details, within the
//! bounds of an answer's headers.

mod store;

use std::time::Duration;

use tonic_types::{ErrorDetails, StatusExt};

use super::*;

/// The bytes an answer's status takes in HTTP/2 headers.
fn header_bytes(status: &Status) -> usize {
    let mut headers = http::HeaderMap::new();
    status.add_header(&mut headers).expect("headers");
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum()
}

/// The answer to `error`: its code, message and details.
fn answer(error: ApiError) -> (Code, String, ErrorDetails) {
    let status = Status::from(error);
    (
        status.code(),
        status.message().to_owned(),
        status.get_error_details(),
    )
}

/// Which details an answer carries besides `ErrorInfo`, by name.
fn detail_kinds(details: &ErrorDetails) -> Vec<&'static str> {
    [
        ("BadRequest", details.bad_request().is_some()),
        ("ResourceInfo", details.resource_info().is_some()),
        (
            "PreconditionFailure",
            details.precondition_failure().is_some(),
        ),
        ("RetryInfo", details.retry_info().is_some()),
        ("DebugInfo", details.debug_info().is_some()),
        ("QuotaFailure", details.quota_failure().is_some()),
        ("Help", details.help().is_some()),
        ("LocalizedMessage", details.localized_message().is_some()),
        ("RequestInfo", details.request_info().is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect()
}

#[test]
fn every_error_has_its_code_its_reason_and_only_its_details() {
    let cases = [
        (
            ApiError::invalid("name", "required"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            &["BadRequest"][..],
        ),
        (
            ApiError::not_found("klip", 7),
            Code::NotFound,
            "NOT_FOUND",
            &["ResourceInfo"],
        ),
        (
            ApiError::AlreadyExists {
                resource: "klip",
                id: "Sales".into(),
            },
            Code::AlreadyExists,
            "ALREADY_EXISTS",
            &["ResourceInfo"],
        ),
        (
            ApiError::PermissionDenied("no".into()),
            Code::PermissionDenied,
            "PERMISSION_DENIED",
            &[],
        ),
        (
            ApiError::Unauthenticated("who".into()),
            Code::Unauthenticated,
            "UNAUTHENTICATED",
            &[],
        ),
        (
            ApiError::precondition("ETAG", "klips/1", "changed"),
            Code::FailedPrecondition,
            "FAILED_PRECONDITION",
            &["PreconditionFailure"],
        ),
        (
            ApiError::Aborted("again".into()),
            Code::Aborted,
            "ABORTED",
            &[],
        ),
        (
            ApiError::ResourceExhausted {
                message: "slow down".into(),
                retry_after: Some(Duration::from_secs(3)),
            },
            Code::ResourceExhausted,
            "RESOURCE_EXHAUSTED",
            &["RetryInfo"],
        ),
        (
            ApiError::ResourceExhausted {
                message: "quota".into(),
                retry_after: None,
            },
            Code::ResourceExhausted,
            "RESOURCE_EXHAUSTED",
            &[],
        ),
        (
            ApiError::Unavailable("later".into()),
            Code::Unavailable,
            "UNAVAILABLE",
            &[],
        ),
        (
            ApiError::internal(anyhow::anyhow!("disk full")),
            Code::Internal,
            "INTERNAL",
            &[],
        ),
    ];
    for (error, code, reason, kinds) in cases {
        let described = format!("{error:?}");
        assert_eq!(error.code(), code, "{described}");
        let (answered, _, details) = answer(error);
        assert_eq!(answered, code, "{described}");
        let info = details.error_info().expect("every answer has an ErrorInfo");
        assert_eq!(info.reason, reason, "{described}");
        assert_eq!(info.domain, ERROR_DOMAIN, "{described}");
        assert!(info.metadata.is_empty(), "{described}");
        assert_eq!(detail_kinds(&details), kinds, "{described}");
    }
}

#[test]
fn details_carry_what_the_caller_can_act_on() {
    let mut violations = Violations::new();
    violations.add("name", "required");
    violations.check(false, "scopes[2]", "must not be empty");
    violations.check(true, "ignored", "never added");
    let (_, message, details) = answer(violations.into_result().expect_err("invalid"));
    assert_eq!(
        message,
        "invalid argument: name: required; scopes[2]: must not be empty"
    );
    let fields: Vec<_> = details
        .bad_request()
        .expect("BadRequest")
        .field_violations
        .iter()
        .map(|v| (v.field.as_str(), v.description.as_str()))
        .collect();
    assert_eq!(
        fields,
        [("name", "required"), ("scopes[2]", "must not be empty")]
    );

    let (_, message, details) = answer(ApiError::not_found("klip", "k-1"));
    assert_eq!(message, "klip k-1 not found");
    let resource = details.resource_info().expect("ResourceInfo");
    assert_eq!(
        (
            resource.resource_type.as_str(),
            resource.resource_name.as_str(),
            resource.owner.as_str(),
            resource.description.as_str()
        ),
        ("klip", "k-1", "", "not found")
    );

    let (_, message, details) = answer(ApiError::AlreadyExists {
        resource: "variable",
        id: "rate".into(),
    });
    assert_eq!(message, "variable rate already exists");
    let resource = details.resource_info().expect("ResourceInfo");
    assert_eq!(resource.description, "already exists");

    let (_, message, details) = answer(ApiError::precondition("ETAG", "", "the klip changed"));
    assert_eq!(message, "failed precondition: ETAG: the klip changed");
    let violation = &details
        .precondition_failure()
        .expect("PreconditionFailure")
        .violations[0];
    assert_eq!(
        (
            violation.r#type.as_str(),
            violation.subject.as_str(),
            violation.description.as_str()
        ),
        ("ETAG", "", "the klip changed")
    );

    let (_, message, details) = answer(ApiError::ResourceExhausted {
        message: "too many calls".into(),
        retry_after: Some(Duration::from_millis(1500)),
    });
    assert_eq!(message, "too many calls");
    assert_eq!(
        details.retry_info().expect("RetryInfo").retry_delay,
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn an_internal_error_answers_nothing_of_its_cause() {
    let cause = anyhow::anyhow!("password=hunter2 in SELECT * FROM secrets");
    let (code, message, details) = answer(ApiError::internal(cause));
    assert_eq!((code, message.as_str()), (Code::Internal, "internal error"));
    assert!(!format!("{details:?}").contains("hunter2"), "{details:?}");
}

#[test]
fn an_answer_echoing_a_huge_value_still_fits_in_headers() {
    let huge = "\u{1F600}".repeat(100_000);
    let cases = [
        ApiError::not_found("embed", &huge),
        ApiError::invalid(huge.clone(), huge.clone()),
        ApiError::precondition(huge.clone(), huge.clone(), huge.clone()),
        ApiError::PermissionDenied(huge.clone()),
    ];
    for error in cases {
        let status = Status::from(error);
        assert!(
            header_bytes(&status) < 8 * 1024,
            "{} bytes",
            header_bytes(&status)
        );
        assert!(status.message().contains('…'), "{}", status.message());
        assert!(status.message().len() <= MAX_ANSWER_TEXT);
    }
}

#[test]
fn every_part_of_an_answer_is_cut_to_its_bound() {
    let long = "x".repeat(10 * MAX_ANSWER_TEXT);
    let (_, message, _) = answer(ApiError::PermissionDenied(long.clone()));
    assert_eq!(message.len(), MAX_ANSWER_TEXT);
    assert!(message.ends_with('…'), "{message}");
    let (_, message, details) = answer(ApiError::invalid(long.clone(), long.clone()));
    assert!(message.len() <= MAX_ANSWER_TEXT, "{}", message.len());
    let violation = &details.bad_request().expect("BadRequest").field_violations[0];
    assert!(
        violation.field.len() <= bounds::MAX_ECHOED_ID,
        "{}",
        violation.field.len()
    );
    assert!(violation.description.len() <= MAX_ANSWER_TEXT / 4);

    let (_, _, details) = answer(ApiError::AlreadyExists {
        resource: "klip",
        id: long.clone(),
    });
    let name = &details.resource_info().expect("ResourceInfo").resource_name;
    assert!(
        name.len() <= bounds::MAX_ECHOED_ID && name.ends_with('…'),
        "{name}"
    );

    let many = (0..MAX_REPORTED_VIOLATIONS + 5)
        .map(|i| PreconditionViolation::new("STATE", format!("jobs/{i}"), "running"))
        .collect();
    let (_, _, details) = answer(ApiError::FailedPrecondition(many));
    let reported = &details
        .precondition_failure()
        .expect("PreconditionFailure")
        .violations;
    assert_eq!(reported.len(), MAX_REPORTED_VIOLATIONS);
}

#[test]
fn many_violations_are_reported_up_to_a_bound_with_a_count_of_the_rest() {
    let mut violations = Violations::new();
    for i in 0..10_000 {
        violations.add(format!("scopes[{i}]"), "must not contain a NUL byte");
    }
    let status = Status::from(violations.into_result().expect_err("invalid"));
    let details = status.get_error_details();
    let reported = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(reported.len(), MAX_REPORTED_VIOLATIONS + 1);
    assert_eq!(
        reported.last().expect("a count").description,
        format!("and {} more violations", 10_000 - MAX_REPORTED_VIOLATIONS)
    );
    assert!(header_bytes(&status) < 8 * 1024);

    let mut exactly = Violations::new();
    for i in 0..MAX_REPORTED_VIOLATIONS {
        exactly.add(format!("ids[{i}]"), "not a UUID");
    }
    let (_, _, details) = answer(exactly.into_result().expect_err("invalid"));
    let reported = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(
        reported.len(),
        MAX_REPORTED_VIOLATIONS,
        "no count when none is left out"
    );
    assert!(Violations::new().into_result().is_ok());
}

#[test]
fn a_message_names_its_reason_and_no_constraint() {
    let status = Status::from(ApiError::precondition(
        "PLAN_EXECUTED",
        "plan 1",
        "the plan was executed",
    ));
    assert_eq!(
        status.message(),
        "failed precondition: PLAN_EXECUTED: the plan was executed (plan 1)"
    );
    let status = Status::from(ApiError::from(StoreError::UniqueViolation {
        constraint: "klips_account_id_name_key".into(),
    }));
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(!status.message().contains("klips_"), "{}", status.message());
    let details = status.get_error_details();
    assert!(
        !format!("{details:?}").contains("klips_"),
        "no constraint in the details: {details:?}"
    );
}

#[test]
fn truncation_keeps_characters_whole() {
    assert_eq!(truncated("abc", 3), "abc");
    let cut = truncated("ééééé", 6);
    assert!(cut.len() <= 6 && cut.ends_with('…'), "{cut}");
}

#[test]
fn a_peers_answer_keeps_the_callers_codes_and_hides_the_rest() {
    let cases = [
        (Status::invalid_argument("bad"), Code::InvalidArgument),
        (Status::not_found("gone"), Code::NotFound),
        (Status::permission_denied("no"), Code::PermissionDenied),
        (Status::unauthenticated("who"), Code::Unauthenticated),
        (
            Status::failed_precondition("state"),
            Code::FailedPrecondition,
        ),
        (Status::aborted("again"), Code::Aborted),
        (Status::unavailable("down"), Code::Unavailable),
        (Status::deadline_exceeded("slow"), Code::Unavailable),
        (Status::internal("bug"), Code::Internal),
        (Status::unknown("what"), Code::Internal),
    ];
    for (status, code) in cases {
        let described = format!("{status:?}");
        assert_eq!(ApiError::from(status).code(), code, "{described}");
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(crate::wire::REQUEST_UNDECODABLE, ERROR_DOMAIN, []);
    let undecodable = Status::with_error_details(Code::InvalidArgument, "bad bytes", details);
    assert_eq!(
        ApiError::from(undecodable).code(),
        Code::Internal,
        "our request was at fault"
    );
}
