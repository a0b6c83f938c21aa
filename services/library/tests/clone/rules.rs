//! Who may clone what, and reuse ids that overwrite destination assets in place.

use super::*;

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
    // The import service's clone of `assets` from the partner into client A.
    let into_client_a = |request_id: &str, assets: Vec<pb::AssetRef>| {
        let request = clone_request(request_id, family.partner, family.client_a, assets);
        with(&tokens::service_as(Identity::Imports), request)
    };
    let open = into_client_a("x", vec![dashboard_ref(&master.dashboard.id)]);
    let open = violations(client.clone_assets(open).await);
    assert_eq!(open.len(), 15, "every missing dependency is named");
    assert!(open.iter().all(|(field, _)| field == "assets"));
    // Another account's asset is "not in the source account", like an unknown one.
    let rival_source = library
        .data_source(
            &tokens::editor(rival.partner),
            json_source(None, "Rival secret", "https://rival.example.com/"),
        )
        .await;
    let rival_ref = pb::AssetRef {
        kind: pb::AssetKind::DataSource as i32,
        id: rival_source.id.clone(),
    };
    let foreign = violations(
        client
            .clone_assets(into_client_a("x", vec![rival_ref]))
            .await,
    );
    assert_eq!(foreign[0].0, "assets[0]");
    assert!(!foreign[0].1.contains("Rival secret"));
    let no_request_id = violations(client.clone_assets(into_client_a("", assets)).await);
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
    let instance = library
        .get_klip(&tokens::admin(family.client_a), &map[&klip.id])
        .await;
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
