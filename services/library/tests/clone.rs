//! Dependency closures (I3, I4) and clones (I5, I7): exact copies with rewritten references,
//! variables merged by name, idempotent under the request id, inside one family only.

mod common;

use std::collections::HashMap;

use common::{
    Library, auth_credential, auth_token, dashboard_of, failure, json_source, klip_of, start,
    start_with_tokens, violations, with,
};
use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

/// A partner's dashboard of 10 Klips over 5 data sources (one using the partner's OAuth
/// token, one its credential), plus assets outside it.
struct Master {
    dashboard: pb::Dashboard,
    klips: Vec<pb::Klip>,
    sources: Vec<pb::DataSource>,
    token_id: Uuid,
    credential_id: Uuid,
}

async fn variable(library: &Library, account: Uuid, name: &str, default: &str) {
    library
        .client()
        .create_variable(with(
            &tokens::admin(account),
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: name.into(),
                    default_value: default.into(),
                    description: format!("the {name}"),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
}

async fn master(library: &Library, partner: Uuid) -> Master {
    let editor = tokens::editor(partner);
    // The partner's own token and credential (the library runs with the token registry).
    let token_id = library.oauth_token(partner).await;
    let credential_id = library.credential(partner).await;
    variable(library, partner, "companyID", "all").await;
    variable(library, partner, "year", "2026").await;
    variable(library, partner, "unused", "x").await;

    let mut sources = vec![];
    for i in 0..5 {
        let url = if i == 2 {
            "https://api.example.com/sales?company={props.companyID}&profile={props.gaProfile}"
                .to_owned()
        } else {
            format!("https://api.example.com/feed/{i}")
        };
        let mut source = json_source(None, &format!("Source {i}"), &url);
        source.auth = match i {
            0 => auth_token(token_id),
            1 => auth_credential(credential_id),
            _ => None,
        };
        sources.push(library.data_source(&editor, source).await);
    }
    let mut klips = vec![];
    for i in 0..10 {
        let formula = if i % 2 == 0 {
            "SUM(@0.amount) + SUM(@1.amount)"
        } else {
            "@0.amount & $year"
        };
        let bindings = [&sources[i % 5].id, &sources[(i + 1) % 5].id];
        let klip = klip_of(
            None,
            &format!("Klip {i}"),
            &[formula],
            &bindings.map(String::as_str),
        );
        klips.push(library.klip(&editor, klip).await);
    }
    let ids: Vec<&str> = klips.iter().map(|k| k.id.as_str()).collect();
    let dashboard = library
        .dashboard(&editor, dashboard_of(None, "Agency overview", &ids))
        .await;
    // Not part of the dashboard: must never be copied.
    let stray = library
        .data_source(
            &editor,
            json_source(None, "Stray", "https://stray.example.com/"),
        )
        .await;
    library
        .klip(&editor, klip_of(None, "Stray", &["@0.a"], &[&stray.id]))
        .await;
    Master {
        dashboard,
        klips,
        sources,
        token_id,
        credential_id,
    }
}

fn dashboard_ref(id: &str) -> pb::AssetRef {
    pb::AssetRef {
        kind: pb::AssetKind::Dashboard as i32,
        id: id.into(),
    }
}

async fn closure(
    library: &Library,
    account: Uuid,
    dashboard: &str,
) -> pb::GetDependencyClosureResponse {
    library
        .client()
        .get_dependency_closure(with(
            &tokens::admin(account),
            pb::GetDependencyClosureRequest {
                account_id: String::new(),
                assets: vec![dashboard_ref(dashboard)],
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

fn clone_request(
    request_id: &str,
    source: Uuid,
    destination: Uuid,
    assets: Vec<pb::AssetRef>,
) -> pb::CloneAssetsRequest {
    pb::CloneAssetsRequest {
        request_id: request_id.into(),
        source_account_id: source.to_string(),
        destination_account_id: destination.to_string(),
        assets,
        reuse_ids: HashMap::new(),
    }
}

fn all_assets(closure: &pb::GetDependencyClosureResponse) -> Vec<pb::AssetRef> {
    closure
        .assets
        .iter()
        .map(|a| a.asset.clone().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_closure_of_a_dashboard_lists_everything_it_needs() {
    let library = start_with_tokens().await;
    let family = library.family().await;
    let master = master(&library, family.partner).await;
    let found = closure(&library, family.partner, &master.dashboard.id).await;

    let kinds: Vec<i32> = found
        .assets
        .iter()
        .map(|a| a.asset.as_ref().unwrap().kind)
        .collect();
    let expected: Vec<i32> = [pb::AssetKind::DataSource; 5]
        .into_iter()
        .chain([pb::AssetKind::Klip; 10])
        .chain([pb::AssetKind::Dashboard])
        .map(|k| k as i32)
        .collect();
    assert_eq!(
        kinds, expected,
        "data sources, then Klips, then the dashboard"
    );
    let selected: Vec<_> = found.assets.iter().filter(|a| a.selected).collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0].asset.as_ref().unwrap().id, master.dashboard.id);
    assert_eq!(selected[0].dependencies.len(), 10);
    // I4: formula variables, and template properties the partner defines as variables.
    assert_eq!(found.variables, ["companyID", "year"]);
    assert_eq!(found.template_properties, ["companyID", "gaProfile"]);
    assert_eq!(found.token_ids, [master.token_id.to_string()]);
    assert_eq!(found.credential_ids, [master.credential_id.to_string()]);
    assert!(found.missing_assets.is_empty());
    let templated = found
        .assets
        .iter()
        .find(|a| a.asset.as_ref().unwrap().id == master.sources[2].id)
        .unwrap();
    assert_eq!(templated.fingerprint, master.sources[2].fingerprint);
    assert_eq!(templated.template_properties, ["companyID", "gaProfile"]);

    // A Klip alone brings its data sources; an unknown id is reported missing.
    let ghost = Uuid::now_v7().to_string();
    let klip_only = library
        .client()
        .get_dependency_closure(with(
            &tokens::viewer(family.partner),
            pb::GetDependencyClosureRequest {
                account_id: String::new(),
                assets: vec![
                    pb::AssetRef {
                        kind: pb::AssetKind::Klip as i32,
                        id: master.klips[0].id.clone(),
                    },
                    pb::AssetRef {
                        kind: pb::AssetKind::DataSource as i32,
                        id: ghost.clone(),
                    },
                ],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(klip_only.assets.len(), 3);
    assert_eq!(klip_only.missing_assets.len(), 1);
    assert_eq!(klip_only.missing_assets[0].id, ghost);
}

#[tokio::test(flavor = "multi_thread")]
async fn cloning_a_dashboard_of_ten_klips_and_five_sources_copies_exactly_once() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let master = master(&library, family.partner).await;
    // The destination has its own `year`, which a clone keeps (I4: merged by name).
    variable(&library, family.client_a, "year", "1999").await;
    let partner_rows = library.asset_rows(family.partner).await;
    let found = closure(&library, family.partner, &master.dashboard.id).await;

    let cloned = client
        .clone_assets(with(
            &tokens::service_as(Identity::Imports),
            clone_request(
                "import-1",
                family.partner,
                family.client_a,
                all_assets(&found),
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!cloned.replayed);
    assert_eq!(cloned.mappings.len(), 16);
    assert_eq!(cloned.variables_created, ["companyID"]);

    // Exactly the expected rows: 5 data sources, 10 Klips with 20 bindings, one dashboard
    // showing 10 Klips; the source is untouched.
    assert_eq!(
        library.asset_rows(family.client_a).await,
        [5, 10, 20, 1, 10]
    );
    assert_eq!(library.asset_rows(family.partner).await, partner_rows);
    assert_eq!(
        library
            .count("variables", "account_id", family.client_a)
            .await,
        2
    );

    let map: HashMap<String, String> = cloned
        .mappings
        .iter()
        .map(|m| (m.source_id.clone(), m.destination_id.clone()))
        .collect();
    for mapping in &cloned.mappings {
        assert_ne!(mapping.source_id, mapping.destination_id, "I7: new ids");
    }
    let admin = tokens::admin(family.client_a);
    let copy = client
        .get_dashboard(with(
            &admin,
            pb::GetDashboardRequest {
                id: map[&master.dashboard.id].clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .dashboard
        .unwrap();
    let expected_klips: Vec<String> = master.klips.iter().map(|k| map[&k.id].clone()).collect();
    assert_eq!(copy.klip_ids, expected_klips);
    assert_eq!(copy.name, master.dashboard.name);
    for original in &master.klips {
        let instance = client
            .get_klip(with(
                &admin,
                pb::GetKlipRequest {
                    id: map[&original.id].clone(),
                    account_id: String::new(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .klip
            .unwrap();
        let expected: Vec<String> = original
            .bindings
            .iter()
            .map(|b| map[&b.data_source_id].clone())
            .collect();
        let bound: Vec<String> = instance
            .bindings
            .iter()
            .map(|b| b.data_source_id.clone())
            .collect();
        assert_eq!(bound, expected, "bindings point at the copies");
        assert_eq!(
            instance.components, original.components,
            "formula text is not rewritten"
        );
        assert_eq!(instance.variables, original.variables);
    }
    for original in &master.sources {
        let instance = client
            .get_data_source(with(
                &admin,
                pb::GetDataSourceRequest {
                    id: map[&original.id].clone(),
                    account_id: String::new(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .data_source
            .unwrap();
        // Same token identity (I6) and, until the import repoints it, the same credential.
        assert_eq!(instance.auth, original.auth);
        assert_eq!(instance.fingerprint, original.fingerprint);
        assert_eq!(instance.request, original.request);
    }
    let year = client
        .get_variable(with(
            &admin,
            pb::GetVariableRequest {
                account_id: String::new(),
                name: "year".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(year.default_value, "1999", "an existing variable is kept");
    let company = client
        .get_variable(with(
            &admin,
            pb::GetVariableRequest {
                account_id: String::new(),
                name: "companyID".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .variable
        .unwrap();
    assert_eq!(
        company.default_value, "all",
        "created with the source's default"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_clone_returns_the_same_mapping_and_copies_nothing_twice() {
    let library = start_with_tokens().await;
    let family = library.family().await;
    let master = master(&library, family.partner).await;
    let assets = all_assets(&closure(&library, family.partner, &master.dashboard.id).await);
    let call = |request_id: &str, destination: Uuid| {
        let mut client = library.client();
        let request = clone_request(request_id, family.partner, destination, assets.clone());
        async move {
            client
                .clone_assets(with(&tokens::service_as(Identity::Imports), request))
                .await
                .unwrap()
                .into_inner()
        }
    };

    let first = call("import-7", family.client_a).await;
    let retried = call("import-7", family.client_a).await;
    assert!(retried.replayed);
    assert_eq!(retried.mappings, first.mappings);
    assert_eq!(retried.variables_created, first.variables_created);
    assert_eq!(
        library.asset_rows(family.client_a).await,
        [5, 10, 20, 1, 10]
    );

    // Two identical requests at once: one copy, one mapping.
    let (a, b) = tokio::join!(
        call("import-8", family.client_b),
        call("import-8", family.client_b)
    );
    assert_eq!(a.mappings, b.mappings);
    assert!(
        a.replayed != b.replayed,
        "exactly one of them made the copy"
    );
    assert_eq!(
        library.asset_rows(family.client_b).await,
        [5, 10, 20, 1, 10]
    );

    // A new request id is a new import: a second, distinct copy (I7).
    let again = call("import-9", family.client_a).await;
    assert!(!again.replayed);
    assert_ne!(again.mappings, first.mappings);
    assert_eq!(
        library.asset_rows(family.client_a).await,
        [10, 20, 40, 2, 20]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clone_needs_the_import_service_a_closed_selection_and_one_family() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let rival = library.family().await;
    let standard = library.standard().await;
    let master = master(&library, family.partner).await;
    let assets = all_assets(&closure(&library, family.partner, &master.dashboard.id).await);

    // A saga step of the import service alone: neither a member nor an operator.
    for token in [tokens::admin(family.client_a), tokens::service()] {
        failure(
            client
                .clone_assets(with(
                    &token,
                    clone_request("x", family.partner, family.client_a, assets.clone()),
                ))
                .await,
            Code::PermissionDenied,
        );
    }
    for destination in [rival.client_a, rival.partner, standard] {
        failure(
            client
                .clone_assets(with(
                    &tokens::service_as(Identity::Imports),
                    clone_request("x", family.partner, destination, assets.clone()),
                ))
                .await,
            Code::FailedPrecondition,
        );
    }
    // The dashboard alone is not closed under I3.
    let open = violations(
        client
            .clone_assets(with(
                &tokens::service_as(Identity::Imports),
                clone_request(
                    "x",
                    family.partner,
                    family.client_a,
                    vec![dashboard_ref(&master.dashboard.id)],
                ),
            ))
            .await,
    );
    assert_eq!(open.len(), 15, "every missing dependency is named");
    assert!(open.iter().all(|(field, _)| field == "assets"));
    // Another account's asset is "not in the source account", like an unknown one.
    let rival_source = library
        .data_source(
            &tokens::editor(rival.partner),
            json_source(None, "Rival secret", "https://rival.example.com/"),
        )
        .await;
    let foreign = violations(
        client
            .clone_assets(with(
                &tokens::service_as(Identity::Imports),
                clone_request(
                    "x",
                    family.partner,
                    family.client_a,
                    vec![pb::AssetRef {
                        kind: pb::AssetKind::DataSource as i32,
                        id: rival_source.id.clone(),
                    }],
                ),
            ))
            .await,
    );
    assert_eq!(foreign[0].0, "assets[0]");
    assert!(!foreign[0].1.contains("Rival secret"));
    let no_request_id = violations(
        client
            .clone_assets(with(
                &tokens::service_as(Identity::Imports),
                clone_request("", family.partner, family.client_a, assets),
            ))
            .await,
    );
    assert_eq!(no_request_id[0].0, "request_id");
    assert_eq!(library.asset_rows(family.client_a).await, [0; 5]);
}

#[tokio::test(flavor = "multi_thread")]
async fn reuse_ids_overwrite_destination_assets_in_place() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let editor = tokens::editor(family.partner);
    let source = library
        .data_source(
            &editor,
            json_source(None, "s", "https://api.example.com/v1"),
        )
        .await;
    let klip = library
        .klip(&editor, klip_of(None, "k", &["@0.a"], &[&source.id]))
        .await;
    let assets = vec![
        pb::AssetRef {
            kind: pb::AssetKind::DataSource as i32,
            id: source.id.clone(),
        },
        pb::AssetRef {
            kind: pb::AssetKind::Klip as i32,
            id: klip.id.clone(),
        },
    ];
    let first = client
        .clone_assets(with(
            &tokens::service_as(Identity::Imports),
            clone_request("first", family.partner, family.client_a, assets.clone()),
        ))
        .await
        .unwrap()
        .into_inner();
    let map: HashMap<String, String> = first
        .mappings
        .iter()
        .map(|m| (m.source_id.clone(), m.destination_id.clone()))
        .collect();

    // The master changes; re-import in place keeps the instance ids (I12, beyond the seeds).
    client
        .update_klip(with(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(pb::Klip {
                    id: klip.id.clone(),
                    name: "k v2".into(),
                    ..Default::default()
                }),
                update_mask: common::mask(&["name"]),
            },
        ))
        .await
        .unwrap();
    let mut request = clone_request("second", family.partner, family.client_a, assets.clone());
    request.reuse_ids = map.clone();
    let second = client
        .clone_assets(with(&tokens::service_as(Identity::Imports), request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.mappings, first.mappings);
    assert_eq!(library.asset_rows(family.client_a).await, [1, 1, 1, 0, 0]);
    let instance = client
        .get_klip(with(
            &tokens::admin(family.client_a),
            pb::GetKlipRequest {
                id: map[&klip.id].clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .klip
        .unwrap();
    assert_eq!(instance.name, "k v2");
    assert_eq!(instance.version, 2);

    // A reuse id that is not an asset of that kind in the destination is refused.
    let mut bad = clone_request("third", family.partner, family.client_a, assets);
    bad.reuse_ids = [(klip.id.clone(), Uuid::now_v7().to_string())].into();
    let refused = violations(
        client
            .clone_assets(with(&tokens::service_as(Identity::Imports), bad))
            .await,
    );
    assert_eq!(refused[0].0, format!("reuse_ids[{}]", klip.id));
}
