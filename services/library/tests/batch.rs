//! BatchGetAssets: many assets of any accounts read at once, for instance statuses (I11), by
//! the import service alone.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::{dashboard_of, failure, json_source, klip_of, start, violations, with};
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn asset(kind: pb::AssetKind, id: &str) -> pb::AssetRef {
    pb::AssetRef {
        kind: kind as i32,
        id: id.into(),
    }
}

/// The library with a partner "Agency", the token of its editor, and its data source "Sales".
async fn agency_with_sales() -> (common::Library, Uuid, String, pb::DataSource) {
    let library = start().await;
    let partner = library
        .account(pb::AccountKind::Partner, None, "Agency")
        .await;
    let editor = tokens::editor(partner);
    let sales = json_source(None, "Sales", "https://api.example.com/sales");
    let source = library.data_source(&editor, sales).await;
    (library, partner, editor, source)
}

#[tokio::test]
async fn returns_found_assets_of_several_accounts_and_lists_the_missing() {
    let (library, partner, editor, source) = agency_with_sales().await;
    let client = library
        .account(pb::AccountKind::Client, Some(partner), "Client")
        .await;
    let other = library
        .data_source(
            &editor,
            json_source(None, "Costs", "https://api.example.com/costs"),
        )
        .await;
    let klip = library
        .klip(
            &editor,
            klip_of(
                None,
                "Margin",
                &["SUM(@0.a) - SUM(@1.a)"],
                &[&source.id, &other.id],
            ),
        )
        .await;
    let client_editor = tokens::editor(client);
    let dashboard = library
        .dashboard(&client_editor, dashboard_of(None, "Overview", &[]))
        .await;
    let absent = Uuid::now_v7().to_string();

    let response = library
        .client()
        .batch_get_assets(with(
            &tokens::service_as(Identity::Imports),
            pb::BatchGetAssetsRequest {
                assets: vec![
                    asset(pb::AssetKind::Klip, &klip.id),
                    asset(pb::AssetKind::DataSource, &source.id),
                    asset(pb::AssetKind::Klip, &absent),
                    asset(pb::AssetKind::Dashboard, &dashboard.id),
                    // A data source's id asked as a dashboard does not exist.
                    asset(pb::AssetKind::Dashboard, &other.id),
                ],
            },
        ))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(response.assets.len(), 3);
    let found_klip = &response.assets[0];
    assert_eq!(found_klip.asset, Some(asset(pb::AssetKind::Klip, &klip.id)));
    assert_eq!(found_klip.account_id, partner.to_string());
    assert_eq!(found_klip.version, klip.version);
    assert_eq!(
        found_klip.data_source_ids,
        vec![source.id.clone(), other.id.clone()]
    );
    assert!(found_klip.fingerprint.is_empty());

    let found_source = &response.assets[1];
    assert_eq!(
        found_source.asset,
        Some(asset(pb::AssetKind::DataSource, &source.id))
    );
    assert_eq!(found_source.account_id, partner.to_string());
    assert_eq!(found_source.version, source.version);
    assert_eq!(found_source.fingerprint, source.fingerprint);
    assert!(found_source.data_source_ids.is_empty());

    let found_dashboard = &response.assets[2];
    assert_eq!(found_dashboard.account_id, client.to_string());
    assert_eq!(found_dashboard.version, dashboard.version);

    assert_eq!(
        response.missing,
        vec![
            asset(pb::AssetKind::Klip, &absent),
            asset(pb::AssetKind::Dashboard, &other.id),
        ]
    );
}

#[tokio::test]
async fn refuses_callers_other_than_the_import_service() {
    let (library, partner, editor, source) = agency_with_sales().await;
    // Members, and operators too: instance statuses are the import service's to read.
    for token in [tokens::admin(partner), editor.clone(), tokens::service()] {
        failure(
            library
                .client()
                .batch_get_assets(with(
                    &token,
                    pb::BatchGetAssetsRequest {
                        assets: vec![asset(pb::AssetKind::DataSource, &source.id)],
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
    }
}

#[tokio::test]
async fn refuses_more_than_1000_assets() {
    let library = start().await;
    let assets: Vec<pb::AssetRef> = (0..1001)
        .map(|_| asset(pb::AssetKind::Klip, &Uuid::now_v7().to_string()))
        .collect();
    let found = violations(
        library
            .client()
            .batch_get_assets(with(
                &tokens::service_as(Identity::Imports),
                pb::BatchGetAssetsRequest { assets },
            ))
            .await,
    );
    assert!(
        found.iter().any(|(field, _)| field == "assets"),
        "{found:?}"
    );

    let assets: Vec<pb::AssetRef> = (0..1000)
        .map(|_| asset(pb::AssetKind::Klip, &Uuid::now_v7().to_string()))
        .collect();
    let response = library
        .client()
        .batch_get_assets(with(
            &tokens::service_as(Identity::Imports),
            pb::BatchGetAssetsRequest { assets },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(response.assets.is_empty());
    assert_eq!(response.missing.len(), 1000);
}
