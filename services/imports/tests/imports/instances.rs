//! Instances (I11): listed with account and status; re-imported as a new copy (I12);
//! deleted with what came with them; and the refusals of UpdateInstances (I2).

use std::collections::HashMap;

use tonic::Code;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

/// A master Klip of a family's partner, imported into both clients and a third.
struct Imported {
    world: World,
    family: Family,
    third: Uuid,
    master: lib::Klip,
    /// Client → its instance of the master.
    instance: HashMap<Uuid, String>,
}

impl Imported {
    async fn start() -> Self {
        let world = World::start().await;
        let family = world.family().await;
        let kind = lib::AccountKind::Client;
        let third = account(&world.library_channel, kind, Some(family.partner)).await;
        let (_, master) = counting_klip(&world.library, family.partner, "Leads", "l").await;
        let mut instance = HashMap::new();
        for client in [family.client_a, family.client_b, third] {
            let selection = vec![klip_ref(&master.id)];
            let done = import(&world.imports, client, family.partner, selection).await;
            instance.insert(client, instance_of(&done, &master.id));
        }
        Self {
            world,
            family,
            third,
            master,
            instance,
        }
    }

    async fn status(&self, client: Uuid) -> imp::Instance {
        let instance = klip_ref(&self.instance[&client]);
        status_of(&self.world.imports, self.family.partner, instance).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_are_listed_with_their_account_and_status() {
    let setup = Imported::start().await;
    let (world, family, master) = (&setup.world, setup.family, &setup.master);
    let library = &world.library;
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
    let instance_a = &setup.instance[&family.client_a];
    edit_klip(
        library,
        family.client_a,
        instance_a,
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
    delete_klip(library, setup.third, &setup.instance[&setup.third]).await;

    let a = setup.status(family.client_a).await;
    assert_eq!(a.status(), imp::InstanceStatus::Drift);
    let kinds: Vec<imp::StatusReasonKind> = a.reasons.iter().map(|r| r.kind()).collect();
    assert!(kinds.contains(&imp::StatusReasonKind::LocalEdit));
    assert!(kinds.contains(&imp::StatusReasonKind::MasterChanged));
    let b = setup.status(family.client_b).await;
    assert_eq!(b.status(), imp::InstanceStatus::Outdated);
    assert_eq!((b.master_version_synced, b.master_version), (1, 2));
    assert_eq!(
        setup.status(setup.third).await.status(),
        imp::InstanceStatus::Missing
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_are_listed_page_by_page_and_only_to_the_accounts_involved() {
    let setup = Imported::start().await;
    let (world, family, master) = (&setup.world, setup.family, &setup.master);
    // Pages of one, by account; and only one account's.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = imp::ListInstancesRequest {
            master: Some(klip_ref(&master.id)),
            account_id: String::new(),
            page_size: 1,
            page_token,
        };
        let page = list_instances(&world.imports, &admin(family.partner), request).await;
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
    let master_ref = klip_ref(&master.id);
    let only_b = instances_in(
        &world.imports,
        family.partner,
        master_ref,
        Some(family.client_b),
    )
    .await;
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].instance_id, setup.instance[&family.client_b]);

    // The instance's own account sees its link; another client does not.
    let instance_b = klip_ref(&setup.instance[&family.client_b]);
    let own = status_of(&world.imports, family.client_b, instance_b.clone()).await;
    assert_eq!(own.master.unwrap().id, master.id);
    let other = get_instance(&world.imports, &admin(family.client_a), instance_b).await;
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
    let (_, master) = counting_klip(library, family.partner, "Leads", "l").await;
    let selection = vec![klip_ref(&master.id)];
    let done = import(&world.imports, family.client_a, family.partner, selection).await;
    let old = instance_of(&done, &master.id);
    edit_klip(library, family.client_a, &old, &["1"], None).await;

    let by_partner = admin(family.partner);
    let mode = imp::ReimportMode::NewCopy;
    let reimported = reimport_ok(&world.imports, &by_partner, klip_ref(&old), mode).await;
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
    let mode = imp::ReimportMode::Unspecified;
    let unknown = reimport(&world.imports, &by_partner, klip_ref(&master.id), mode, "").await;
    failure(unknown, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_dashboards_instances_keeps_what_the_client_still_uses() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let (source, master) = counting_klip(library, family.partner, "Leads", "l").await;
    let board = dashboard(library, family.partner, "Sales", &[&master.id]).await;
    let selection = vec![dashboard_ref(&board.id)];
    let done = import(&world.imports, family.client_a, family.partner, selection).await;
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

    let mut request = deletion(dashboard_ref(&board.id), &[family.client_a], &request_id());
    let by_client = delete_instances(&world.imports, &admin(family.client_a), request.clone())
        .await
        .unwrap();
    assert!(by_client.is_empty(), "not the client's master");
    let by_partner = admin(family.partner);
    let deleted = delete_instances(&world.imports, &by_partner, request.clone())
        .await
        .unwrap();
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
    let again = delete_instances(&world.imports, &by_partner, request.clone())
        .await
        .unwrap();
    assert_eq!(again, deleted);
    // The data source's instance cannot go while the client's Klip binds it.
    request.request_id = request_id();
    request.master = Some(data_source_ref(&source.id));
    let in_use = delete_instances(&world.imports, &by_partner, request.clone()).await;
    failure(in_use, Code::FailedPrecondition);
    request.account_ids.clear();
    let unnamed = delete_instances(&world.imports, &by_partner, request).await;
    failure(unnamed, Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_are_for_admins_of_the_masters_account() {
    let world = World::start().await;
    let family = world.family().await;
    let (_, master) = counting_klip(&world.library, family.partner, "Leads", "l").await;
    let selection = vec![klip_ref(&master.id)];
    import(&world.imports, family.client_a, family.partner, selection).await;
    let request = |instance_ids: Vec<String>| imp::UpdateInstancesRequest {
        instance_ids,
        ..update(&master.id, "", true)
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
