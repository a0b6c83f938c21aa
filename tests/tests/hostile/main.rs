//! The hostile suite: every RPC, found through the servers' reflection, called with its
//! request from the RPC table spoiled one field at a time, as each kind of caller. Every
//! field of the request, and of the messages inside it, gets the values an attacker tries:
//! NUL and control bytes, 100,000-character strings, ids of other tenants, integer and
//! duration extremes, unknown enum values, 10,000-element lists and maps, JSON nested past
//! every decoder's limit; each request also once as 5 MiB.
//!
//! A caller's mistake must come back as a caller's mistake: no answer may be INTERNAL,
//! UNKNOWN, CANCELLED or DATA_LOSS, an oversized request is RESOURCE_EXHAUSTED, and no
//! service may panic (each process's log is read at the end). [`target`] points the suite
//! at a Trellis that is already running instead.
//!
//! `spoil` makes the variants; this file sends them and judges the answers.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod spoil;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::Code;
use trellis_e2e::cluster::Cluster;
use trellis_e2e::reflect::ReflectionCaller;
use trellis_e2e::rpcs::{ROWS, service_kind};
use trellis_e2e::world::{Caller, build_world_on};
use trellis_platform::auth::Identity;
use trellis_platform::client;
use trellis_platform::config::ServiceKind;
use trellis_testkit::process::ServiceProcess;

use spoil::{OVERSIZED_HOW, Variant, variants};

/// The callers of every variant: each role in the account, an agency admin, a stranger and
/// the operator.
const CALLERS: [Caller; 6] = [
    Caller::Viewer,
    Caller::Editor,
    Caller::Admin,
    Caller::AgencyAdmin,
    Caller::Stranger,
    Caller::Service(Identity::Operator),
];

/// What was wrong with one answer, if anything.
fn complaint(variant: &Variant, code: Code) -> Option<&'static str> {
    if matches!(
        code,
        Code::Internal | Code::Unknown | Code::Cancelled | Code::DataLoss
    ) {
        return Some("a caller's mistake answered as a fault");
    }
    // The gate refuses a caller before the request is read; past it, size is the answer.
    let refused_at_the_gate = matches!(code, Code::PermissionDenied | Code::Unauthenticated);
    (variant.how == OVERSIZED_HOW && code != Code::ResourceExhausted && !refused_at_the_gate)
        .then_some("an oversized request not RESOURCE_EXHAUSTED")
}

/// Where the suite runs: a cluster of its own, or, with `TRELLIS_HOSTILE_AGAINST=<host>`, a
/// Trellis already running there on the default ports (`make run` started with
/// `TRELLIS_JWT_SECRET=trellis-test-secret`), whose logs are then read by hand.
fn target() -> Option<String> {
    std::env::var("TRELLIS_HOSTILE_AGAINST")
        .ok()
        .filter(|host| !host.is_empty())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_hostile_request_is_answered_as_a_fault_or_panics_a_service() {
    let running = target();
    let cluster = match running {
        Some(_) => None,
        None => Some(Cluster::start(&HashMap::new()).await),
    };
    let channel = |kind: ServiceKind| match (&cluster, &running) {
        (Some(cluster), _) => cluster.channel(kind),
        (None, Some(host)) => {
            client::channel(&format!("http://{host}:{}", kind.default_port())).expect("a channel")
        }
        (None, None) => unreachable!("a cluster or a host"),
    };
    let world = Arc::new(build_world_on(channel).await);
    let mut callers_of: HashMap<ServiceKind, ReflectionCaller> = ServiceKind::ALL
        .into_iter()
        .map(|kind| (kind, ReflectionCaller::new(channel(kind))))
        .collect();

    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut calls = 0;
    for row in ROWS.iter() {
        let method_name = format!("{}/{}", row.service, row.method);
        let caller_of = callers_of
            .get_mut(&service_kind(row.service))
            .expect("a caller per service");
        let method: MethodDescriptor = caller_of
            .descriptor(&method_name)
            .await
            .unwrap_or_else(|status| panic!("reflection describes {method_name}: {status}"));
        let body = world.body(row.body);
        let base = DynamicMessage::deserialize(
            method.input(),
            &mut serde_json::Deserializer::from_str(&body),
        )
        .unwrap_or_else(|error| panic!("the table's request of {method_name}: {error}"));
        let caller_of = &*caller_of;
        let world = &world;
        let method = &method;
        let answers: Vec<(Arc<Variant>, Caller, Code, String)> =
            futures::stream::iter(variants(&base, world).into_iter().flat_map(|variant| {
                let variant = Arc::new(variant);
                CALLERS.map(move |caller| (Arc::clone(&variant), caller))
            }))
            .map(|(variant, caller)| async move {
                let headers: Vec<(String, String)> = world
                    .bearer(caller)
                    .map(|bearer| vec![("authorization".to_owned(), format!("Bearer {bearer}"))])
                    .unwrap_or_default();
                let (code, message) = match caller_of
                    .call_message(method, variant.message.clone(), &headers)
                    .await
                {
                    Ok(_) => (Code::Ok, String::new()),
                    Err(status) => (status.code(), status.message().to_owned()),
                };
                (variant, caller, code, message)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for (variant, caller, code, message) in answers {
            calls += 1;
            *codes.entry(format!("{code:?}")).or_default() += 1;
            if let Some(problem) = complaint(&variant, code) {
                let message: String = message.chars().take(200).collect();
                wrong.push(format!(
                    "{method_name} {} = {} as {caller:?}: {problem}: {code:?} {message}",
                    variant.field, variant.how
                ));
            }
        }
    }

    let processes: Vec<(&str, &ServiceProcess)> = cluster
        .as_ref()
        .map(|cluster| {
            vec![
                ("library", &cluster.library),
                ("imports", &cluster.imports),
                ("tokens", &cluster.tokens),
                ("refresh", &cluster.refresh),
            ]
        })
        .unwrap_or_default();
    let named = |lines: fn(&ServiceProcess) -> Vec<String>| -> Vec<String> {
        processes
            .iter()
            .flat_map(|(name, process)| {
                lines(process)
                    .into_iter()
                    .map(move |line| format!("{name}: {line}"))
            })
            .collect()
    };
    let mut errors = named(|process| {
        process
            .log()
            .into_iter()
            .filter(|line| line.contains("\"level\":\"ERROR\""))
            .collect()
    });
    errors.truncate(40);
    let panics = named(ServiceProcess::panics);
    println!(
        "hostile suite: {calls} calls over {} RPCs; answers: {codes:?}",
        ROWS.len()
    );
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "{} hostile requests were answered wrongly:\n{}\nthe services' ERROR lines:\n{}",
        wrong.len(),
        wrong.join("\n"),
        errors.join("\n")
    );
    assert!(
        panics.is_empty(),
        "services panicked:\n{}",
        panics.join("\n")
    );
}
