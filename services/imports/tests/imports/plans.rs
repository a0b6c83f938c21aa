//! Plans (I8): every associated asset and the warnings; a plan executes exactly as planned,
//! once, and a stale one is refused.

use tonic::Code;
use tonic_types::StatusExt;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

fn warnings_of(plan: &imp::ImportPlan, kind: imp::PlanWarningKind) -> Vec<&imp::PlanWarning> {
    plan.warnings.iter().filter(|w| w.kind() == kind).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_lists_associated_assets_and_warns_about_what_the_destination_lacks() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    variable(library, family.partner, "companyID", "agency-default").await;
    variable(library, family.partner, "threshold", "10").await;
    variable(library, family.client_a, "threshold", "99").await;
    let by_company = data_source(
        library,
        family.partner,
        "By company",
        "https://api.example.test/sales?company={props.companyID}",
        None,
    )
    .await;
    let by_region = data_source(
        library,
        family.partner,
        "By region",
        "https://api.example.test/sales?region={props.region}",
        None,
    )
    .await;
    let doomed = data_source(
        library,
        family.partner,
        "Doomed",
        "https://api.example.test/x",
        None,
    )
    .await;
    let sales = klip(
        library,
        family.partner,
        "Sales",
        &["SUM(@0.amount) + $threshold", "SUM(@1.amount)"],
        &[&by_company.id, &by_region.id],
    )
    .await;
    let dangling = klip(
        library,
        family.partner,
        "Dangling",
        &["@0.a"],
        &[&doomed.id],
    )
    .await;
    library
        .clone()
        .delete_data_source(call(
            lib::DeleteDataSourceRequest {
                request_id: String::new(),
                id: doomed.id.clone(),
                account_id: String::new(),
                etag: String::new(),
                force: true,
            },
            &admin(family.partner),
        ))
        .await
        .expect("a forced delete leaves the Klip's binding dangling");

    let selection = vec![klip_ref(&sales.id), klip_ref(&dangling.id)];
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
    let company = unresolved
        .iter()
        .find(|w| w.subject_id == by_company.id)
        .unwrap();
    assert!(company.message.contains("{props.companyID}"));
    assert!(
        company.message.contains("master's default"),
        "{}",
        company.message
    );
    let region = unresolved
        .iter()
        .find(|w| w.subject_id == by_region.id)
        .unwrap();
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

    // Planning again: the destination has instances already (I7 makes another copy).
    let again = plan(&world.imports, family.client_a, family.partner, selection)
        .await
        .unwrap();
    let already = warnings_of(&again, imp::PlanWarningKind::AlreadyImported);
    assert_eq!(already.len(), 4);
    let item = again
        .items
        .iter()
        .find(|i| i.asset.as_ref().unwrap().id == sales.id)
        .unwrap();
    assert_eq!(item.existing_instance_ids, [instance_of(&done, &sales.id)]);
    // The company property now resolves what the imported variable only defaulted.
    company_property(library, family.client_a, "companyID", "acme").await;
    let resolved = plan(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&sales.id)],
    )
    .await
    .unwrap();
    let unresolved = warnings_of(&resolved, imp::PlanWarningKind::UnresolvedProperty);
    assert_eq!(unresolved.len(), 1);
    assert_eq!(unresolved[0].subject_id, by_region.id);

    // GetImportPlan: the destination's members read it; it is executed now.
    let read = world
        .imports
        .clone()
        .get_import_plan(call(
            imp::GetImportPlanRequest {
                id: planned.id.clone(),
            },
            &tokens::viewer(family.client_a),
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(read.state(), imp::PlanState::Executed);
    assert_eq!(read.import_id, done.id);
    let by_partner = world
        .imports
        .clone()
        .get_import_plan(call(
            imp::GetImportPlanRequest {
                id: planned.id.clone(),
            },
            &admin(family.partner),
        ))
        .await;
    failure(by_partner, Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_plan_is_refused_and_a_plan_executes_once() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;
    let source = data_source(
        library,
        family.partner,
        "Orders",
        "https://api.example.test/o",
        None,
    )
    .await;
    let orders = klip(
        library,
        family.partner,
        "Orders",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await;
    let board = dashboard(library, family.partner, "Ops", &[&orders.id]).await;
    let selection = vec![dashboard_ref(&board.id)];

    // The master Klip changes between planning and executing.
    let stale = plan(
        &world.imports,
        family.client_a,
        family.partner,
        selection.clone(),
    )
    .await
    .unwrap();
    edit_klip(
        library,
        family.partner,
        &orders.id,
        &["COUNT(@0.id) * 2"],
        None,
    )
    .await;
    let refused = execute(&world.imports, family.client_a, &stale, &request_id()).await;
    let status = failure(refused, Code::FailedPrecondition);
    let violations = status
        .get_details_precondition_failure()
        .expect("a PreconditionFailure")
        .violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].r#type, "SOURCE_CHANGED");
    assert_eq!(violations[0].subject, format!("klips/{}", orders.id));
    assert!(
        violations[0].description.contains("version 1 → 2"),
        "{violations:?}"
    );
    assert_eq!(asset_counts(library, family.client_a).await, [0, 0, 0]);

    // A data source added to the Klip is named too.
    let extra = data_source(
        library,
        family.partner,
        "Refunds",
        "https://api.example.test/r",
        None,
    )
    .await;
    let fresh = plan(
        &world.imports,
        family.client_a,
        family.partner,
        selection.clone(),
    )
    .await
    .unwrap();
    edit_klip(
        library,
        family.partner,
        &orders.id,
        &["COUNT(@0.id) - COUNT(@1.id)"],
        Some(&[&source.id, &extra.id]),
    )
    .await;
    let status = failure(
        execute(&world.imports, family.client_a, &fresh, &request_id()).await,
        Code::FailedPrecondition,
    );
    let subjects: Vec<String> = status
        .get_details_precondition_failure()
        .unwrap()
        .violations
        .into_iter()
        .map(|v| v.subject)
        .collect();
    assert!(
        subjects.contains(&format!("data_sources/{}", extra.id)),
        "{subjects:?}"
    );

    // The etag reviewed must be the plan's.
    let current = plan(&world.imports, family.client_a, family.partner, selection)
        .await
        .unwrap();
    let mut tampered = current.clone();
    tampered.etag = "not-the-etag".into();
    failure(
        execute(&world.imports, family.client_a, &tampered, &request_id()).await,
        Code::Aborted,
    );

    // Executed once; a retry with the same request id returns the same import.
    let first_id = request_id();
    let done = execute(&world.imports, family.client_a, &current, &first_id)
        .await
        .unwrap();
    assert_eq!(done.state(), imp::ImportState::Succeeded, "{}", done.error);
    assert_eq!(done.plan_id, current.id);
    let retried = execute(&world.imports, family.client_a, &current, &first_id)
        .await
        .unwrap();
    assert_eq!(retried.id, done.id);
    assert_eq!(retried.mappings, done.mappings);
    assert_eq!(
        asset_counts(library, family.client_a).await,
        [2, 1, 1],
        "one copy"
    );
    // Under another request id the plan is spent.
    let status = failure(
        execute(&world.imports, family.client_a, &current, &request_id()).await,
        Code::FailedPrecondition,
    );
    let violation = &status
        .get_details_precondition_failure()
        .unwrap()
        .violations[0];
    assert_eq!(violation.r#type, "PLAN_EXECUTED");
    assert!(violation.description.contains(&done.id));
    assert_eq!(asset_counts(library, family.client_a).await, [2, 1, 1]);

    // A selected asset deleted since planning.
    let lone = data_source(
        library,
        family.partner,
        "Lone",
        "https://api.example.test/l",
        None,
    )
    .await;
    let doomed = plan(
        &world.imports,
        family.client_b,
        family.partner,
        vec![data_source_ref(&lone.id)],
    )
    .await
    .unwrap();
    library
        .clone()
        .delete_data_source(call(
            lib::DeleteDataSourceRequest {
                request_id: String::new(),
                id: lone.id.clone(),
                account_id: String::new(),
                etag: String::new(),
                force: false,
            },
            &admin(family.partner),
        ))
        .await
        .unwrap();
    let status = failure(
        execute(&world.imports, family.client_b, &doomed, &request_id()).await,
        Code::FailedPrecondition,
    );
    let violation = &status
        .get_details_precondition_failure()
        .unwrap()
        .violations[0];
    assert_eq!(violation.subject, format!("data_sources/{}", lone.id));
    assert_eq!(asset_counts(library, family.client_b).await, [0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_plan_requests_are_invalid_arguments_or_not_found() {
    let world = World::start().await;
    let family = world.family().await;
    let bearer = admin(family.client_a);
    let mut imports = world.imports.clone();

    let empty = imports
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: String::new(),
                destination_account_id: String::new(),
                source_account_id: "not-a-uuid".into(),
                selection: vec![asset(imp::AssetKind::Unspecified, "x"), klip_ref("")],
            },
            &bearer,
        ))
        .await;
    let status = failure(empty, Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for expected in [
        "source_account_id",
        "selection[0].kind",
        "selection[0].id",
        "selection[1].id",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} in {fields:?}"
        );
    }
    let nothing = plan(&world.imports, family.client_a, family.partner, vec![]).await;
    failure(nothing, Code::InvalidArgument);
    let itself = plan(
        &world.imports,
        family.client_a,
        family.client_a,
        vec![klip_ref(&Uuid::new_v4().to_string())],
    )
    .await;
    failure(itself, Code::InvalidArgument);
    let unknown = plan(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&Uuid::new_v4().to_string())],
    )
    .await;
    failure(unknown, Code::NotFound);
    let long_id = imports
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: "x".repeat(200),
                destination_account_id: String::new(),
                source_account_id: family.partner.to_string(),
                selection: vec![klip_ref(&Uuid::new_v4().to_string())],
            },
            &bearer,
        ))
        .await;
    failure(long_id, Code::InvalidArgument);

    for (plan_id, etag, code) in [
        ("", "e", Code::InvalidArgument),
        ("nope", "e", Code::InvalidArgument),
        (
            Uuid::new_v4().to_string().as_str(),
            "",
            Code::InvalidArgument,
        ),
        (Uuid::new_v4().to_string().as_str(), "e", Code::NotFound),
    ] {
        let result = imports
            .execute_import_plan(call(
                imp::ExecuteImportPlanRequest {
                    request_id: String::new(),
                    plan_id: plan_id.into(),
                    etag: etag.into(),
                },
                &bearer,
            ))
            .await;
        failure(result, code);
    }
    let no_token = imports
        .get_import_plan(tonic::Request::new(imp::GetImportPlanRequest {
            id: Uuid::new_v4().to_string(),
        }))
        .await;
    failure(no_token, Code::Unauthenticated);
    let bad_page = imports
        .list_imports(call(
            imp::ListImportsRequest {
                page_token: "%%%".into(),
                ..Default::default()
            },
            &bearer,
        ))
        .await;
    failure(bad_page, Code::InvalidArgument);
}
