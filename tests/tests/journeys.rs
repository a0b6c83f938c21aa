//! The main journeys as users meet them, across the four services running as separate
//! processes: build a partner's dashboard, import it into clients, update the instances,
//! re-authorize a token, refresh through activity, render an embed. Each journey sends one
//! W3C trace id with every call it makes, and checks what the services exported to an OTLP
//! receiver: every service the journey reaches has spans in that one trace, and every span of
//! it hangs from the journey's calls, so nothing was cut off into a trace of its own.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tonic::Request;
use trellis_e2e::cluster::Cluster;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_proto::imports::v1 as imports;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1 as tokens;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use trellis_testkit::{eventually, tokens as test_tokens};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);
const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// One journey: one trace id, and a fresh parent span id for every call it makes.
struct Journey {
    name: &'static str,
    trace_id: String,
    client_spans: Vec<String>,
}

impl Journey {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            trace_id: Uuid::new_v4().simple().to_string(),
            client_spans: Vec::new(),
        }
    }

    /// A request as the journey's client sends it: its bearer token and its trace.
    fn request<T>(&mut self, message: T, bearer: &str) -> Request<T> {
        let span_id = Uuid::new_v4().simple().to_string()[..16].to_owned();
        let mut request = authorized(message, bearer);
        request.metadata_mut().insert(
            "traceparent",
            format!("00-{}-{span_id}-01", self.trace_id)
                .parse()
                .expect("a traceparent"),
        );
        self.client_spans.push(span_id);
        request
    }

    /// Waits until every call of the journey continued its trace in the server it reached,
    /// each of `services` exported spans in the trace, and every span of the trace hangs
    /// from one of the journey's calls.
    async fn check_trace(&self, receiver: &OtlpReceiver, services: &[&str]) -> Vec<ReceivedSpan> {
        let wanted: BTreeSet<&str> = services.iter().copied().collect();
        let spans = eventually(
            &format!("one connected trace across {wanted:?} for {}", self.name),
            WAIT,
            || {
                let spans = receiver.spans_of_trace(&self.trace_id);
                let seen: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
                let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
                let connected = spans.iter().all(|span| {
                    ids.contains(span.parent_span_id.as_str())
                        || self.client_spans.contains(&span.parent_span_id)
                });
                let every_call_continued = self
                    .client_spans
                    .iter()
                    .all(|client| spans.iter().any(|span| &span.parent_span_id == client));
                let done = wanted.iter().all(|service| seen.contains(service))
                    && connected
                    && every_call_continued;
                let result = done.then(|| spans.clone());
                async move { result }
            },
        )
        .await;
        let services_seen: BTreeSet<String> = spans.iter().map(|s| s.service.clone()).collect();
        println!(
            "{}: {} spans in trace {} from {services_seen:?}",
            self.name,
            spans.len(),
            self.trace_id
        );
        spans
    }
}

struct Clients {
    /// The library's channel, for the memberships an operator makes outside the journeys.
    library_channel: TracedChannel,
    library: LibraryServiceClient<TracedChannel>,
    imports: ImportServiceClient<TracedChannel>,
    tokens: TokenServiceClient<TracedChannel>,
    refresh: RefreshServiceClient<TracedChannel>,
}

impl Clients {
    fn of(cluster: &Cluster) -> Self {
        Self {
            library_channel: cluster.channel(ServiceKind::Library),
            library: LibraryServiceClient::new(cluster.channel(ServiceKind::Library)),
            imports: ImportServiceClient::new(cluster.channel(ServiceKind::Imports)),
            tokens: TokenServiceClient::new(cluster.channel(ServiceKind::Tokens)),
            refresh: RefreshServiceClient::new(cluster.channel(ServiceKind::Refresh)),
        }
    }
}

/// What the journeys build on one another.
struct World {
    partner: Uuid,
    clients: Vec<(Uuid, &'static str)>,
    token_id: String,
    sales_klip: String,
    dashboard: String,
    /// Acme's instance of the sales Klip, once imported.
    acme_klip: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn each_journey_across_the_four_processes_is_one_trace() {
    let receiver = OtlpReceiver::start().await;
    let env = HashMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
    ]);
    let cluster = Cluster::start(&env).await;
    let oauth = OAuthServer::start(OAuthServerConfig::default()).await;
    let data_server = trellis_demo::data_server::spawn("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sales API starts");
    let mut clients = Clients::of(&cluster);

    let mut world = build_a_partners_dashboard(
        &mut clients,
        &receiver,
        &oauth,
        &format!("http://{data_server}"),
    )
    .await;
    import_it_into_clients(&mut clients, &receiver, &mut world).await;
    update_the_instances(&mut clients, &receiver, &world).await;
    reauthorize_the_token(&mut clients, &receiver, &oauth, &world).await;
    refresh_through_activity(&mut clients, &receiver, &mut world).await;
    render_an_embed(&mut clients, &receiver, &world).await;
}

async fn build_a_partners_dashboard(
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
                    name: "Test Analytics".into(),
                    authorization_url: oauth.authorization_url(),
                    token_url: oauth.token_url(),
                    revocation_url: oauth.revocation_url(),
                    userinfo_url: oauth.userinfo_url(),
                    client_id: oauth.client_id(),
                    client_secret: oauth.client_secret(),
                    scopes: vec!["analytics.read".into()],
                    max_tokens_per_user: 100,
                    ..Default::default()
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

async fn import_it_into_clients(clients: &mut Clients, receiver: &OtlpReceiver, world: &mut World) {
    let mut journey = Journey::new("import it into clients");
    let partner_admin = test_tokens::admin(world.partner);
    for (name, company) in [("Acme Corp", "acme"), ("Globex", "globex")] {
        let client = clients
            .library
            .create_account(journey.request(
                library::CreateAccountRequest {
                    request_id: Uuid::new_v4().to_string(),
                    account: Some(library::Account {
                        kind: library::AccountKind::Client as i32,
                        parent_id: world.partner.to_string(),
                        display_name: name.into(),
                        ..Default::default()
                    }),
                },
                &partner_admin,
            ))
            .await
            .expect("CreateAccount of a client")
            .into_inner()
            .account
            .expect("an account");
        let client: Uuid = client.id.parse().expect("a uuid");
        let admin = test_tokens::admin(client);
        clients
            .library
            .set_company_property(journey.request(
                library::SetCompanyPropertyRequest {
                    request_id: Uuid::new_v4().to_string(),
                    property: Some(library::CompanyProperty {
                        name: "companyID".into(),
                        value: company.into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("SetCompanyProperty");
        let plan = clients
            .imports
            .create_import_plan(journey.request(
                imports::CreateImportPlanRequest {
                    request_id: String::new(),
                    destination_account_id: client.to_string(),
                    source_account_id: world.partner.to_string(),
                    selection: vec![imports::AssetRef {
                        kind: imports::AssetKind::Dashboard as i32,
                        id: world.dashboard.clone(),
                    }],
                },
                &admin,
            ))
            .await
            .expect("CreateImportPlan")
            .into_inner()
            .plan
            .expect("a plan");
        let import = clients
            .imports
            .execute_import_plan(journey.request(
                imports::ExecuteImportPlanRequest {
                    request_id: Uuid::new_v4().to_string(),
                    plan_id: plan.id,
                    etag: plan.etag,
                },
                &admin,
            ))
            .await
            .expect("ExecuteImportPlan")
            .into_inner()
            .import
            .expect("an import");
        assert_eq!(
            import.state,
            imports::ImportState::Succeeded as i32,
            "{import:?}"
        );
        world.clients.push((client, company));
    }
    // The OAuth data source was shared through a grant, so the token registry took part.
    journey
        .check_trace(receiver, &["library", "imports", "tokens"])
        .await;
}

async fn update_the_instances(clients: &mut Clients, receiver: &OtlpReceiver, world: &World) {
    let mut journey = Journey::new("update the instances");
    let admin = test_tokens::admin(world.partner);
    let klip = clients
        .library
        .get_klip(journey.request(
            library::GetKlipRequest {
                id: world.sales_klip.clone(),
                account_id: String::new(),
            },
            &admin,
        ))
        .await
        .expect("GetKlip")
        .into_inner()
        .klip
        .expect("a Klip");
    clients
        .library
        .update_klip(journey.request(
            library::UpdateKlipRequest {
                request_id: Uuid::new_v4().to_string(),
                klip: Some(library::Klip {
                    components: vec![
                        library::Component {
                            name: "Total".into(),
                            formula: "SUM(@0.sales.amount)".into(),
                        },
                        library::Component {
                            name: "Best month".into(),
                            formula: "MAX(@0.sales.amount)".into(),
                        },
                    ],
                    ..klip
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["components".into()],
                }),
            },
            &admin,
        ))
        .await
        .expect("UpdateKlip");
    let mut stream = clients
        .imports
        .update_instances(journey.request(
            imports::UpdateInstancesRequest {
                request_id: Uuid::new_v4().to_string(),
                master_klip_id: world.sales_klip.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("UpdateInstances")
        .into_inner();
    let mut updated = 0;
    while let Some(message) = stream.message().await.expect("the update streams") {
        if let Some(imports::update_instances_response::Event::Result(result)) = message.event {
            assert_eq!(
                result.outcome,
                imports::UpdateOutcome::Updated as i32,
                "{result:?}"
            );
            updated += 1;
        }
    }
    assert_eq!(
        updated,
        world.clients.len(),
        "every client's instance is updated"
    );
    journey.check_trace(receiver, &["library", "imports"]).await;
}

async fn reauthorize_the_token(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    oauth: &OAuthServer,
    world: &World,
) {
    let mut journey = Journey::new("re-authorize a token");
    let exchanges_before = oauth.counters();
    let token_id = authorize(
        clients,
        &mut journey,
        world.partner,
        "",
        Some(&world.token_id),
    )
    .await;
    assert_eq!(
        token_id, world.token_id,
        "re-authorization keeps the token's id (I6)"
    );
    assert_ne!(
        oauth.counters(),
        exchanges_before,
        "a new code was exchanged"
    );
    journey.check_trace(receiver, &["tokens"]).await;
}

async fn refresh_through_activity(
    clients: &mut Clients,
    receiver: &OtlpReceiver,
    world: &mut World,
) {
    let mut journey = Journey::new("refresh through activity");
    let (acme, company) = world.clients[0];
    let admin = test_tokens::admin(acme);
    let activity = clients
        .refresh
        .record_activity(journey.request(
            refresh::RecordActivityRequest {
                request_id: Uuid::new_v4().to_string(),
                kind: refresh::ActivityKind::Login as i32,
            },
            &admin,
        ))
        .await
        .expect("RecordActivity")
        .into_inner();
    assert!(
        activity.queued_jobs >= 1,
        "a login queues the due data sources (F1)"
    );

    let instances = clients
        .imports
        .list_instances(journey.request(
            imports::ListInstancesRequest {
                master: Some(imports::AssetRef {
                    kind: imports::AssetKind::Klip as i32,
                    id: world.sales_klip.clone(),
                }),
                account_id: acme.to_string(),
                ..Default::default()
            },
            &test_tokens::admin(world.partner),
        ))
        .await
        .expect("ListInstances")
        .into_inner()
        .instances;
    world.acme_klip = instances
        .first()
        .expect("Acme's instance")
        .instance_id
        .clone();

    // Acme's Klip renders Acme's sales once the refresh has fetched them (I13).
    let expected = sales_total(company);
    let library_client = clients.library.clone();
    let klip_id = world.acme_klip.clone();
    let journey = std::sync::Mutex::new(journey);
    eventually("the refreshed data to render", WAIT, || {
        let mut library_client = library_client.clone();
        let request = journey.lock().expect("journey").request(
            library::RenderKlipRequest {
                klip_id: klip_id.clone(),
                ..Default::default()
            },
            &admin,
        );
        async move {
            let rendered = library_client.render_klip(request).await.ok()?.into_inner();
            (total_of(rendered.rendered_klip.as_ref()) == Some(expected)).then_some(())
        }
    })
    .await;
    let journey = journey.into_inner().expect("journey");
    journey
        .check_trace(receiver, &["refresh", "library", "imports"])
        .await;
}

async fn render_an_embed(clients: &mut Clients, receiver: &OtlpReceiver, world: &World) {
    let mut journey = Journey::new("render an embed");
    let (acme, company) = world.clients[0];
    let embed = clients
        .library
        .create_embed(journey.request(
            library::CreateEmbedRequest {
                request_id: Uuid::new_v4().to_string(),
                embed: Some(library::Embed {
                    klip_id: world.acme_klip.clone(),
                    ..Default::default()
                }),
            },
            &test_tokens::admin(acme),
        ))
        .await
        .expect("CreateEmbed")
        .into_inner()
        .embed
        .expect("an embed");
    let rendered = clients
        .library
        .view_embed(journey.request(
            library::ViewEmbedRequest { embed_id: embed.id },
            &test_tokens::service(),
        ))
        .await
        .expect("ViewEmbed")
        .into_inner();
    assert_eq!(
        total_of(rendered.rendered_klip.as_ref()),
        Some(sales_total(company)),
        "the embed shows Acme's sales from the cache: {rendered:?}"
    );
    journey.check_trace(receiver, &["library", "refresh"]).await;
}

fn sales_total(company: &str) -> f64 {
    trellis_demo::data_server::sales_of(company)["sales"]
        .as_array()
        .expect("sales")
        .iter()
        .map(|month| month["amount"].as_f64().expect("an amount"))
        .sum()
}

/// The value of the `Total` component of a render.
fn total_of(klip: Option<&library::RenderedKlip>) -> Option<f64> {
    klip?
        .components
        .iter()
        .find(|component| component.name == "Total")?
        .values
        .as_ref()?
        .values
        .first()
        .and_then(|value| match value.kind {
            Some(prost_types::value::Kind::NumberValue(n)) => Some(n),
            _ => None,
        })
}

/// The OAuth code flow as a browser would walk it; returns the token id.
async fn authorize(
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
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let response = browser
        .get(&begun.authorization_url)
        .send()
        .await
        .expect("the provider answers");
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("the provider redirects back")
        .to_owned();
    let query: HashMap<String, String> = url::Url::parse(&location)
        .expect("a redirect URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    clients
        .tokens
        .complete_authorization(journey.request(
            tokens::CompleteAuthorizationRequest {
                request_id: Uuid::new_v4().to_string(),
                state: begun.state,
                code: query.get("code").cloned().expect("a code"),
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
                    name: name.into(),
                    request: Some(library::HttpRequestTemplate {
                        method: library::HttpMethod::Get as i32,
                        url: url.into(),
                        ..Default::default()
                    }),
                    format: library::DataFormat::Json as i32,
                    auth: Some(library::DataSourceAuth {
                        kind: kind as i32,
                        method: Some(method),
                    }),
                    refresh_interval: Some(prost_types::Duration {
                        seconds: 900,
                        nanos: 0,
                    }),
                    ..Default::default()
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
