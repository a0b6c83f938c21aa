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

/// A Revenue Klip over Sales on a Board in the partner, the board imported into both
/// clients.
struct Revenue {
    world: World,
    family: Family,
    sales: lib::DataSource,
    master: lib::Klip,
    /// The instances of the master in A and B, and of Sales and the Board in A.
    klip_a: String,
    klip_b: String,
    sales_a: String,
    board_a: String,
}

impl Revenue {
    async fn start() -> Self {
        let world = World::start().await;
        let family = world.family().await;
        let library = &world.library;
        let formulas = ["SUM(@0.amount)", "AVERAGE(@0.amount)"];
        let url = "https://api.example.test/s";
        let (sales, master) = master_klip(library, family.partner, "Sales", url, &formulas).await;
        let board = dashboard(library, family.partner, "Board", &[&master.id]).await;
        let mut done = Vec::new();
        for client in [family.client_a, family.client_b] {
            let selection = vec![dashboard_ref(&board.id)];
            done.push(import(&world.imports, client, family.partner, selection).await);
        }
        Self {
            klip_a: instance_of(&done[0], &master.id),
            klip_b: instance_of(&done[1], &master.id),
            sales_a: instance_of(&done[0], &sales.id),
            board_a: instance_of(&done[0], &board.id),
            world,
            family,
            sales,
            master,
        }
    }

    async fn klip_in(&self, account: uuid::Uuid, id: &str) -> lib::Klip {
        get_klip(&self.world.library, account, id).await.unwrap()
    }

    async fn update(&self, request: imp::UpdateInstancesRequest) -> UpdateStream {
        update_instances(&self.world.imports, self.family.partner, request)
            .await
            .unwrap()
    }

    async fn status_of_a(&self) -> imp::Instance {
        let instance = klip_ref(&self.klip_a);
        status_of(&self.world.imports, self.family.client_a, instance).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_overwrites_a_drifted_instance_and_refuses_one_whose_master_gained_a_data_source()
{
    let setup = Revenue::start().await;
    let refunds = a_master_gaining_a_data_source_requires_reimport(&setup).await;
    a_reimport_in_place_keeps_the_ids(&setup, &refunds).await;
    let version_a = a_dry_run_reports_what_an_update_overwrites(&setup).await;
    an_update_overwrites_the_drifted_instance_once(&setup, version_a).await;
}

/// Client A edits its instance; the master then binds a second data source (answered): an
/// update leaves both instances untouched (I10).
async fn a_master_gaining_a_data_source_requires_reimport(setup: &Revenue) -> lib::DataSource {
    let (world, family) = (&setup.world, setup.family);
    let library = &world.library;
    let edited = ["SUM(@0.amount)", "MAX(@0.amount)"];
    edit_klip(library, family.client_a, &setup.klip_a, &edited, None).await;
    let url = "https://api.example.test/r";
    let refunds = data_source(library, family.partner, "Refunds", url, None).await;
    let formulas = ["SUM(@0.amount)", "AVERAGE(@0.amount)", "COUNT(@1.id)"];
    let bindings = [setup.sales.id.as_str(), &refunds.id];
    edit_klip(
        library,
        family.partner,
        &setup.master.id,
        &formulas,
        Some(&bindings),
    )
    .await;
    for instance in instances(&world.imports, family.partner, klip_ref(&setup.master.id)).await {
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
    let refused = setup
        .update(update(&setup.master.id, &request_id(), false))
        .await;
    assert_eq!(refused.summary.as_ref().unwrap().requires_reimport, 2);
    let untouched = setup.klip_in(family.client_a, &setup.klip_a).await;
    assert_eq!(untouched.components[1].formula, "MAX(@0.amount)");
    refunds
}

/// I12: re-import in place; the instance and its data source keep their ids and the new
/// data source is imported alongside.
async fn a_reimport_in_place_keeps_the_ids(setup: &Revenue, refunds: &lib::DataSource) {
    let (world, family) = (&setup.world, setup.family);
    let before = setup.klip_in(family.client_a, &setup.klip_a).await;
    let mode = imp::ReimportMode::InPlace;
    let instance = klip_ref(&setup.klip_a);
    let reimported = reimport_ok(&world.imports, &admin(family.client_a), instance, mode).await;
    assert_eq!(reimported.kind(), imp::ImportKind::ReimportInPlace);
    assert_eq!(
        instance_of(&reimported, &setup.master.id),
        setup.klip_a,
        "the Klip keeps its id"
    );
    assert_eq!(
        instance_of(&reimported, &setup.sales.id),
        setup.sales_a,
        "its data source too"
    );
    let refunds_a = instance_of(&reimported, &refunds.id);
    let after = setup.klip_in(family.client_a, &setup.klip_a).await;
    assert!(after.version > before.version);
    assert_eq!(
        after
            .bindings
            .iter()
            .map(|b| b.data_source_id.clone())
            .collect::<Vec<_>>(),
        [setup.sales_a.clone(), refunds_a]
    );
    assert_eq!(formulas(&after).len(), 3);
    let shown = get_dashboard(&world.library, family.client_a, &setup.board_a).await;
    assert_eq!(
        shown.klip_ids,
        std::slice::from_ref(&setup.klip_a),
        "the dashboard still shows it"
    );
    assert_eq!(
        setup.status_of_a().await.status(),
        imp::InstanceStatus::InSync
    );
    assert_eq!(
        asset_counts(&world.library, family.client_a).await,
        [2, 1, 1],
        "no second copy"
    );
}

/// Client A edits again (drift); the master changes a formula (outdated). The dry run
/// tells what the update would overwrite, and changes nothing. Answers A's version.
async fn a_dry_run_reports_what_an_update_overwrites(setup: &Revenue) -> i64 {
    let family = setup.family;
    let library = &setup.world.library;
    let edited = ["SUM(@0.amount) * 100", "AVERAGE(@0.amount)", "COUNT(@1.id)"];
    edit_klip(library, family.client_a, &setup.klip_a, &edited, None).await;
    let rounded = [
        "SUM(@0.amount)",
        "ROUND(AVERAGE(@0.amount), 2)",
        "COUNT(@1.id)",
    ];
    edit_klip(library, family.partner, &setup.master.id, &rounded, None).await;
    let a = setup.status_of_a().await;
    assert_eq!(a.status(), imp::InstanceStatus::Drift, "{a:?}");
    let version_a = setup.klip_in(family.client_a, &setup.klip_a).await.version;

    let dry = setup.update(update(&setup.master.id, "", true)).await;
    let would = dry.result(&setup.klip_a);
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
        dry.result(&setup.klip_b).outcome(),
        imp::UpdateOutcome::RequiresReimport
    );
    assert_eq!(dry.summary.as_ref().unwrap().would_update, 1);
    assert_eq!(
        setup.klip_in(family.client_a, &setup.klip_a).await.version,
        version_a,
        "a dry run changes nothing"
    );
    version_a
}

/// The update: A overwritten (I9), B left alone (I10); progress streams. A retry of the
/// same update reports what it did and changes nothing again.
async fn an_update_overwrites_the_drifted_instance_once(setup: &Revenue, version_a: i64) {
    let family = setup.family;
    let b_before = setup.klip_in(family.client_b, &setup.klip_b).await;
    let update_id = request_id();
    let done = setup
        .update(update(&setup.master.id, &update_id, false))
        .await;
    let updated = done.result(&setup.klip_a);
    assert_eq!(
        updated.outcome(),
        imp::UpdateOutcome::Updated,
        "{updated:?}"
    );
    assert!(updated.instance_version > version_a);
    let skipped = done.result(&setup.klip_b);
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

    let master_now = setup.klip_in(family.partner, &setup.master.id).await;
    let a_now = setup.klip_in(family.client_a, &setup.klip_a).await;
    assert_eq!(a_now.id, setup.klip_a, "the instance keeps its id");
    assert_eq!(formulas(&a_now), formulas(&master_now));
    assert_eq!(
        a_now.bindings[0].data_source_id, setup.sales_a,
        "bindings mapped to its own data sources"
    );
    let b_now = setup.klip_in(family.client_b, &setup.klip_b).await;
    assert_eq!(b_now.version, b_before.version, "untouched");
    assert_eq!(
        setup.status_of_a().await.status(),
        imp::InstanceStatus::InSync
    );

    let retried = setup
        .update(update(&setup.master.id, &update_id, false))
        .await;
    assert_eq!(retried.result(&setup.klip_a), updated);
    assert_eq!(
        setup.klip_in(family.client_a, &setup.klip_a).await.version,
        a_now.version
    );
}
