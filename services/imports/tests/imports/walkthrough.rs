//! The Company Properties walkthrough of seed 000: a partner builds a dynamic data source on
//! `{props.companyID}`, a Klip using it and a dashboard; two clients with their own
//! `companyID` company property import the dashboard, and each instance fetches its own
//! client's data (I3, I4, I7, I8, I13).

use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

async fn resolve(
    library: &Library,
    account: Uuid,
    data_source: &str,
    bearer: &str,
) -> lib::ResolvedRequest {
    library
        .clone()
        .resolve_data_source(call(
            lib::ResolveDataSourceRequest {
                data_source_id: data_source.into(),
                account_id: account.to_string(),
                user_id: String::new(),
                date_range: None,
            },
            bearer,
        ))
        .await
        .expect("ResolveDataSource")
        .into_inner()
        .resolved_request
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_client_instance_of_a_dynamic_dashboard_resolves_to_its_own_company_id() {
    let world = World::start().await;
    let family = world.family().await;
    let library = &world.library;

    // In the partner: a user input sets the variable companyID, used by a dynamic data
    // source, a Klip over it, and a dashboard showing the Klip.
    variable(library, family.partner, "companyID", "").await;
    library
        .clone()
        .set_user_variable_value(call(
            lib::SetUserVariableValueRequest {
                request_id: String::new(),
                account_id: String::new(),
                user_id: String::new(),
                name: "companyID".into(),
                value: "all-clients".into(),
                clear: false,
            },
            &admin(family.partner),
        ))
        .await
        .expect("the partner's user input sets companyID");
    let url = "https://api.example.test/sales?company={props.companyID}";
    let formulas = ["SUM(@0.amount)"];
    let (source, sales) =
        master_klip(library, family.partner, "Sales by company", url, &formulas).await;
    let board = dashboard(library, family.partner, "Client overview", &[&sales.id]).await;
    let masters = Masters {
        source: &source,
        sales: &sales,
        board: &board,
    };

    // In each client: the company property, then the import of the dashboard.
    let clients = [
        (family.client_a, "acme-4711"),
        (family.client_b, "globex-0815"),
    ];
    for (client, company) in clients {
        company_property(library, client, "companyID", company).await;
    }
    for (client, company) in clients {
        imported_into(&world, family, client, company, &masters).await;
    }

    // The partner itself still sees the value its user input selected.
    let master = resolve(library, family.partner, &source.id, &admin(family.partner)).await;
    assert_eq!(
        master.url,
        "https://api.example.test/sales?company=all-clients"
    );
    let listed = instances(&world.imports, family.partner, dashboard_ref(&board.id)).await;
    let mut accounts: Vec<String> = listed.iter().map(|i| i.account_id.clone()).collect();
    accounts.sort();
    let mut expected = vec![family.client_a.to_string(), family.client_b.to_string()];
    expected.sort();
    assert_eq!(accounts, expected, "one instance per client");
}

/// The partner's masters the clients import.
struct Masters<'a> {
    source: &'a lib::DataSource,
    sales: &'a lib::Klip,
    board: &'a lib::Dashboard,
}

/// The agency's admin, signed into `client`, plans and executes the import of the
/// dashboard; the instances use the client's own `company` (I3, I4, I7, I8, I11, I13).
async fn imported_into(
    world: &World,
    family: Family,
    client: Uuid,
    company: &str,
    masters: &Masters<'_>,
) {
    let library = &world.library;
    let plan = plan(
        &world.imports,
        client,
        family.partner,
        vec![dashboard_ref(&masters.board.id)],
    )
    .await
    .expect("the agency's admin, signed into the client, plans the import");
    // I3, I8: the dashboard brings its Klip, the Klip its data source.
    let items: Vec<(String, bool)> = plan
        .items
        .iter()
        .map(|i| (i.asset.clone().unwrap().id, i.selected))
        .collect();
    assert_eq!(
        items,
        [
            (masters.source.id.clone(), false),
            (masters.sales.id.clone(), false),
            (masters.board.id.clone(), true)
        ],
        "dependencies first"
    );
    // The company property resolves {props.companyID}: nothing unresolved.
    assert!(
        plan.warnings
            .iter()
            .all(|w| w.kind() != imp::PlanWarningKind::UnresolvedProperty),
        "{:?}",
        plan.warnings
    );
    assert_eq!(
        plan.variables,
        ["companyID"],
        "I4: the variable comes along"
    );

    let done = execute(&world.imports, client, &plan, &request_id())
        .await
        .expect("ExecuteImportPlan");
    assert_eq!(done.state(), imp::ImportState::Succeeded, "{}", done.error);
    assert_eq!(done.mappings.len(), 3);
    assert_eq!(done.variables_created, ["companyID"]);

    // I7: new ids, linked to their masters.
    let source_instance = instance_of(&done, &masters.source.id);
    let klip_instance = instance_of(&done, &masters.sales.id);
    let board_instance = instance_of(&done, &masters.board.id);
    assert_ne!(source_instance, masters.source.id);
    let copied = get_klip(library, client, &klip_instance).await.unwrap();
    assert_eq!(copied.bindings[0].data_source_id, source_instance);
    let shown = get_dashboard(library, client, &board_instance).await;
    assert_eq!(shown.klip_ids, std::slice::from_ref(&klip_instance));

    // I13: the imported dynamic data source uses the client's own company property.
    let resolved = resolve(library, client, &source_instance, &tokens::service()).await;
    assert_eq!(
        resolved.url,
        format!("https://api.example.test/sales?company={company}")
    );
    assert!(resolved.unresolved_properties.is_empty());
    assert_eq!(
        resolved.properties[0].source(),
        lib::PropertySource::CompanyProperty
    );
    // Also for a user signed into the client.
    let for_user = resolve(library, client, &source_instance, &admin(client)).await;
    assert_eq!(for_user.url, resolved.url);

    // The instances are listed with their account and status (I11).
    let instance = status_of(&world.imports, client, klip_ref(&klip_instance)).await;
    assert_eq!(instance.account_id, client.to_string());
    assert_eq!(instance.status(), imp::InstanceStatus::InSync);
}
