//! The first journey: a partner's dashboard, from its account, staff and analytics token to
//! its data sources and Klips.

use trellis_e2e::calls;
use trellis_e2e::cluster::Clients;
use trellis_proto::library::v1 as library;
use trellis_proto::tokens::v1 as tokens;
use trellis_testkit::oauth::{self, OAuthServer};
use trellis_testkit::otlp::OtlpReceiver;
use trellis_testkit::tokens as test_tokens;
use uuid::Uuid;

use crate::{Journey, REDIRECT_URI, World};

pub(crate) async fn build_a_partners_dashboard(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    oauth: &OAuthServer,
    sales_api: &str,
) -> World {
    let mut journey = Journey::new("build a partner's dashboard");
    let service = test_tokens::service();
    let partner = clients
        .library
        .create_account(journey.request(
            library::CreateAccountRequest {
                request_id: Uuid::new_v4().to_string(),
                account: Some(library::Account {
                    kind: library::AccountKind::Partner as i32,
                    display_name: "Northwind Agency".into(),
                    ..Default::default()
                }),
            },
            &service,
        ))
        .await
        .expect("CreateAccount")
        .into_inner()
        .account
        .expect("an account");
    let partner: Uuid = partner.id.parse().expect("a uuid");
    // The agency's staff: the test users are members of the partner, so its admin is also
    // an admin of each of its clients (I15), and imports from the partner into them.
    trellis_testkit::members::enroll(&clients.library_channel, partner).await;
    let admin = test_tokens::admin(partner);

    // The partner connects its analytics account (OAuth code flow at a real provider).
    let provider = clients
        .tokens
        .create_provider(journey.request(
            tokens::CreateProviderRequest {
                request_id: String::new(),
                provider: Some(tokens::Provider {
                    max_tokens_per_user: 100,
                    ..oauth.provider()
                }),
            },
            &service,
        ))
        .await
        .expect("CreateProvider")
        .into_inner()
        .provider
        .expect("a provider");
    let token_id = authorize(clients, &mut journey, partner, &provider.id, None).await;

    let variable = library::CreateVariableRequest {
        request_id: Uuid::new_v4().to_string(),
        variable: Some(library::Variable {
            name: "companyID".into(),
            default_value: "northwind".into(),
            ..Default::default()
        }),
    };
    clients
        .library
        .create_variable(journey.request(variable, &admin))
        .await
        .expect("CreateVariable");
    let sales = create_data_source(
        clients,
        &mut journey,
        &admin,
        "Monthly sales",
        &format!("{sales_api}/companies/{{props.companyID}}/sales.json"),
        library::data_source_auth::Method::None(()),
        library::AuthKind::None,
    )
    .await;
    let analytics = create_data_source(
        clients,
        &mut journey,
        &admin,
        "Visits",
        &oauth.resource_url(),
        library::data_source_auth::Method::TokenId(token_id.clone()),
        library::AuthKind::OauthToken,
    )
    .await;
    let sales_klip = create_klip(
        clients,
        &mut journey,
        &admin,
        "Sales",
        "SUM(@0.sales.amount)",
        &sales,
    )
    .await;
    let visits_klip = create_klip(
        clients,
        &mut journey,
        &admin,
        "Visits",
        "COUNT(@0)",
        &analytics,
    )
    .await;
    let dashboard = clients
        .library
        .create_dashboard(journey.request(
            library::CreateDashboardRequest {
                request_id: Uuid::new_v4().to_string(),
                dashboard: Some(library::Dashboard {
                    name: "Client overview".into(),
                    klip_ids: vec![sales_klip.clone(), visits_klip],
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreateDashboard")
        .into_inner()
        .dashboard
        .expect("a dashboard");

    journey.check_trace(receiver, &["library", "tokens"]).await;
    World {
        partner,
        clients: Vec::new(),
        token_id,
        sales_klip,
        dashboard: dashboard.id,
        acme_klip: String::new(),
    }
}

/// The OAuth code flow as a browser would walk it; returns the token id.
pub(crate) async fn authorize(
    clients: &mut Clients,
    journey: &mut Journey,
    account: Uuid,
    provider_id: &str,
    token_id: Option<&str>,
) -> String {
    let admin = test_tokens::admin(account);
    let begun = clients
        .tokens
        .begin_authorization(journey.request(
            tokens::BeginAuthorizationRequest {
                request_id: String::new(),
                account_id: String::new(),
                provider_id: provider_id.to_owned(),
                redirect_uri: REDIRECT_URI.into(),
                display_name: "Marketing analytics".into(),
                token_id: token_id.unwrap_or_default().to_owned(),
            },
            &admin,
        ))
        .await
        .expect("BeginAuthorization")
        .into_inner();
    let code = oauth::consent(&begun.authorization_url).await;
    clients
        .tokens
        .complete_authorization(journey.request(
            tokens::CompleteAuthorizationRequest {
                request_id: Uuid::new_v4().to_string(),
                state: begun.state,
                code,
                error: String::new(),
            },
            &admin,
        ))
        .await
        .expect("CompleteAuthorization")
        .into_inner()
        .token
        .expect("a token")
        .id
}

async fn create_data_source(
    clients: &mut Clients,
    journey: &mut Journey,
    admin: &str,
    name: &str,
    url: &str,
    method: library::data_source_auth::Method,
    kind: library::AuthKind,
) -> String {
    clients
        .library
        .create_data_source(journey.request(
            library::CreateDataSourceRequest {
                request_id: Uuid::new_v4().to_string(),
                data_source: Some(library::DataSource {
                    auth: Some(library::DataSourceAuth {
                        kind: kind as i32,
                        method: Some(method),
                    }),
                    refresh_interval: Some(prost_types::Duration {
                        seconds: 900,
                        nanos: 0,
                    }),
                    ..calls::data_source(None, name, url)
                }),
            },
            admin,
        ))
        .await
        .expect("CreateDataSource")
        .into_inner()
        .data_source
        .expect("a data source")
        .id
}

async fn create_klip(
    clients: &mut Clients,
    journey: &mut Journey,
    admin: &str,
    name: &str,
    formula: &str,
    data_source: &str,
) -> String {
    clients
        .library
        .create_klip(journey.request(
            library::CreateKlipRequest {
                request_id: Uuid::new_v4().to_string(),
                klip: Some(library::Klip {
                    name: name.into(),
                    components: vec![library::Component {
                        name: "Total".into(),
                        formula: formula.into(),
                    }],
                    bindings: vec![library::Binding {
                        data_source_id: data_source.into(),
                    }],
                    ..Default::default()
                }),
            },
            admin,
        ))
        .await
        .expect("CreateKlip")
        .into_inner()
        .klip
        .expect("a Klip")
        .id
}
