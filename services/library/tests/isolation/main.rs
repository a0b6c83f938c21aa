//! Tenancy (DESIGN.md section 3): viewers only read; an account never reads or changes
//! another family's assets, and a refusal never carries the data; a partner's admin
//! reaches its clients and nothing else.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod families;

use std::collections::HashMap;

use common::calls::{self, Asset, Call};
use common::{Library, dashboard_of, failure, json_source, klip_of, mask, refused, start, with};
use tonic::Code;
use trellis_platform::auth::{Identity, Role};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

/// One of each asset in `account`, named so that a leak is easy to spot.
struct Assets {
    source: pb::DataSource,
    klip: pb::Klip,
    dashboard: pb::Dashboard,
}

const SECRET: &str = "Confidential";

async fn assets(library: &Library, account: Uuid) -> Assets {
    let admin = tokens::admin(account);
    let source = library
        .data_source(
            &admin,
            json_source(
                None,
                &format!("{SECRET} feed"),
                "https://secret.example.com/{props.companyID}",
            ),
        )
        .await;
    let klip = library
        .klip(
            &admin,
            klip_of(None, &format!("{SECRET} Klip"), &["@0.a"], &[&source.id]),
        )
        .await;
    let dashboard = library
        .dashboard(
            &admin,
            dashboard_of(None, &format!("{SECRET} board"), &[&klip.id]),
        )
        .await;
    let mut client = library.client();
    let value = format!("{SECRET}-4711");
    client
        .set_company_property(with(&admin, calls::set_property("companyID", &value)))
        .await
        .expect("SetCompanyProperty");
    let default = format!("{SECRET}-2026");
    client
        .create_variable(with(&admin, calls::new_variable("year", &default)))
        .await
        .expect("CreateVariable");
    Assets {
        source,
        klip,
        dashboard,
    }
}

/// Every change a viewer of `account` might try on its assets `own`.
fn writes(own: &Assets) -> Vec<Call> {
    let mut writes: Vec<Call> = vec![
        pb::CreateDataSourceRequest {
            request_id: String::new(),
            data_source: Some(json_source(None, "x", "https://x.example.com/")),
        }
        .into(),
        pb::CreateKlipRequest {
            request_id: String::new(),
            klip: Some(klip_of(None, "x", &["1"], &[])),
        }
        .into(),
        pb::CreateDashboardRequest {
            request_id: String::new(),
            dashboard: Some(dashboard_of(None, "x", &[])),
        }
        .into(),
        pb::CreateVariableRequest {
            request_id: String::new(),
            variable: Some(pb::Variable {
                name: "x".into(),
                ..Default::default()
            }),
        }
        .into(),
        pb::UpdateVariableRequest {
            request_id: String::new(),
            variable: Some(pb::Variable {
                name: "year".into(),
                default_value: "x".into(),
                ..Default::default()
            }),
            update_mask: mask(&["default_value"]),
        }
        .into(),
        pb::DeleteVariableRequest {
            name: "year".into(),
            ..Default::default()
        }
        .into(),
        pb::SetCompanyPropertyRequest {
            request_id: String::new(),
            property: Some(pb::CompanyProperty {
                name: "companyID".into(),
                value: "x".into(),
                ..Default::default()
            }),
        }
        .into(),
        pb::DeleteCompanyPropertyRequest {
            name: "companyID".into(),
            ..Default::default()
        }
        .into(),
        pb::UpdateAccountRequest {
            request_id: String::new(),
            account: Some(pb::Account {
                display_name: "x".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        }
        .into(),
    ];
    for (asset, id) in own.ids() {
        writes.push(calls::rename(asset, id, "", "x"));
        writes.push(calls::delete(asset, id, ""));
    }
    writes
}

impl Assets {
    fn ids(&self) -> [(Asset, &str); 3] {
        [
            (Asset::DataSource, &self.source.id),
            (Asset::Klip, &self.klip.id),
            (Asset::Dashboard, &self.dashboard.id),
        ]
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_cannot_write() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let own = assets(&library, account).await;
    let viewer = tokens::viewer(account);
    let before = library.asset_rows(account).await;

    for call in writes(&own) {
        failure(
            call.send(&mut client, &viewer).await,
            Code::PermissionDenied,
        );
    }

    // Nothing changed; reading still works.
    assert_eq!(library.asset_rows(account).await, before);
    let still = library.get_klip(&viewer, &own.klip.id).await;
    assert_eq!(still, own.klip);
}
