//! The access matrix (DESIGN.md section 3): every RPC of every service, found in the
//! contracts' descriptor set, called as every kind of caller, each answer checked against
//! one table (`trellis_e2e::rpcs::ROWS`). An RPC added later without a row fails
//! `every_rpc_answers_every_caller_as_the_table_says`.
//!
//! The callers: no token; a viewer, editor and admin of the resource's own client account
//! (A); an agency admin (an admin of the partner, signed into A); an admin of A's sibling
//! client (B); an admin of another family (Q); a viewer of A whose token claims `admin`
//! (more than the membership); and each of Trellis's identities (`library`, `imports`,
//! `tokens`, `refresh`, `edge`, `operator`). Requests name A's own resources, so a refusal
//! of a sibling or a stranger is the tenant boundary at work.
//!
//! "Allowed" means the call got past authorization: any answer but PERMISSION_DENIED or
//! UNAUTHENTICATED (the request may still be refused for what it asks, e.g. NOT_FOUND for a
//! random id, which the table uses where creating the resource would need a third party).
//! "Denied" means PERMISSION_DENIED, or NOT_FOUND for another tenant (which leaks nothing).
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

use std::collections::HashMap;

use prost_reflect::DescriptorPool;
use tonic::Code;
use trellis_e2e::cluster::Cluster;
use trellis_e2e::reflect::ReflectionCaller;
use trellis_e2e::rpcs::{Cross, ROWS, Row, Users, service_kind};
use trellis_e2e::world::{Caller, build_world};
use trellis_platform::auth::Identity;
use trellis_platform::config::ServiceKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Unauthenticated,
    Denied,
    /// Denied with PERMISSION_DENIED: a member of the account without the role.
    RoleDenied,
    Allowed,
}

fn expectation(row: &Row, caller: Caller) -> Expect {
    let role_allows = |role: Caller| {
        matches!(
            (row.users, role),
            (Users::Read, _)
                | (
                    Users::Write,
                    Caller::Editor | Caller::Admin | Caller::AgencyAdmin
                )
                | (Users::Admin, Caller::Admin | Caller::AgencyAdmin)
                | (Users::Agency, Caller::AgencyAdmin)
        )
    };
    match caller {
        Caller::NoToken => Expect::Unauthenticated,
        Caller::Overreaching => Expect::RoleDenied,
        Caller::Stranger | Caller::Sibling => match (row.users, row.cross) {
            (Users::Nobody, _) => Expect::RoleDenied,
            (_, Cross::Own) => Expect::Allowed,
            (_, Cross::Denied) => Expect::Denied,
        },
        Caller::Viewer | Caller::Editor | Caller::Admin | Caller::AgencyAdmin => {
            if role_allows(caller) {
                Expect::Allowed
            } else {
                Expect::RoleDenied
            }
        }
        Caller::Service(identity) if row.services.contains(&identity) => Expect::Allowed,
        Caller::Service(_) => Expect::RoleDenied,
    }
}

fn matches(expect: Expect, code: Code) -> bool {
    match expect {
        Expect::Unauthenticated => code == Code::Unauthenticated,
        Expect::RoleDenied => code == Code::PermissionDenied,
        Expect::Denied => matches!(code, Code::PermissionDenied | Code::NotFound),
        Expect::Allowed => !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
    }
}

/// The order callers try a method: those that must be refused first, so that an allowed
/// change (a deletion) does not hide what a refusal would have shown.
fn callers(row: &Row) -> Vec<Caller> {
    let mut callers = vec![
        Caller::NoToken,
        Caller::Stranger,
        Caller::Sibling,
        Caller::Overreaching,
    ];
    let (allowed, denied): (Vec<Identity>, Vec<Identity>) = Identity::ALL
        .into_iter()
        .partition(|identity| row.services.contains(identity));
    callers.extend(denied.into_iter().map(Caller::Service));
    callers.extend([
        Caller::Viewer,
        Caller::Editor,
        Caller::Admin,
        Caller::AgencyAdmin,
    ]);
    callers.extend(allowed.into_iter().map(Caller::Service));
    callers
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_has_exactly_one_row() {
    let pool = DescriptorPool::decode(trellis_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut missing = Vec::new();
    let mut methods = 0;
    for service in pool.services() {
        for method in service.methods() {
            methods += 1;
            let rows = ROWS
                .iter()
                .filter(|r| r.service == service.full_name() && r.method == method.name())
                .count();
            if rows != 1 {
                missing.push(format!(
                    "{}/{} has {rows} rows",
                    service.full_name(),
                    method.name()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "every RPC needs one row:\n{}",
        missing.join("\n")
    );
    assert_eq!(
        ROWS.len(),
        methods,
        "a row names an RPC the contracts do not have"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let cluster = Cluster::start(&HashMap::new()).await;
    let world = build_world(&cluster).await;
    let mut callers_of: HashMap<ServiceKind, ReflectionCaller> = ServiceKind::ALL
        .into_iter()
        .map(|kind| (kind, ReflectionCaller::new(cluster.channel(kind))))
        .collect();
    let mut wrong = Vec::new();
    let mut calls = 0;
    for row in ROWS.iter() {
        let body = world.body(row.body);
        let caller_of = callers_of
            .get_mut(&service_kind(row.service))
            .expect("a caller per service");
        for caller in callers(row) {
            let expect = expectation(row, caller);
            let headers: Vec<(String, String)> = world
                .bearer(caller)
                .map(|bearer| vec![("authorization".to_owned(), format!("Bearer {bearer}"))])
                .unwrap_or_default();
            let method = format!("{}/{}", row.service, row.method);
            let code = match caller_of.call(&method, &body, &headers).await {
                Ok(_) => Code::Ok,
                Err(status) => status.code(),
            };
            calls += 1;
            if !matches(expect, code) {
                wrong.push(format!(
                    "{method} as {caller:?}: expected {expect:?}, got {code:?}"
                ));
            }
        }
    }
    println!("access matrix: {calls} calls over {} RPCs", ROWS.len());
    assert!(
        wrong.is_empty(),
        "{} answers differ from the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
