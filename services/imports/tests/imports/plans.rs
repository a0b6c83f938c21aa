//! Plans (I8): every associated asset and the warnings; a plan executes exactly as planned,
//! once, and a stale one is refused.

use tonic::Code;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::tokens;

use crate::common::*;

fn warnings_of(plan: &imp::ImportPlan, kind: imp::PlanWarningKind) -> Vec<&imp::PlanWarning> {
    plan.warnings.iter().filter(|w| w.kind() == kind).collect()
}

/// The partner's masters: Sales over a data source by company (a variable the client
/// lacks) and one by region (nothing resolves it), and Dangling over a deleted one.
struct Masters {
    by_company: lib::DataSource,
    by_region: lib::DataSource,
    sales: lib::Klip,
    dangling: lib::Klip,
}

impl Masters {
    async fn create(library: &Library, family: Family) -> Self {
        variable(library, family.partner, "companyID", "agency-default").await;
        variable(library, family.partner, "threshold", "10").await;
        variable(library, family.client_a, "threshold", "99").await;
        let url = |query: &str| format!("https://api.example.test/sales?{query}");
        let by_company = url("company={props.companyID}");
        let by_company =
            data_source(library, family.partner, "By company", &by_company, None).await;
        let by_region = url("region={props.region}");
        let by_region = data_source(library, family.partner, "By region", &by_region, None).await;
        let formulas = ["SUM(@0.amount) + $threshold", "SUM(@1.amount)"];
        let bindings = [by_company.id.as_str(), &by_region.id];
        let sales = klip(library, family.partner, "Sales", &formulas, &bindings).await;
        let (doomed, dangling) = master_klip(
            library,
            family.partner,
            "Doomed",
            "https://api.example.test/x",
            &["@0.a"],
        )
        .await;
        // A forced delete leaves the Klip's binding dangling.
        delete_data_source(library, family.partner, &doomed.id, true).await;
        Self {
            by_company,
            by_region,
            sales,
            dangling,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_lists_associated_assets_and_warns_about_what_the_destination_lacks() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let masters = Masters::create(library, family).await;

    let selection = vec![klip_ref(&masters.sales.id), klip_ref(&masters.dangling.id)];
    let planned = plan(
        &world.imports,
        family.client_a,
        family.partner,
        selection.clone(),
    )
    .await
    .unwrap();
    assert_eq!(planned.items.len(), 4, "two Klips and two data sources");
    assert!(!planned.etag.is_empty());
    assert_eq!(planned.state(), imp::PlanState::Open);

    let unresolved = warnings_of(&planned, imp::PlanWarningKind::UnresolvedProperty);
    assert_eq!(unresolved.len(), 2, "{:?}", planned.warnings);
    let warning_on = |source: &lib::DataSource| {
        *unresolved
            .iter()
            .find(|w| w.subject_id == source.id)
            .unwrap()
    };
    let company = warning_on(&masters.by_company);
    assert!(company.message.contains("{props.companyID}"));
    assert!(
        company.message.contains("master's default"),
        "{}",
        company.message
    );
    let region = warning_on(&masters.by_region);
    assert!(
        region.message.contains("resolves to nothing"),
        "{}",
        region.message
    );
    assert!(unresolved.iter().all(|w| !w.blocking));

    let exists = warnings_of(&planned, imp::PlanWarningKind::VariableExists);
    assert_eq!(exists.len(), 1);
    assert_eq!(exists[0].subject_id, "threshold");
    assert_eq!(
        planned.variables,
        ["companyID"],
        "only what the client lacks is created"
    );
    assert_eq!(
        warnings_of(&planned, imp::PlanWarningKind::MissingDependency).len(),
        1,
        "the dangling binding"
    );

    // Nothing is copied by planning; executing imports exactly the plan.
    assert_eq!(asset_counts(library, family.client_a).await, [0, 0, 0]);
    let done = execute(&world.imports, family.client_a, &planned, &request_id())
        .await
        .unwrap();
    assert_eq!(done.state(), imp::ImportState::Succeeded, "{}", done.error);
    assert_eq!(asset_counts(library, family.client_a).await, [2, 2, 0]);

    planning_again_sees_the_instances(&world, family, &masters, selection, &done).await;
    the_destination_reads_the_executed_plan(&world, family, &planned, &done).await;
}

/// Planning again: the destination has instances already (I7 makes another copy), and a
/// company property now resolves what the imported variable only defaulted.
async fn planning_again_sees_the_instances(
    world: &World,
    family: Family,
    masters: &Masters,
    selection: Vec<imp::AssetRef>,
    done: &imp::Import,
) {
    let again = plan(&world.imports, family.client_a, family.partner, selection)
        .await
        .unwrap();
    let already = warnings_of(&again, imp::PlanWarningKind::AlreadyImported);
    assert_eq!(already.len(), 4);
    let item = again
        .items
        .iter()
        .find(|i| i.asset.as_ref().unwrap().id == masters.sales.id)
        .unwrap();
    assert_eq!(
        item.existing_instance_ids,
        [instance_of(done, &masters.sales.id)]
    );
    company_property(&world.library, family.client_a, "companyID", "acme").await;
    let sales = vec![klip_ref(&masters.sales.id)];
    let resolved = plan(&world.imports, family.client_a, family.partner, sales)
        .await
        .unwrap();
    let unresolved = warnings_of(&resolved, imp::PlanWarningKind::UnresolvedProperty);
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0].subject_id, masters.by_region.id);
}

/// GetImportPlan: the destination's members read it; it is executed now.
async fn the_destination_reads_the_executed_plan(
    world: &World,
    family: Family,
    planned: &imp::ImportPlan,
    done: &imp::Import,
) {
    let get = |bearer: String| {
        let mut imports = world.imports.clone();
        let request = imp::GetImportPlanRequest {
            id: planned.id.clone(),
        };
        async move { imports.get_import_plan(call(request, &bearer)).await }
    };
    let read = get(tokens::viewer(family.client_a))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(read.state(), imp::PlanState::Executed);
    assert_eq!(read.import_id, done.id);
    failure(get(admin(family.partner)).await, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_plan_is_refused_and_a_plan_executes_once() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let (source, orders, board) = ops_dashboard(library, family.partner).await;
    let selection = vec![dashboard_ref(&board.id)];
    let plan_now = || {
        plan(
            &world.imports,
            family.client_a,
            family.partner,
            selection.clone(),
        )
    };

    // The master Klip changes between planning and executing.
    let stale = plan_now().await.unwrap();
    let doubled = ["COUNT(@0.id) * 2"];
    edit_klip(library, family.partner, &orders.id, &doubled, None).await;
    let refused = execute(&world.imports, family.client_a, &stale, &request_id()).await;
    let violations = preconditions(refused);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].r#type, "SOURCE_CHANGED");
    assert_eq!(violations[0].subject, format!("klips/{}", orders.id));
    assert!(
        violations[0].description.contains("version 1 → 2"),
        "{violations:?}"
    );
    assert_eq!(asset_counts(library, family.client_a).await, [0, 0, 0]);

    // A data source added to the Klip is named too.
    let url = "https://api.example.test/r";
    let extra = data_source(library, family.partner, "Refunds", url, None).await;
    let fresh = plan_now().await.unwrap();
    let formulas = ["COUNT(@0.id) - COUNT(@1.id)"];
    let bindings = [source.id.as_str(), &extra.id];
    edit_klip(
        library,
        family.partner,
        &orders.id,
        &formulas,
        Some(&bindings),
    )
    .await;
    let refused = execute(&world.imports, family.client_a, &fresh, &request_id()).await;
    let subjects: Vec<String> = preconditions(refused)
        .into_iter()
        .map(|v| v.subject)
        .collect();
    assert!(
        subjects.contains(&format!("data_sources/{}", extra.id)),
        "{subjects:?}"
    );

    let current = plan_now().await.unwrap();
    a_plan_executes_once_as_reviewed(&world, family, &current).await;
}

/// The etag reviewed must be the plan's; executed once, a retry with the same request id
/// returns the same import, and under another request id the plan is spent.
async fn a_plan_executes_once_as_reviewed(
    world: &World,
    family: Family,
    current: &imp::ImportPlan,
) {
    let mut tampered = current.clone();
    tampered.etag = "not-the-etag".into();
    failure(
        execute(&world.imports, family.client_a, &tampered, &request_id()).await,
        Code::Aborted,
    );

    let first_id = request_id();
    let done = execute(&world.imports, family.client_a, current, &first_id)
        .await
        .unwrap();
    assert_eq!(done.state(), imp::ImportState::Succeeded, "{}", done.error);
    assert_eq!(done.plan_id, current.id);
    let retried = execute(&world.imports, family.client_a, current, &first_id)
        .await
        .unwrap();
    assert_eq!(retried.id, done.id);
    assert_eq!(retried.mappings, done.mappings);
    assert_eq!(
        asset_counts(&world.library, family.client_a).await,
        [2, 1, 1],
        "one copy"
    );
    let spent = execute(&world.imports, family.client_a, current, &request_id()).await;
    let violation = &preconditions(spent)[0];
    assert_eq!(violation.r#type, "PLAN_EXECUTED");
    assert!(violation.description.contains(&done.id));
    assert_eq!(
        asset_counts(&world.library, family.client_a).await,
        [2, 1, 1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_whose_selected_asset_was_deleted_is_refused() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let url = "https://api.example.test/l";
    let lone = data_source(library, family.partner, "Lone", url, None).await;
    let selection = vec![data_source_ref(&lone.id)];
    let doomed = plan(&world.imports, family.client_b, family.partner, selection)
        .await
        .unwrap();
    delete_data_source(library, family.partner, &lone.id, false).await;
    let refused = execute(&world.imports, family.client_b, &doomed, &request_id()).await;
    let violation = &preconditions(refused)[0];
    assert_eq!(violation.subject, format!("data_sources/{}", lone.id));
    assert_eq!(asset_counts(library, family.client_b).await, [0, 0, 0]);
}
