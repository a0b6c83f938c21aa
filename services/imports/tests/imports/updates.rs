//! Update client instances (I9, I10), the dry-run drift report, re-import in place (I12)
//! and the opt-in data-source push.

use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;

use crate::common::*;

fn formulas(klip: &lib::Klip) -> Vec<(String, String)> {
    klip.components
        .iter()
        .map(|c| (c.name.clone(), c.formula.clone()))
        .collect()
}

fn update(master: &str, request_id: &str, dry_run: bool) -> imp::UpdateInstancesRequest {
    imp::UpdateInstancesRequest {
        request_id: request_id.into(),
        master_klip_id: master.into(),
        instance_ids: vec![],
        dry_run,
        push_data_sources: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_overwrites_a_drifted_instance_and_refuses_one_whose_master_gained_a_data_source()
{
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let sales = data_source(
        library,
        family.partner,
        "Sales",
        "https://api.example.test/s",
        None,
    )
    .await;
    let master = klip(
        library,
        family.partner,
        "Revenue",
        &["SUM(@0.amount)", "AVERAGE(@0.amount)"],
        &[&sales.id],
    )
    .await;
    let board = dashboard(library, family.partner, "Board", &[&master.id]).await;
    let import_a = import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![dashboard_ref(&board.id)],
    )
    .await;
    let import_b = import(
        &world.imports,
        family.client_b,
        family.partner,
        vec![dashboard_ref(&board.id)],
    )
    .await;
    let (klip_a, klip_b) = (
        instance_of(&import_a, &master.id),
        instance_of(&import_b, &master.id),
    );
    let (sales_a, board_a) = (
        instance_of(&import_a, &sales.id),
        instance_of(&import_a, &board.id),
    );

    // Client A edits its instance; the master then binds a second data source.
    edit_klip(
        library,
        family.client_a,
        &klip_a,
        &["SUM(@0.amount)", "MAX(@0.amount)"],
        None,
    )
    .await;
    let refunds = data_source(
        library,
        family.partner,
        "Refunds",
        "https://api.example.test/r",
        None,
    )
    .await;
    edit_klip(
        library,
        family.partner,
        &master.id,
        &["SUM(@0.amount)", "AVERAGE(@0.amount)", "COUNT(@1.id)"],
        Some(&[&sales.id, &refunds.id]),
    )
    .await;
    for instance in instances(&world.imports, family.partner, klip_ref(&master.id)).await {
        assert_eq!(
            instance.status(),
            imp::InstanceStatus::RequiresReimport,
            "{instance:?}"
        );
        assert!(
            instance
                .reasons
                .iter()
                .any(|r| r.kind() == imp::StatusReasonKind::DataSourceAdded)
        );
    }
    // I10: an update leaves both untouched.
    let refused = update_instances(
        &world.imports,
        family.partner,
        update(&master.id, &request_id(), false),
    )
    .await
    .unwrap();
    assert_eq!(refused.summary.as_ref().unwrap().requires_reimport, 2);
    let untouched = get_klip(library, family.client_a, &klip_a).await.unwrap();
    assert_eq!(untouched.components[1].formula, "MAX(@0.amount)");

    // I12: re-import in place; the instance and its data source keep their ids and the new
    // data source is imported alongside.
    let before = get_klip(library, family.client_a, &klip_a).await.unwrap();
    let reimported = world
        .imports
        .clone()
        .reimport_instance(call(
            imp::ReimportInstanceRequest {
                request_id: request_id(),
                instance: Some(klip_ref(&klip_a)),
                mode: imp::ReimportMode::InPlace as i32,
            },
            &admin(family.client_a),
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
    assert_eq!(reimported.kind(), imp::ImportKind::ReimportInPlace);
    assert_eq!(
        instance_of(&reimported, &master.id),
        klip_a,
        "the Klip keeps its id"
    );
    assert_eq!(
        instance_of(&reimported, &sales.id),
        sales_a,
        "its data source too"
    );
    let refunds_a = instance_of(&reimported, &refunds.id);
    let after = get_klip(library, family.client_a, &klip_a).await.unwrap();
    assert!(after.version > before.version);
    assert_eq!(
        after
            .bindings
            .iter()
            .map(|b| b.data_source_id.clone())
            .collect::<Vec<_>>(),
        [sales_a.clone(), refunds_a]
    );
    assert_eq!(formulas(&after).len(), 3);
    let shown = library
        .clone()
        .get_dashboard(call(
            lib::GetDashboardRequest {
                id: board_a.clone(),
                account_id: String::new(),
            },
            &admin(family.client_a),
        ))
        .await
        .unwrap()
        .into_inner()
        .dashboard
        .unwrap();
    assert_eq!(
        shown.klip_ids,
        std::slice::from_ref(&klip_a),
        "the dashboard still shows it"
    );
    assert_eq!(
        status_of(&world.imports, family.client_a, klip_ref(&klip_a))
            .await
            .status(),
        imp::InstanceStatus::InSync
    );
    assert_eq!(
        asset_counts(library, family.client_a).await,
        [2, 1, 1],
        "no second copy"
    );

    // Client A edits again (drift); the master changes a formula (outdated).
    edit_klip(
        library,
        family.client_a,
        &klip_a,
        &["SUM(@0.amount) * 100", "AVERAGE(@0.amount)", "COUNT(@1.id)"],
        None,
    )
    .await;
    edit_klip(
        library,
        family.partner,
        &master.id,
        &[
            "SUM(@0.amount)",
            "ROUND(AVERAGE(@0.amount), 2)",
            "COUNT(@1.id)",
        ],
        None,
    )
    .await;
    let a = status_of(&world.imports, family.client_a, klip_ref(&klip_a)).await;
    assert_eq!(a.status(), imp::InstanceStatus::Drift, "{a:?}");
    let version_a = get_klip(library, family.client_a, &klip_a)
        .await
        .unwrap()
        .version;

    // The dry run: what the update would overwrite, and nothing changed.
    let dry = update_instances(&world.imports, family.partner, update(&master.id, "", true))
        .await
        .unwrap();
    let would = dry.result(&klip_a);
    assert_eq!(would.outcome(), imp::UpdateOutcome::WouldUpdate);
    let change = |subject: &str| {
        would
            .changes
            .iter()
            .find(|c| c.subject == subject)
            .unwrap_or_else(|| panic!("a change of {subject}: {:?}", would.changes))
    };
    assert_eq!(change("c0").instance_value, "SUM(@0.amount) * 100");
    assert_eq!(change("c0").master_value, "SUM(@0.amount)");
    assert!(
        change("c0").local_edit,
        "the client's edit is what the update discards"
    );
    assert_eq!(change("c1").master_value, "ROUND(AVERAGE(@0.amount), 2)");
    assert!(!change("c1").local_edit, "a change of the master");
    assert_eq!(
        dry.result(&klip_b).outcome(),
        imp::UpdateOutcome::RequiresReimport
    );
    assert_eq!(dry.summary.as_ref().unwrap().would_update, 1);
    assert_eq!(
        get_klip(library, family.client_a, &klip_a)
            .await
            .unwrap()
            .version,
        version_a,
        "a dry run changes nothing"
    );

    // The update: A overwritten (I9), B left alone (I10). Progress streams.
    let b_before = get_klip(library, family.client_b, &klip_b).await.unwrap();
    let update_id = request_id();
    let done = update_instances(
        &world.imports,
        family.partner,
        update(&master.id, &update_id, false),
    )
    .await
    .unwrap();
    let updated = done.result(&klip_a);
    assert_eq!(
        updated.outcome(),
        imp::UpdateOutcome::Updated,
        "{updated:?}"
    );
    assert!(updated.instance_version > version_a);
    let skipped = done.result(&klip_b);
    assert_eq!(skipped.outcome(), imp::UpdateOutcome::RequiresReimport);
    assert!(skipped.reason.contains("I10"), "{}", skipped.reason);
    let summary = done.summary.as_ref().unwrap();
    assert_eq!((summary.updated, summary.requires_reimport), (1, 1));
    assert_eq!(
        done.progress.first().map(|p| (p.done, p.total)),
        Some((0, 2))
    );
    assert_eq!(
        done.progress.last().map(|p| (p.done, p.total)),
        Some((2, 2))
    );

    let master_now = get_klip(library, family.partner, &master.id).await.unwrap();
    let a_now = get_klip(library, family.client_a, &klip_a).await.unwrap();
    assert_eq!(a_now.id, klip_a, "the instance keeps its id");
    assert_eq!(formulas(&a_now), formulas(&master_now));
    assert_eq!(
        a_now.bindings[0].data_source_id, sales_a,
        "bindings mapped to its own data sources"
    );
    let b_now = get_klip(library, family.client_b, &klip_b).await.unwrap();
    assert_eq!(b_now.version, b_before.version, "untouched");
    assert_eq!(
        status_of(&world.imports, family.client_a, klip_ref(&klip_a))
            .await
            .status(),
        imp::InstanceStatus::InSync
    );

    // A retry of the same update reports what it did and changes nothing again.
    let retried = update_instances(
        &world.imports,
        family.partner,
        update(&master.id, &update_id, false),
    )
    .await
    .unwrap();
    assert_eq!(retried.result(&klip_a), updated);
    assert_eq!(
        get_klip(library, family.client_a, &klip_a)
            .await
            .unwrap()
            .version,
        a_now.version
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compatible_data_source_changes_are_pushed_only_when_asked() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    company_property(library, family.client_a, "companyID", "acme").await;
    let sales = data_source(
        library,
        family.partner,
        "Sales",
        "https://api.example.test/v1/sales?company={props.companyID}",
        None,
    )
    .await;
    let master = klip(
        library,
        family.partner,
        "Revenue",
        &["SUM(@0.amount)"],
        &[&sales.id],
    )
    .await;
    let done = import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&master.id)],
    )
    .await;
    let (klip_a, sales_a) = (
        instance_of(&done, &master.id),
        instance_of(&done, &sales.id),
    );

    // The master moves to the API's v2: same auth, same bindings, a compatible change.
    library
        .clone()
        .update_data_source(call(
            lib::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(lib::DataSource {
                    id: sales.id.clone(),
                    request: Some(lib::HttpRequestTemplate {
                        method: lib::HttpMethod::Get as i32,
                        url: "https://api.example.test/v2/sales?company={props.companyID}".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["request.url".into()],
                }),
            },
            &admin(family.partner),
        ))
        .await
        .unwrap();
    let status = status_of(&world.imports, family.client_a, klip_ref(&klip_a)).await;
    assert_eq!(status.status(), imp::InstanceStatus::RequiresReimport);
    assert_eq!(
        status.reasons[0].kind(),
        imp::StatusReasonKind::DataSourceChanged
    );

    let mut request = update(&master.id, &request_id(), false);
    let without = update_instances(&world.imports, family.partner, request.clone())
        .await
        .unwrap();
    assert_eq!(
        without.result(&klip_a).outcome(),
        imp::UpdateOutcome::RequiresReimport
    );

    request.request_id = request_id();
    request.push_data_sources = true;
    request.dry_run = true;
    let preview = update_instances(&world.imports, family.partner, request.clone())
        .await
        .unwrap();
    let would = preview.result(&klip_a);
    assert_eq!(would.outcome(), imp::UpdateOutcome::WouldUpdate);
    assert_eq!(would.data_sources_pushed, std::slice::from_ref(&sales_a));
    assert!(
        would
            .changes
            .iter()
            .any(|c| c.kind() == imp::ChangeKind::DataSource && c.master_value.contains("/v2/"))
    );
    request.dry_run = false;
    let pushed = update_instances(&world.imports, family.partner, request)
        .await
        .unwrap();
    let result = pushed.result(&klip_a);
    assert_eq!(result.outcome(), imp::UpdateOutcome::Updated, "{result:?}");
    assert_eq!(result.data_sources_pushed, std::slice::from_ref(&sales_a));
    let instance = get_data_source(library, family.client_a, &sales_a).await;
    assert_eq!(
        instance.request.unwrap().url,
        "https://api.example.test/v2/sales?company={props.companyID}"
    );
    for instance in [klip_ref(&klip_a), data_source_ref(&sales_a)] {
        let status = status_of(&world.imports, family.client_a, instance).await;
        assert_eq!(status.status(), imp::InstanceStatus::InSync, "{status:?}");
    }

    // A change of auth kind is not compatible: re-import it is.
    let saved = credential(&world.tokens, family.partner, "pw").await;
    library
        .clone()
        .update_data_source(call(
            lib::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(lib::DataSource {
                    id: sales.id.clone(),
                    auth: Some(lib::DataSourceAuth {
                        kind: 0,
                        method: credential_auth(&saved.id),
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["auth".into()],
                }),
            },
            &admin(family.partner),
        ))
        .await
        .unwrap();
    let mut request = update(&master.id, &request_id(), false);
    request.push_data_sources = true;
    let refused = update_instances(&world.imports, family.partner, request)
        .await
        .unwrap();
    let result = refused.result(&klip_a);
    assert_eq!(result.outcome(), imp::UpdateOutcome::RequiresReimport);
    assert!(
        result.reason.contains("authentication"),
        "{}",
        result.reason
    );
}
