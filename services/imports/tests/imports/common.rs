//! What the tests share: the library, token and import services in-process on their own
//! databases, calling each other over real gRPC; families of accounts whose members are the
//! test users; assets; imports.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::{Code, Request, Status};
use trellis_platform::auth::Role;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_platform::service::ServiceContext;
use trellis_proto::imports::v1 as imp;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_proto::library::v1 as lib;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tok;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::{RunningService, TestDatabase, members, test_config, tokens};
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(20);

pub type Library = LibraryServiceClient<TracedChannel>;
pub type Tokens = TokenServiceClient<TracedChannel>;
pub type Imports = ImportServiceClient<TracedChannel>;

/// A request carrying `bearer`.
pub fn call<T>(message: T, bearer: &str) -> Request<T> {
    authorized(message, bearer)
}

/// `admin@test` signed into `account`: [`account`] makes it an admin member of every
/// account it creates.
pub fn admin(account: Uuid) -> String {
    tokens::admin(account)
}

/// The agency's staff: an admin member of each family's partner and of nothing else, so an
/// admin of the partner's clients through the partner (I15). The imports of [`plan`],
/// [`execute`] and [`import`] are theirs.
pub const AGENCY_ADMIN: &str = "agency@test";

/// [`AGENCY_ADMIN`] signed into `account` (the partner or one of its clients).
pub fn agency(account: Uuid) -> String {
    tokens::user_token(account, AGENCY_ADMIN, Role::Admin)
}

pub fn request_id() -> String {
    Uuid::new_v4().to_string()
}

/// A service served in-process on a listener bound before it was built, so that it and the
/// service it calls can each be told where the other is; stops when dropped.
pub struct ServedService {
    pub url: String,
    /// Dropped with the service.
    _database: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for ServedService {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl ServedService {
    /// The token registry on `listener`, asking the library at `library_url` about
    /// memberships.
    async fn tokens(listener: TcpListener, library_url: String) -> Self {
        let url = format!("http://{}", listener.local_addr().expect("a local address"));
        let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
        let mut common = test_config(&database.url);
        common.library_url = library_url;
        let context = ServiceContext::new(
            ServiceKind::Tokens,
            common,
            trellis_tokens::Settings::default(),
            database.pool(),
        )
        .expect("a service context");
        let server = trellis_tokens::build(context)
            .await
            .expect("the service builds");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            url,
            _database: database,
            shutdown: Some(shutdown),
        }
    }
}

/// The library and token services, the two peers of the import service. Each calls the
/// other: the library asks the registry whether a data source may name a token or
/// credential (I15), the registry asks the library about memberships.
pub struct Peers {
    pub library_service: RunningService,
    pub tokens_service: ServedService,
    /// For [`members`]: memberships are made in the library.
    pub library_channel: TracedChannel,
    pub library: Library,
    pub tokens: Tokens,
}

impl Peers {
    pub async fn start() -> Self {
        let tokens_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let tokens_url = format!(
            "http://{}",
            tokens_listener.local_addr().expect("a local address")
        );
        let library_service = RunningService::start(
            ServiceKind::Library,
            &trellis_library::SCHEMA,
            Default::default(),
            |common| common.tokens_url = tokens_url,
            trellis_library::build,
        )
        .await;
        let tokens_service =
            ServedService::tokens(tokens_listener, library_service.server.url()).await;
        let library_channel = library_service.server.channel();
        Self {
            library: LibraryServiceClient::new(library_channel.clone()),
            tokens: TokenServiceClient::new(
                trellis_platform::client::channel(&tokens_service.url)
                    .expect("a channel to the token registry"),
            ),
            library_channel,
            library_service,
            tokens_service,
        }
    }
}

/// The three services.
pub struct World {
    /// Kept for their lifetime: the services stop when dropped.
    pub _peers: Peers,
    /// Its database holds the plans.
    pub imports_service: RunningService,
    pub library_channel: TracedChannel,
    pub library: Library,
    pub tokens: Tokens,
    pub imports: Imports,
}

/// A partner with two clients.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub partner: Uuid,
    pub client_a: Uuid,
    pub client_b: Uuid,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(trellis_imports::Settings::default()).await
    }

    pub async fn start_with(settings: trellis_imports::Settings) -> Self {
        let peers = Peers::start().await;
        let (library_url, tokens_url) = (
            peers.library_service.server.url(),
            peers.tokens_service.url.clone(),
        );
        let imports_service = RunningService::start(
            ServiceKind::Imports,
            &trellis_imports::SCHEMA,
            settings,
            |common| {
                common.library_url = library_url;
                common.tokens_url = tokens_url;
            },
            trellis_imports::build,
        )
        .await;
        Self {
            library_channel: peers.library_channel.clone(),
            library: peers.library.clone(),
            tokens: peers.tokens.clone(),
            imports: ImportServiceClient::new(imports_service.server.channel()),
            _peers: peers,
            imports_service,
        }
    }

    pub async fn family(&self) -> Family {
        family(&self.library_channel).await
    }
}

/// A new account, with `admin@test`, `editor@test` and `viewer@test` as its members.
pub async fn account(
    library: &TracedChannel,
    kind: lib::AccountKind,
    parent: Option<Uuid>,
) -> Uuid {
    let account = LibraryServiceClient::new(library.clone())
        .create_account(call(
            lib::CreateAccountRequest {
                request_id: String::new(),
                account: Some(lib::Account {
                    kind: kind as i32,
                    parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                    display_name: format!("{kind:?} account"),
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateAccount")
        .into_inner()
        .account
        .unwrap()
        .id
        .parse()
        .unwrap();
    members::enroll(library, account).await;
    account
}

/// A partner with [`AGENCY_ADMIN`] as an admin, and two clients.
pub async fn family(library: &TracedChannel) -> Family {
    let partner = account(library, lib::AccountKind::Partner, None).await;
    members::add(library, partner, AGENCY_ADMIN, Role::Admin).await;
    Family {
        partner,
        client_a: account(library, lib::AccountKind::Client, Some(partner)).await,
        client_b: account(library, lib::AccountKind::Client, Some(partner)).await,
    }
}

pub async fn company_property(library: &Library, account: Uuid, name: &str, value: &str) {
    library
        .clone()
        .set_company_property(call(
            lib::SetCompanyPropertyRequest {
                request_id: String::new(),
                property: Some(lib::CompanyProperty {
                    account_id: String::new(),
                    name: name.into(),
                    value: value.into(),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("SetCompanyProperty");
}

pub async fn variable(library: &Library, account: Uuid, name: &str, default_value: &str) {
    library
        .clone()
        .create_variable(call(
            lib::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(lib::Variable {
                    name: name.into(),
                    default_value: default_value.into(),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateVariable");
}

/// A JSON data source over `url` with `auth`.
pub async fn data_source(
    library: &Library,
    account: Uuid,
    name: &str,
    url: &str,
    auth: Option<lib::data_source_auth::Method>,
) -> lib::DataSource {
    library
        .clone()
        .create_data_source(call(
            lib::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(lib::DataSource {
                    name: name.into(),
                    request: Some(lib::HttpRequestTemplate {
                        method: lib::HttpMethod::Get as i32,
                        url: url.into(),
                        headers: vec![],
                        body: String::new(),
                    }),
                    format: lib::DataFormat::Json as i32,
                    auth: auth.map(|method| lib::DataSourceAuth {
                        kind: 0,
                        method: Some(method),
                    }),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateDataSource")
        .into_inner()
        .data_source
        .unwrap()
}

/// A Klip with one component per formula (`c0`, `c1`, …) over `bindings`.
pub async fn klip(
    library: &Library,
    account: Uuid,
    name: &str,
    formulas: &[&str],
    bindings: &[&str],
) -> lib::Klip {
    library
        .clone()
        .create_klip(call(
            lib::CreateKlipRequest {
                request_id: String::new(),
                klip: Some(lib::Klip {
                    name: name.into(),
                    components: components(formulas),
                    bindings: binding_list(bindings),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateKlip")
        .into_inner()
        .klip
        .unwrap()
}

pub fn components(formulas: &[&str]) -> Vec<lib::Component> {
    formulas
        .iter()
        .enumerate()
        .map(|(i, f)| lib::Component {
            name: format!("c{i}"),
            formula: (*f).into(),
        })
        .collect()
}

pub fn binding_list(ids: &[&str]) -> Vec<lib::Binding> {
    ids.iter()
        .map(|id| lib::Binding {
            data_source_id: (*id).into(),
        })
        .collect()
}

pub async fn dashboard(
    library: &Library,
    account: Uuid,
    name: &str,
    klips: &[&str],
) -> lib::Dashboard {
    library
        .clone()
        .create_dashboard(call(
            lib::CreateDashboardRequest {
                request_id: String::new(),
                dashboard: Some(lib::Dashboard {
                    name: name.into(),
                    klip_ids: klips.iter().map(|k| (*k).to_owned()).collect(),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateDashboard")
        .into_inner()
        .dashboard
        .unwrap()
}

/// Rewrites a Klip's components (and bindings, when given) as a user of its account.
pub async fn edit_klip(
    library: &Library,
    account: Uuid,
    id: &str,
    formulas: &[&str],
    bindings: Option<&[&str]>,
) -> lib::Klip {
    let mut paths = vec!["components".to_owned()];
    if bindings.is_some() {
        paths.push("bindings".into());
    }
    library
        .clone()
        .update_klip(call(
            lib::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(lib::Klip {
                    id: id.into(),
                    components: components(formulas),
                    bindings: binding_list(bindings.unwrap_or_default()),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            },
            &admin(account),
        ))
        .await
        .expect("UpdateKlip")
        .into_inner()
        .klip
        .unwrap()
}

pub async fn get_klip(library: &Library, account: Uuid, id: &str) -> Option<lib::Klip> {
    match library
        .clone()
        .get_klip(call(
            lib::GetKlipRequest {
                id: id.into(),
                account_id: account.to_string(),
            },
            &tokens::service(),
        ))
        .await
    {
        Ok(found) => found.into_inner().klip,
        Err(status) if status.code() == Code::NotFound => None,
        Err(status) => panic!("GetKlip: {status:?}"),
    }
}

pub async fn get_data_source(library: &Library, account: Uuid, id: &str) -> lib::DataSource {
    library
        .clone()
        .get_data_source(call(
            lib::GetDataSourceRequest {
                id: id.into(),
                account_id: account.to_string(),
            },
            &tokens::service(),
        ))
        .await
        .expect("GetDataSource")
        .into_inner()
        .data_source
        .unwrap()
}

/// How many data sources, Klips and dashboards `account` has.
pub async fn asset_counts(library: &Library, account: Uuid) -> [usize; 3] {
    let service = tokens::service();
    let account_id = account.to_string();
    let mut library = library.clone();
    let sources = library
        .list_data_sources(call(
            lib::ListDataSourcesRequest {
                account_id: account_id.clone(),
                page_size: 1000,
                ..Default::default()
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner()
        .data_sources
        .len();
    let klips = library
        .list_klips(call(
            lib::ListKlipsRequest {
                account_id: account_id.clone(),
                page_size: 1000,
                ..Default::default()
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner()
        .klips
        .len();
    let dashboards = library
        .list_dashboards(call(
            lib::ListDashboardsRequest {
                account_id,
                page_size: 1000,
                ..Default::default()
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner()
        .dashboards
        .len();
    [sources, klips, dashboards]
}

pub fn asset(kind: imp::AssetKind, id: &str) -> imp::AssetRef {
    imp::AssetRef {
        kind: kind as i32,
        id: id.into(),
    }
}

pub fn dashboard_ref(id: &str) -> imp::AssetRef {
    asset(imp::AssetKind::Dashboard, id)
}

pub fn klip_ref(id: &str) -> imp::AssetRef {
    asset(imp::AssetKind::Klip, id)
}

pub fn data_source_ref(id: &str) -> imp::AssetRef {
    asset(imp::AssetKind::DataSource, id)
}

/// A plan made by the agency's admin signed into the destination.
pub async fn plan(
    imports: &Imports,
    destination: Uuid,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> Result<imp::ImportPlan, Status> {
    plan_as(imports, &agency(destination), source, selection).await
}

/// A plan made by `bearer`, signed into the destination.
pub async fn plan_as(
    imports: &Imports,
    bearer: &str,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> Result<imp::ImportPlan, Status> {
    imports
        .clone()
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: request_id(),
                destination_account_id: String::new(),
                source_account_id: source.to_string(),
                selection,
            },
            bearer,
        ))
        .await
        .map(|r| r.into_inner().plan.unwrap())
}

/// Executes `plan` as the agency's admin signed into `destination`.
pub async fn execute(
    imports: &Imports,
    destination: Uuid,
    plan: &imp::ImportPlan,
    request_id: &str,
) -> Result<imp::Import, Status> {
    execute_as(imports, &agency(destination), plan, request_id).await
}

pub async fn execute_as(
    imports: &Imports,
    bearer: &str,
    plan: &imp::ImportPlan,
    request_id: &str,
) -> Result<imp::Import, Status> {
    imports
        .clone()
        .execute_import_plan(call(
            imp::ExecuteImportPlanRequest {
                request_id: request_id.into(),
                plan_id: plan.id.clone(),
                etag: plan.etag.clone(),
            },
            bearer,
        ))
        .await
        .map(|r| r.into_inner().import.unwrap())
}

/// Plans and executes an import that must succeed, as the agency's admin.
pub async fn import(
    imports: &Imports,
    destination: Uuid,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> imp::Import {
    import_as(imports, &agency(destination), source, selection).await
}

/// Plans and executes an import that must succeed, as `bearer`.
pub async fn import_as(
    imports: &Imports,
    bearer: &str,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> imp::Import {
    let plan = plan_as(imports, bearer, source, selection)
        .await
        .expect("CreateImportPlan");
    let done = execute_as(imports, bearer, &plan, &request_id())
        .await
        .expect("ExecuteImportPlan");
    assert_eq!(
        done.state(),
        imp::ImportState::Succeeded,
        "the import succeeds: {}",
        done.error
    );
    done
}

/// The instance the import made of `master`.
pub fn instance_of(import: &imp::Import, master: &str) -> String {
    import
        .mappings
        .iter()
        .find(|m| m.source_id == master)
        .unwrap_or_else(|| panic!("{master} was imported"))
        .destination_id
        .clone()
}

/// The status of a call that must fail with `code`.
pub fn failure<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The fields an INVALID_ARGUMENT names.
pub fn field_violations(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("a BadRequest: {status:?}"))
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// The instances of a master, as its account's admin lists them.
pub async fn instances(
    imports: &Imports,
    master_account: Uuid,
    master: imp::AssetRef,
) -> Vec<imp::Instance> {
    imports
        .clone()
        .list_instances(call(
            imp::ListInstancesRequest {
                master: Some(master),
                ..Default::default()
            },
            &admin(master_account),
        ))
        .await
        .expect("ListInstances")
        .into_inner()
        .instances
}

pub async fn status_of(imports: &Imports, account: Uuid, instance: imp::AssetRef) -> imp::Instance {
    imports
        .clone()
        .get_instance(call(
            imp::GetInstanceRequest {
                instance: Some(instance),
            },
            &admin(account),
        ))
        .await
        .expect("GetInstance")
        .into_inner()
        .instance
        .unwrap()
}

/// Everything an UpdateInstances stream sent.
#[derive(Debug, Default)]
pub struct UpdateStream {
    pub progress: Vec<imp::UpdateProgress>,
    pub results: Vec<imp::InstanceUpdateResult>,
    pub summary: Option<imp::UpdateSummary>,
}

impl UpdateStream {
    pub fn result(&self, instance: &str) -> &imp::InstanceUpdateResult {
        self.results
            .iter()
            .find(|r| r.instance_id == instance)
            .unwrap_or_else(|| panic!("a result for {instance}: {:?}", self.results))
    }
}

pub async fn update_instances(
    imports: &Imports,
    master_account: Uuid,
    request: imp::UpdateInstancesRequest,
) -> Result<UpdateStream, Status> {
    use imp::update_instances_response::Event;
    let mut stream = imports
        .clone()
        .update_instances(call(request, &admin(master_account)))
        .await?
        .into_inner();
    let mut seen = UpdateStream::default();
    while let Some(message) = stream.message().await? {
        match message.event {
            Some(Event::Progress(progress)) => seen.progress.push(progress),
            Some(Event::Result(result)) => seen.results.push(result),
            Some(Event::Summary(summary)) => seen.summary = Some(summary),
            None => {}
        }
    }
    Ok(seen)
}

// --- tokens: an OAuth token through the real code flow, and saved credentials

/// Where the provider sends the browser back; the test reads the redirect instead.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

pub async fn provider(
    tokens_client: &Tokens,
    oauth: &trellis_testkit::oauth::OAuthServer,
) -> tok::Provider {
    tokens_client
        .clone()
        .create_provider(call(
            tok::CreateProviderRequest {
                request_id: String::new(),
                provider: Some(tok::Provider {
                    name: "Test Analytics".into(),
                    authorization_url: oauth.authorization_url(),
                    token_url: oauth.token_url(),
                    revocation_url: oauth.revocation_url(),
                    userinfo_url: oauth.userinfo_url(),
                    client_id: oauth.client_id(),
                    client_secret: oauth.client_secret(),
                    scopes: vec!["analytics.read".into()],
                    ..Default::default()
                }),
            },
            &tokens::service(),
        ))
        .await
        .expect("CreateProvider")
        .into_inner()
        .provider
        .unwrap()
}

/// The whole code flow for `account`'s admin: a new connected account.
pub async fn authorize(tokens_client: &Tokens, account: Uuid, provider_id: &str) -> tok::Token {
    let bearer = admin(account);
    let begun = tokens_client
        .clone()
        .begin_authorization(call(
            tok::BeginAuthorizationRequest {
                request_id: String::new(),
                account_id: String::new(),
                provider_id: provider_id.into(),
                redirect_uri: REDIRECT_URI.into(),
                display_name: "Agency GA".into(),
                token_id: String::new(),
            },
            &bearer,
        ))
        .await
        .expect("BeginAuthorization")
        .into_inner();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser
        .get(&begun.authorization_url)
        .send()
        .await
        .expect("the provider answers");
    let location = response
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    tokens_client
        .clone()
        .complete_authorization(call(
            tok::CompleteAuthorizationRequest {
                request_id: request_id(),
                state: begun.state,
                code,
                error: String::new(),
            },
            &bearer,
        ))
        .await
        .expect("CompleteAuthorization")
        .into_inner()
        .token
        .unwrap()
}

/// A saved basic credential of `account`.
pub async fn credential(tokens_client: &Tokens, account: Uuid, password: &str) -> tok::Credential {
    tokens_client
        .clone()
        .create_credential(call(
            tok::CreateCredentialRequest {
                request_id: String::new(),
                credential: Some(tok::Credential {
                    display_name: "Zendesk login".into(),
                    kind: tok::CredentialKind::Basic as i32,
                    username: "agency@example.test".into(),
                    ..Default::default()
                }),
                secret: Some(tok::CredentialSecret {
                    password: password.into(),
                    api_key: String::new(),
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateCredential")
        .into_inner()
        .credential
        .unwrap()
}

pub fn token_auth(id: &str) -> Option<lib::data_source_auth::Method> {
    Some(lib::data_source_auth::Method::TokenId(id.into()))
}

pub fn credential_auth(id: &str) -> Option<lib::data_source_auth::Method> {
    Some(lib::data_source_auth::Method::CredentialId(id.into()))
}
