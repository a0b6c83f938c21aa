//! Instances (I11): listed with account and status; re-imported as a new copy (I12);
//! deleted with what came with them; and the refusals of UpdateInstances (I2).

use tonic::Code;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn instances_are_listed_with_their_account_and_status() {
    let world = World::start().await;
    let family = world.family().await;
    let third = account(
        &world.library_channel,
        lib::AccountKind::Client,
        Some(family.partner),
    )
    .await;
    let library = &world.library;
    let source = data_source(
        library,
        family.partner,
        "Leads",
        "https://api.example.test/l",
        None,
    )
    .await;
    let master = klip(
        library,
        family.partner,
        "Leads",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await;
    let mut instance = std::collections::HashMap::new();
    for client in [family.client_a, family.client_b, third] {
        let done = import(
            &world.imports,
            client,
            family.partner,
            vec![klip_ref(&master.id)],
        )
        .await;
        instance.insert(client, instance_of(&done, &master.id));
    }
    let listed = instances(&world.imports, family.partner, klip_ref(&master.id)).await;
    assert!(
        listed
            .iter()
            .all(|i| i.status() == imp::InstanceStatus::InSync)
    );
    assert!(
        listed
            .iter()
            .all(|i| i.import_time.is_some() && i.master_version == 1)
    );

    // A edits its instance, the master changes, C deletes its instance.
    edit_klip(
        library,
        family.client_a,
        &instance[&family.client_a],
        &["COUNT(@0.id) + 1"],
        None,
    )
    .await;
    edit_klip(
        library,
        family.partner,
        &master.id,
        &["COUNT(@0.id) * 2"],
        None,
    )
    .await;
    library
        .clone()
        .delete_klip(call(
            lib::DeleteKlipRequest {
                request_id: String::new(),
                id: instance[&third].clone(),
                account_id: String::new(),
                etag: String::new(),
            },
            &admin(third),
        ))
        .await
        .unwrap();

    let status = |client: Uuid| {
        let imports = world.imports.clone();
        let id = instance[&client].clone();
        async move { status_of(&imports, family.partner, klip_ref(&id)).await }
    };
    let a = status(family.client_a).await;
    assert_eq!(a.status(), imp::InstanceStatus::Drift);
    let kinds: Vec<imp::StatusReasonKind> = a.reasons.iter().map(|r| r.kind()).collect();
    assert!(kinds.contains(&imp::StatusReasonKind::LocalEdit));
    assert!(kinds.contains(&imp::StatusReasonKind::MasterChanged));
    let b = status(family.client_b).await;
    assert_eq!(b.status(), imp::InstanceStatus::Outdated);
    assert_eq!((b.master_version_synced, b.master_version), (1, 2));
    assert_eq!(status(third).await.status(), imp::InstanceStatus::Missing);

    // Pages of one, by account; and only one account's.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = world
            .imports
            .clone()
            .list_instances(call(
                imp::ListInstancesRequest {
                    master: Some(klip_ref(&master.id)),
                    account_id: String::new(),
                    page_size: 1,
                    page_token,
                },
                &admin(family.partner),
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.instances.len() <= 1);
        seen.extend(page.instances.into_iter().map(|i| i.account_id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "by account");
    assert_eq!(seen.len(), 3);
    let only_b = world
        .imports
        .clone()
        .list_instances(call(
            imp::ListInstancesRequest {
                master: Some(klip_ref(&master.id)),
                account_id: family.client_b.to_string(),
                ..Default::default()
            },
            &admin(family.partner),
        ))
        .await
        .unwrap()
        .into_inner()
        .instances;
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].instance_id, instance[&family.client_b]);

    // The instance's own account sees its link; another client does not.
    let own = status_of(
        &world.imports,
        family.client_b,
        klip_ref(&instance[&family.client_b]),
    )
    .await;
    assert_eq!(own.master.unwrap().id, master.id);
    let other = world
        .imports
        .clone()
        .get_instance(call(
            imp::GetInstanceRequest {
                instance: Some(klip_ref(&instance[&family.client_b])),
            },
            &admin(family.client_a),
        ))
        .await;
    failure(other, Code::NotFound);
    // A client lists nothing of the partner's masters.
    assert!(
        instances(&world.imports, family.client_a, klip_ref(&master.id))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reimport_as_a_new_copy_replaces_the_instance_and_what_came_with_it() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let source = data_source(
        library,
        family.partner,
        "Leads",
        "https://api.example.test/l",
        None,
    )
    .await;
    let master = klip(
        library,
        family.partner,
        "Leads",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await;
    let done = import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&master.id)],
    )
    .await;
    let old = instance_of(&done, &master.id);
    edit_klip(library, family.client_a, &old, &["1"], None).await;

    let reimported = world
        .imports
        .clone()
        .reimport_instance(call(
            imp::ReimportInstanceRequest {
                request_id: request_id(),
                instance: Some(klip_ref(&old)),
                mode: imp::ReimportMode::NewCopy as i32,
            },
            &admin(family.partner),
        ))
        .await
        .unwrap()
        .into_inner()
        .import
        .unwrap();
    assert_eq!(
        reimported.state(),
        imp::ImportState::Succeeded,
        "{}",
        reimported.error
    );
    assert_eq!(reimported.replaced_instance.as_ref().unwrap().id, old);
    let new = instance_of(&reimported, &master.id);
    assert_ne!(new, old);
    assert!(
        get_klip(library, family.client_a, &old).await.is_none(),
        "the old one is gone"
    );
    let fresh = get_klip(library, family.client_a, &new).await.unwrap();
    assert_eq!(fresh.components[0].formula, "COUNT(@0.id)");
    assert_eq!(asset_counts(library, family.client_a).await, [1, 1, 0]);
    let listed = instances(&world.imports, family.partner, klip_ref(&master.id)).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].instance_id, new);
    assert_eq!(listed[0].import_id, reimported.id);
    assert_eq!(listed[0].status(), imp::InstanceStatus::InSync);

    // Re-importing something that is no instance is NOT_FOUND.
    let unknown = world
        .imports
        .clone()
        .reimport_instance(call(
            imp::ReimportInstanceRequest {
                request_id: String::new(),
                instance: Some(klip_ref(&master.id)),
                mode: 0,
            },
            &admin(family.partner),
        ))
        .await;
    failure(unknown, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_dashboards_instances_keeps_what_the_client_still_uses() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let source = data_source(
        library,
        family.partner,
        "Leads",
        "https://api.example.test/l",
        None,
    )
    .await;
    let master = klip(
        library,
        family.partner,
        "Leads",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await;
    let board = dashboard(library, family.partner, "Sales", &[&master.id]).await;
    let done = import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![dashboard_ref(&board.id)],
    )
    .await;
    let source_a = instance_of(&done, &source.id);
    // The client builds a Klip of its own on the imported data source.
    klip(
        library,
        family.client_a,
        "Mine",
        &["COUNT(@0.id)"],
        &[&source_a],
    )
    .await;

    let mut request = imp::DeleteInstancesRequest {
        request_id: request_id(),
        master: Some(dashboard_ref(&board.id)),
        account_ids: vec![family.client_a.to_string()],
    };
    let by_client = world
        .imports
        .clone()
        .delete_instances(call(request.clone(), &admin(family.client_a)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        by_client.deleted_instances.is_empty(),
        "not the client's master"
    );
    let deleted = world
        .imports
        .clone()
        .delete_instances(call(request.clone(), &admin(family.partner)))
        .await
        .unwrap()
        .into_inner()
        .deleted_instances;
    let kinds: Vec<imp::AssetKind> = deleted
        .iter()
        .map(|d| d.instance.as_ref().unwrap().kind())
        .collect();
    assert_eq!(kinds, [imp::AssetKind::Dashboard, imp::AssetKind::Klip]);
    assert_eq!(asset_counts(library, family.client_a).await, [1, 1, 0]);
    let still = status_of(&world.imports, family.client_a, data_source_ref(&source_a)).await;
    assert_eq!(
        still.status(),
        imp::InstanceStatus::InSync,
        "the data source stays linked"
    );
    // A retry answers the same.
    let again = world
        .imports
        .clone()
        .delete_instances(call(request.clone(), &admin(family.partner)))
        .await
        .unwrap()
        .into_inner()
        .deleted_instances;
    assert_eq!(again, deleted);
    // The data source's instance cannot go while the client's Klip binds it.
    request.request_id = request_id();
    request.master = Some(data_source_ref(&source.id));
    let in_use = world
        .imports
        .clone()
        .delete_instances(call(request.clone(), &admin(family.partner)))
        .await;
    failure(in_use, Code::FailedPrecondition);
    request.account_ids.clear();
    failure(
        world
            .imports
            .clone()
            .delete_instances(call(request, &admin(family.partner)))
            .await,
        Code::InvalidArgument,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_are_for_admins_of_the_masters_account() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let source = data_source(
        library,
        family.partner,
        "Leads",
        "https://api.example.test/l",
        None,
    )
    .await;
    let master = klip(
        library,
        family.partner,
        "Leads",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await;
    import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&master.id)],
    )
    .await;
    let request = |instance_ids: Vec<String>| imp::UpdateInstancesRequest {
        request_id: String::new(),
        master_klip_id: master.id.clone(),
        instance_ids,
        dry_run: true,
        push_data_sources: false,
    };
    let mut imports = world.imports.clone();
    let by_editor = imports
        .update_instances(call(request(vec![]), &tokens::editor(family.partner)))
        .await;
    failure(by_editor.map(|_| ()), Code::PermissionDenied);
    // The client's admin is not the master's: the master is not in its account.
    let by_client = imports
        .update_instances(call(request(vec![]), &admin(family.client_a)))
        .await;
    failure(by_client.map(|_| ()), Code::NotFound);
    let not_an_instance = imports
        .update_instances(call(
            request(vec![Uuid::new_v4().to_string()]),
            &admin(family.partner),
        ))
        .await;
    failure(not_an_instance.map(|_| ()), Code::InvalidArgument);
    let malformed = imports
        .update_instances(call(
            imp::UpdateInstancesRequest {
                master_klip_id: "x".into(),
                ..request(vec!["y".into()])
            },
            &admin(family.partner),
        ))
        .await;
    failure(malformed.map(|_| ()), Code::InvalidArgument);
    // In sync: nothing to do.
    let stream = update_instances(&world.imports, family.partner, request(vec![]))
        .await
        .unwrap();
    assert_eq!(stream.results.len(), 1);
    assert_eq!(stream.results[0].outcome(), imp::UpdateOutcome::Skipped);
}
