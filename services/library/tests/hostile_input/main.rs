//! Bad input is INVALID_ARGUMENT with a field violation: never INTERNAL, never a panic,
//! never half-written. `strings`: NUL and control characters in any RPC's strings;
//! `layouts`: how deep a layout may nest.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod layouts;
mod strings;

use common::{json_source, klip_of, start_admin, violations, with};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_is_an_invalid_argument_never_internal() {
    let (library, mut client, account, admin) = start_admin().await;

    let nul_value = client
        .set_company_property(with(&admin, common::calls::set_property("p", "a\0b")))
        .await;
    assert_eq!(violations(nul_value)[0].0, "property.value");

    let nul_description = client
        .create_variable(with(
            &admin,
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "v".into(),
                    description: "\0".into(),
                    ..Default::default()
                }),
            },
        ))
        .await;
    assert_eq!(violations(nul_description)[0].0, "variable.description");

    let mut nul_body = json_source(None, "s", "https://api.example.com/");
    let request = nul_body.request.as_mut().unwrap();
    request.method = pb::HttpMethod::Post as i32;
    request.body = "{\"a\": \"\0\"}".into();
    let body = client
        .create_data_source(with(
            &admin,
            pb::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(nul_body),
            },
        ))
        .await;
    assert_eq!(violations(body)[0].0, "data_source.request.body");

    let mut negative = json_source(None, "s", "https://api.example.com/");
    negative.refresh_interval = Some(prost_types::Duration {
        seconds: -60,
        nanos: -5,
    });
    negative.format = 99;
    let found = violations(
        client
            .create_data_source(with(
                &admin,
                pb::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(negative),
                },
            ))
            .await,
    );
    let fields: Vec<_> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["data_source.format", "data_source.refresh_interval"]
    );

    let mut odd_klip = klip_of(None, "k", &["\"a\0b\"", "1"], &[]);
    odd_klip.components[1].name = "tab\u{7}".into();
    let found = violations(
        client
            .create_klip(with(
                &admin,
                pb::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(odd_klip),
                },
            ))
            .await,
    );
    let fields: Vec<_> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["klip.components[0].formula", "klip.components[1].name"]
    );

    let long_variable = format!("$v{}", "x".repeat(80));
    let found = violations(
        client
            .create_klip(with(
                &admin,
                pb::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(klip_of(None, "k", &[&long_variable], &[])),
                },
            ))
            .await,
    );
    assert_eq!(found[0].0, "klip.components[0].formula");

    let layout = prost_types::Struct {
        fields: [(
            "key\0".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::BoolValue(true)),
            },
        )]
        .into(),
    };
    let board = client
        .create_dashboard(with(
            &admin,
            pb::CreateDashboardRequest {
                request_id: String::new(),
                dashboard: Some(pb::Dashboard {
                    name: "d".into(),
                    layout: Some(layout),
                    ..Default::default()
                }),
            },
        ))
        .await;
    assert_eq!(violations(board)[0].0, "dashboard.layout");

    let user = client
        .resolve_properties(with(
            &tokens::service(),
            pb::ResolvePropertiesRequest {
                account_id: account.to_string(),
                user_id: "u\0".into(),
                names: vec![],
            },
        ))
        .await;
    assert_eq!(violations(user)[0].0, "user_id");

    // Page tokens this service never issued: "a\0b" and "zzz", base64url.
    let (bad_nul, bad_zzz) = ("YQBi".to_owned(), "enp6".to_owned());
    let properties = pb::ListCompanyPropertiesRequest {
        page_token: bad_nul,
        ..Default::default()
    };
    let properties = client
        .list_company_properties(with(&admin, properties))
        .await;
    let sources = pb::ListDataSourcesRequest {
        page_token: bad_zzz,
        ..Default::default()
    };
    let sources = client.list_data_sources(with(&admin, sources)).await;
    for fields in [violations(properties), violations(sources)] {
        assert_eq!(fields[0].0, "page_token");
    }

    let closure = client
        .get_dependency_closure(with(
            &admin,
            pb::GetDependencyClosureRequest {
                account_id: String::new(),
                assets: vec![pb::AssetRef {
                    kind: 42,
                    id: "nope".into(),
                }],
            },
        ))
        .await;
    let fields: Vec<_> = violations(closure).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["assets[0].kind", "assets[0].id"]);

    let ids = client
        .get_klip(with(
            &admin,
            pb::GetKlipRequest {
                id: "'; DROP TABLE klips; --".into(),
                account_id: String::new(),
            },
        ))
        .await;
    assert_eq!(violations(ids)[0].0, "id");
    let long_request_id = client
        .create_variable(with(
            &admin,
            pb::CreateVariableRequest {
                request_id: "r".repeat(129),
                variable: Some(pb::Variable {
                    name: "v".into(),
                    ..Default::default()
                }),
            },
        ))
        .await;
    assert_eq!(violations(long_request_id)[0].0, "request_id");

    assert_eq!(library.asset_rows(account).await, [0; 5]);
    assert_eq!(library.count("variables", "account_id", account).await, 0);
    assert_eq!(
        library
            .count("company_properties", "account_id", account)
            .await,
        0
    );
}
