//! ApplyKlipDefinitions (I9) and ApplyDataSourceDefinitions: master definitions written
//! over instances in one transaction, ids kept, an outcome per item, idempotent.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use std::collections::HashMap;

use common::registry::start_with_tokens;
use common::{Library, auth_credential, failure, json_source, klip_of, start, with};
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

/// Clones `assets` of `source` into `destination`; returns source id → destination id.
async fn import(
    library: &Library,
    source: Uuid,
    destination: Uuid,
    assets: &[(pb::AssetKind, &str)],
) -> HashMap<String, String> {
    let request = pb::CloneAssetsRequest {
        request_id: format!("import-{destination}"),
        source_account_id: source.to_string(),
        destination_account_id: destination.to_string(),
        assets: assets
            .iter()
            .map(|(kind, id)| pb::AssetRef {
                kind: *kind as i32,
                id: (*id).into(),
            })
            .collect(),
        reuse_ids: HashMap::new(),
    };
    library
        .client()
        .clone_assets(with(&tokens::service_as(Identity::Imports), request))
        .await
        .expect("CloneAssets")
        .into_inner()
        .mappings
        .into_iter()
        .map(|m| (m.source_id, m.destination_id))
        .collect()
}

async fn klip(library: &Library, account: Uuid, id: &str) -> pb::Klip {
    library
        .client()
        .get_klip(with(
            &tokens::service(),
            pb::GetKlipRequest {
                id: id.into(),
                account_id: account.to_string(),
            },
        ))
        .await
        .expect("GetKlip")
        .into_inner()
        .klip
        .expect("a Klip")
}

#[tokio::test(flavor = "multi_thread")]
async fn klip_definitions_overwrite_instances_keeping_ids_with_an_outcome_each() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let rival = library.standard().await;
    let editor = tokens::editor(family.partner);
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;
    let master = library
        .klip(
            &editor,
            klip_of(None, "Revenue", &["SUM(@0.amount)"], &[&source.id]),
        )
        .await;
    let assets = [
        (pb::AssetKind::DataSource, source.id.as_str()),
        (pb::AssetKind::Klip, master.id.as_str()),
    ];
    let in_a = import(&library, family.partner, family.client_a, &assets).await;
    let in_b = import(&library, family.partner, family.client_b, &assets).await;
    let rival_source = library
        .data_source(
            &tokens::editor(rival),
            json_source(None, "r", "https://rival.example.com/"),
        )
        .await;
    let stale_etag = klip(&library, family.client_b, &in_b[&master.id])
        .await
        .etag;
    // Client B edited its instance locally; its etag moved on.
    client
        .update_klip(with(
            &tokens::editor(family.client_b),
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(pb::Klip {
                    id: in_b[&master.id].clone(),
                    name: "Local edit".into(),
                    ..Default::default()
                }),
                update_mask: common::mask(&["name"]),
            },
        ))
        .await
        .unwrap();

    let definition =
        |klip_id: &str, account: Uuid, binding: &str, etag: &str| pb::KlipDefinitionUpdate {
            klip_id: klip_id.into(),
            account_id: account.to_string(),
            name: "Revenue v2".into(),
            components: vec![pb::Component {
                name: "total".into(),
                formula: "SUM(@0.amount) * $fx".into(),
            }],
            bindings: vec![pb::Binding {
                data_source_id: binding.into(),
            }],
            etag: etag.into(),
        };
    let request = pb::ApplyKlipDefinitionsRequest {
        request_id: "update-1".into(),
        updates: vec![
            definition(&in_a[&master.id], family.client_a, &in_a[&source.id], ""),
            definition(
                &in_b[&master.id],
                family.client_b,
                &in_b[&source.id],
                &stale_etag,
            ),
            definition(
                &Uuid::now_v7().to_string(),
                family.client_a,
                &in_a[&source.id],
                "",
            ),
            definition(&in_a[&master.id], family.client_a, &rival_source.id, ""),
        ],
        variable_defaults: [("fx".to_owned(), "1.1".to_owned())].into(),
    };

    // The import service's step alone: neither a partner's admin nor an operator.
    for token in [tokens::admin(family.partner), tokens::service()] {
        failure(
            client
                .apply_klip_definitions(with(&token, request.clone()))
                .await,
            Code::PermissionDenied,
        );
    }
    let imports = tokens::service_as(Identity::Imports);
    let applied = client
        .apply_klip_definitions(with(&imports, request.clone()))
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<i32> = applied.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            pb::ApplyOutcome::Applied,
            pb::ApplyOutcome::EtagMismatch,
            pb::ApplyOutcome::NotFound,
            pb::ApplyOutcome::Invalid,
        ]
        .map(|o| o as i32)
    );
    assert_eq!(applied.results[0].variables_created, ["fx"]);
    assert_eq!(applied.results[0].version, 2);
    assert!(
        applied.results[3].error.contains("bindings[0]"),
        "{}",
        applied.results[3].error
    );
    assert!(!applied.results[3].error.contains("rival.example.com"));

    // The instance keeps its id, now with the master's definition; B kept its local edit.
    let instance_a = klip(&library, family.client_a, &in_a[&master.id]).await;
    assert_eq!(instance_a.name, "Revenue v2");
    assert_eq!(instance_a.variables, ["fx"]);
    assert_eq!(instance_a.bindings[0].data_source_id, in_a[&source.id]);
    assert_eq!(instance_a.etag, applied.results[0].etag);
    assert_eq!(
        klip(&library, family.client_b, &in_b[&master.id])
            .await
            .name,
        "Local edit"
    );
    let fx = client
        .get_variable(with(
            &tokens::viewer(family.client_a),
            pb::GetVariableRequest {
                account_id: String::new(),
                name: "fx".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(fx.default_value, "1.1");

    // The same request id replays; a new one finds nothing left to change.
    let replayed = client
        .apply_klip_definitions(with(&imports, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(replayed.replayed);
    assert_eq!(replayed.results, applied.results);
    assert_eq!(
        klip(&library, family.client_a, &in_a[&master.id])
            .await
            .version,
        2
    );
    let mut again = request;
    again.request_id = "update-2".into();
    again.updates.truncate(1);
    let unchanged = client
        .apply_klip_definitions(with(&imports, again))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        unchanged.results[0].outcome,
        pb::ApplyOutcome::Unchanged as i32
    );
    assert_eq!(unchanged.results[0].version, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn data_source_definitions_are_applied_keeping_the_instance_auth() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let imports = tokens::service_as(Identity::Imports);
    let credential = library.credential(family.partner).await;
    let mut master = json_source(None, "Feed", "https://api.example.com/v1");
    master.auth = auth_credential(credential);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let in_a = import(
        &library,
        family.partner,
        family.client_a,
        &[(pb::AssetKind::DataSource, master.id.as_str())],
    )
    .await;
    let instance_id = in_a[&master.id].clone();
    // The import service points the instance at its own credential copy (I5).
    let copy = library
        .copy_credential(
            credential,
            family.partner,
            family.client_a,
            &instance_id,
            &master.fingerprint,
        )
        .await;
    let repointed = client
        .update_data_source(with(
            &imports,
            pb::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(pb::DataSource {
                    id: instance_id.clone(),
                    account_id: family.client_a.to_string(),
                    auth: auth_credential(copy),
                    ..Default::default()
                }),
                update_mask: common::mask(&["auth"]),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(
        repointed.fingerprint, master.fingerprint,
        "I10: not a data-source change"
    );

    let update = |url: &str| pb::DataSourceDefinitionUpdate {
        data_source_id: instance_id.clone(),
        account_id: family.client_a.to_string(),
        name: "Feed".into(),
        request: json_source(None, "Feed", url).request,
        format: pb::DataFormat::Json as i32,
        refresh_interval: None,
        rate_limit_key: String::new(),
        etag: String::new(),
        ..Default::default()
    };
    let applied = client
        .apply_data_source_definitions(with(
            &imports,
            pb::ApplyDataSourceDefinitionsRequest {
                request_id: "push-1".into(),
                updates: vec![
                    update("https://api.example.com/v2?c={props.companyID}&r={props.region}"),
                    update("ftp://nope"),
                ],
                variable_defaults: [("region".to_owned(), "eu".to_owned())].into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applied.results[0].outcome, pb::ApplyOutcome::Applied as i32);
    assert_ne!(applied.results[0].fingerprint, master.fingerprint);
    // Only the master's variables are created; companyID is the client's company property.
    assert_eq!(applied.results[0].variables_created, ["region"]);
    assert_eq!(applied.results[1].outcome, pb::ApplyOutcome::Invalid as i32);
    assert!(applied.results[1].error.contains("request.url"));

    let instance = library
        .get_data_source(&tokens::viewer(family.client_a), &instance_id)
        .await;
    assert_eq!(
        instance.auth,
        auth_credential(copy).map(|mut a| {
            a.kind = pb::AuthKind::Credential as i32;
            a
        })
    );
    assert_eq!(instance.version, repointed.version + 1);
    assert_eq!(instance.fingerprint, applied.results[0].fingerprint);
    let replay = client
        .apply_data_source_definitions(with(
            &imports,
            pb::ApplyDataSourceDefinitionsRequest {
                request_id: "push-1".into(),
                updates: vec![],
                variable_defaults: HashMap::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(replay.replayed);
    assert_eq!(replay.results, applied.results);
}
