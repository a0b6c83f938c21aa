//! Seeds the demo through the library's public API, as an engineer would with grpcurl.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::Request;
use trellis_platform::auth::{Role, TokenMinter};
use trellis_platform::client::{self, TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::gate::role_to_wire;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use uuid::Uuid;

/// What the walkthrough's shell variables hold: ids and development tokens.
pub type DemoEnv = BTreeMap<String, String>;

/// Seeds the demo into the library at `library_url`; the data source reads `data_url`.
pub async fn seed(
    library_url: &str,
    data_url: &str,
    minter: &TokenMinter,
) -> anyhow::Result<DemoEnv> {
    let channel = client::channel(library_url)?;
    wait_until_serving(channel.clone()).await?;
    let mut library = LibraryServiceClient::new(channel);
    let ttl = Duration::from_secs(12 * 3600);
    // An operator creates the partner and its first admin; the rest is the partner's work.
    let service = minter.service_token_for(&ServiceKind::ALL, ttl);

    let partner = create_account(
        &mut library,
        &service,
        "Northwind Agency",
        library::AccountKind::Partner,
        None,
    )
    .await?;
    const AGENCY_ADMIN: &str = "ada@northwind.example";
    add_member(&mut library, &service, partner, AGENCY_ADMIN, Role::Admin).await?;
    let partner_token = minter.mint(AGENCY_ADMIN, Some(partner), Role::Admin, ttl);

    // The partner views every client's data through a user input that sets companyID (I13).
    library
        .create_variable(authorized(
            library::CreateVariableRequest {
                request_id: Uuid::new_v4().to_string(),
                variable: Some(library::Variable {
                    account_id: partner.to_string(),
                    name: "companyID".into(),
                    default_value: "northwind".into(),
                    description: "The company whose data the partner is looking at".into(),
                    ..Default::default()
                }),
            },
            &partner_token,
        ))
        .await?;

    let data_source = library
        .create_data_source(authorized(
            library::CreateDataSourceRequest {
                request_id: Uuid::new_v4().to_string(),
                data_source: Some(library::DataSource {
                    account_id: partner.to_string(),
                    name: "Monthly sales".into(),
                    request: Some(library::HttpRequestTemplate {
                        method: library::HttpMethod::Get as i32,
                        url: format!("{data_url}/companies/{{props.companyID}}/sales.json"),
                        ..Default::default()
                    }),
                    format: library::DataFormat::Json as i32,
                    auth: Some(library::DataSourceAuth {
                        kind: library::AuthKind::None as i32,
                        method: Some(library::data_source_auth::Method::None(())),
                    }),
                    refresh_interval: Some(prost_types::Duration {
                        seconds: 900,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
            },
            &partner_token,
        ))
        .await?
        .into_inner()
        .data_source
        .ok_or_else(|| anyhow::anyhow!("no data source in the answer"))?;

    let klip = library
        .create_klip(authorized(
            library::CreateKlipRequest {
                request_id: Uuid::new_v4().to_string(),
                klip: Some(library::Klip {
                    account_id: partner.to_string(),
                    name: "Sales this year".into(),
                    components: vec![
                        component("Months", "@0.sales.month"),
                        component("Sales", "@0.sales.amount"),
                        component("Total", "SUM(@0.sales.amount)"),
                        component("Best month", "MAX(@0.sales.amount)"),
                    ],
                    bindings: vec![library::Binding {
                        data_source_id: data_source.id.clone(),
                    }],
                    ..Default::default()
                }),
            },
            &partner_token,
        ))
        .await?
        .into_inner()
        .klip
        .ok_or_else(|| anyhow::anyhow!("no Klip in the answer"))?;

    let dashboard = library
        .create_dashboard(authorized(
            library::CreateDashboardRequest {
                request_id: Uuid::new_v4().to_string(),
                dashboard: Some(library::Dashboard {
                    account_id: partner.to_string(),
                    name: "Client overview".into(),
                    klip_ids: vec![klip.id.clone()],
                    ..Default::default()
                }),
            },
            &partner_token,
        ))
        .await?
        .into_inner()
        .dashboard
        .ok_or_else(|| anyhow::anyhow!("no dashboard in the answer"))?;

    let mut env = DemoEnv::new();
    env.insert("PARTNER".into(), partner.to_string());
    env.insert("PARTNER_TOKEN".into(), partner_token.clone());
    env.insert("DATA_SOURCE".into(), data_source.id);
    env.insert("KLIP".into(), klip.id);
    env.insert("DASHBOARD".into(), dashboard.id);

    // Each client gives companyID its own value as a company property (I13).
    for (label, name, company) in [
        ("CLIENT_A", "Acme Corp", "acme"),
        ("CLIENT_B", "Globex", "globex"),
    ] {
        let client = create_account(
            &mut library,
            &partner_token,
            name,
            library::AccountKind::Client,
            Some(partner),
        )
        .await?;
        // The client's own admin is a member of the client alone; the walkthrough signs
        // into the client as the agency's admin, who may import from the partner (I15).
        add_member(
            &mut library,
            &partner_token,
            client,
            &format!("admin@{company}.example"),
            Role::Admin,
        )
        .await?;
        let token = minter.mint(AGENCY_ADMIN, Some(client), Role::Admin, ttl);
        library
            .set_company_property(authorized(
                library::SetCompanyPropertyRequest {
                    request_id: Uuid::new_v4().to_string(),
                    property: Some(library::CompanyProperty {
                        account_id: client.to_string(),
                        name: "companyID".into(),
                        value: company.into(),
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await?;
        env.insert(label.into(), client.to_string());
        env.insert(format!("{label}_TOKEN"), token);
    }
    env.insert("SERVICE_TOKEN".into(), service);
    Ok(env)
}

fn component(name: &str, formula: &str) -> library::Component {
    library::Component {
        name: name.into(),
        formula: formula.into(),
    }
}

async fn add_member(
    library: &mut LibraryServiceClient<TracedChannel>,
    bearer: &str,
    account: Uuid,
    user: &str,
    role: Role,
) -> anyhow::Result<()> {
    library
        .create_membership(authorized(
            library::CreateMembershipRequest {
                request_id: Uuid::new_v4().to_string(),
                membership: Some(library::Membership {
                    user_id: user.to_owned(),
                    account_id: account.to_string(),
                    role: role_to_wire(Some(role)) as i32,
                    create_time: None,
                }),
            },
            bearer,
        ))
        .await?;
    Ok(())
}

async fn create_account(
    library: &mut LibraryServiceClient<TracedChannel>,
    bearer: &str,
    name: &str,
    kind: library::AccountKind,
    parent: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    let account = library
        .create_account(authorized(
            library::CreateAccountRequest {
                request_id: Uuid::new_v4().to_string(),
                account: Some(library::Account {
                    kind: kind as i32,
                    parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                    display_name: name.into(),
                    ..Default::default()
                }),
            },
            bearer,
        ))
        .await?
        .into_inner()
        .account
        .ok_or_else(|| anyhow::anyhow!("no account in the answer"))?;
    Ok(account.id.parse()?)
}

async fn wait_until_serving(channel: TracedChannel) -> anyhow::Result<()> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let mut health = HealthClient::new(channel);
    for _ in 0..300 {
        let status = health
            .check(Request::new(tonic_health::pb::HealthCheckRequest::default()))
            .await
            .map(|response| response.into_inner().status);
        if status.is_ok_and(|status| status == ServingStatus::Serving as i32) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the library did not become ready")
}

/// The env file the README sources: `export NAME='value'` lines.
pub fn env_file(env: &DemoEnv) -> String {
    env.iter()
        .map(|(name, value)| format!("export {name}='{value}'\n"))
        .collect()
}
