//! The trust boundary between accounts, across the four processes (DESIGN.md section 3,
//! I13–I15): a client's editor cannot send its partner's secret to a server of its
//! choosing, a data API cannot redirect a secret elsewhere, and an RS256 deployment works
//! end to end with every service signing its own tokens.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tonic::Code;
use trellis_e2e::cluster::Cluster;
use trellis_platform::auth::{Identity, Role, TokenMinter};
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_proto::imports::v1 as imports;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::data_api::{Auth, DataApi, Reply};
use trellis_testkit::{eventually, members, tokens};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);
const PARTNER_PASSWORD: &str = "partner-password-never-leaves";
const AGENCY: &str = "agency@test";

struct Clients {
    library: LibraryServiceClient<trellis_platform::client::TracedChannel>,
    imports: ImportServiceClient<trellis_platform::client::TracedChannel>,
    tokens: TokenServiceClient<trellis_platform::client::TracedChannel>,
    refresh: RefreshServiceClient<trellis_platform::client::TracedChannel>,
}

impl Clients {
    fn of(cluster: &Cluster) -> Self {
        Self {
            library: LibraryServiceClient::new(cluster.channel(ServiceKind::Library)),
            imports: ImportServiceClient::new(cluster.channel(ServiceKind::Imports)),
            tokens: TokenServiceClient::new(cluster.channel(ServiceKind::Tokens)),
            refresh: RefreshServiceClient::new(cluster.channel(ServiceKind::Refresh)),
        }
    }
}

/// Signs as the users' identity provider and as operators.
struct Signers {
    users: TokenMinter,
    operator: String,
}

impl Signers {
    fn hs256() -> Self {
        Self {
            users: tokens::minter(),
            operator: tokens::service(),
        }
    }

    fn user(&self, account: Uuid, user: &str, role: Role) -> String {
        self.users
            .mint(user, Some(account), role, Duration::from_secs(3600))
    }
}

async fn create_account(
    clients: &mut Clients,
    signers: &Signers,
    kind: library::AccountKind,
    parent: Option<Uuid>,
) -> Uuid {
    let account = clients
        .library
        .create_account(authorized(
            library::CreateAccountRequest {
                request_id: String::new(),
                account: Some(library::Account {
                    kind: kind as i32,
                    parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
                    display_name: "Account".into(),
                    ..Default::default()
                }),
            },
            &signers.operator,
        ))
        .await
        .expect("an operator creates accounts")
        .into_inner()
        .account
        .unwrap();
    account.id.parse().unwrap()
}

async fn add_member(
    clients: &mut Clients,
    signers: &Signers,
    account: Uuid,
    user: &str,
    role: Role,
) {
    clients
        .library
        .create_membership(authorized(
            library::CreateMembershipRequest {
                request_id: String::new(),
                membership: Some(library::Membership {
                    user_id: user.into(),
                    account_id: account.to_string(),
                    role: trellis_platform::gate::role_to_wire(Some(role)) as i32,
                    create_time: None,
                }),
            },
            &signers.operator,
        ))
        .await
        .expect("an operator adds members");
}

fn source(
    account: Uuid,
    url: &str,
    auth: Option<library::data_source_auth::Method>,
) -> library::DataSource {
    library::DataSource {
        account_id: account.to_string(),
        name: "Sales".into(),
        request: Some(library::HttpRequestTemplate {
            method: library::HttpMethod::Get as i32,
            url: url.into(),
            ..Default::default()
        }),
        format: library::DataFormat::Json as i32,
        auth: auth.map(|method| library::DataSourceAuth {
            kind: 0,
            method: Some(method),
        }),
        ..Default::default()
    }
}

async fn create_source(
    clients: &mut Clients,
    token: &str,
    data_source: library::DataSource,
) -> Result<library::DataSource, tonic::Status> {
    Ok(clients
        .library
        .create_data_source(authorized(
            library::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(data_source),
            },
            token,
        ))
        .await?
        .into_inner()
        .data_source
        .unwrap())
}

async fn create_klip(clients: &mut Clients, token: &str, account: Uuid, source: &str) -> String {
    clients
        .library
        .create_klip(authorized(
            library::CreateKlipRequest {
                request_id: String::new(),
                klip: Some(library::Klip {
                    account_id: account.to_string(),
                    name: "Total".into(),
                    components: vec![library::Component {
                        name: "total".into(),
                        formula: "SUM(@0.amount)".into(),
                    }],
                    bindings: vec![library::Binding {
                        data_source_id: source.into(),
                    }],
                    ..Default::default()
                }),
            },
            token,
        ))
        .await
        .expect("a Klip")
        .into_inner()
        .klip
        .unwrap()
        .id
}

/// Imports the partner's Klip into the client as the agency's admin signed into it (`token`;
/// `partner_token` lists the instances); returns the instance Klip's id.
async fn import_klip(
    clients: &mut Clients,
    token: &str,
    partner_token: &str,
    partner: Uuid,
    client: Uuid,
    klip: &str,
) -> String {
    let plan = clients
        .imports
        .create_import_plan(authorized(
            imports::CreateImportPlanRequest {
                request_id: String::new(),
                destination_account_id: client.to_string(),
                source_account_id: partner.to_string(),
                selection: vec![imports::AssetRef {
                    kind: imports::AssetKind::Klip as i32,
                    id: klip.into(),
                }],
            },
            token,
        ))
        .await
        .expect("a plan")
        .into_inner()
        .plan
        .unwrap();
    let import = clients
        .imports
        .execute_import_plan(authorized(
            imports::ExecuteImportPlanRequest {
                request_id: Uuid::new_v4().to_string(),
                plan_id: plan.id,
                etag: plan.etag,
            },
            token,
        ))
        .await
        .expect("the import")
        .into_inner()
        .import
        .unwrap();
    assert_eq!(
        import.state,
        imports::ImportState::Succeeded as i32,
        "{import:?}"
    );
    let instances = clients
        .imports
        .list_instances(authorized(
            imports::ListInstancesRequest {
                master: Some(imports::AssetRef {
                    kind: imports::AssetKind::Klip as i32,
                    id: klip.into(),
                }),
                account_id: client.to_string(),
                ..Default::default()
            },
            partner_token,
        ))
        .await
        .expect("the instances")
        .into_inner()
        .instances;
    instances.first().expect("one instance").instance_id.clone()
}

async fn klip_total(clients: &mut Clients, token: &str, klip: &str) -> Option<f64> {
    let rendered = clients
        .library
        .render_klip(authorized(
            library::RenderKlipRequest {
                klip_id: klip.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .ok()?
        .into_inner()
        .rendered_klip?;
    rendered
        .components
        .first()?
        .values
        .as_ref()?
        .values
        .first()
        .and_then(|value| match value.kind {
            Some(prost_types::value::Kind::NumberValue(n)) => Some(n),
            _ => None,
        })
}

async fn refresh_now(clients: &mut Clients, token: &str, data_source: &str) {
    clients
        .refresh
        .refresh_now(authorized(
            refresh::RefreshNowRequest {
                request_id: String::new(),
                data_source_id: data_source.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("RefreshNow");
}

fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(answer) => panic!("expected a refusal, got {answer:?}"),
        Err(status) => (status.code(), format!("{status:?}")),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_partner_secret_ever_reaches_a_server_the_client_chooses() {
    let api = DataApi::start().await;
    api.require(Auth::Basic {
        username: "partner".into(),
        password: PARTNER_PASSWORD.into(),
    });
    api.set_json("/sales.json", json!([{"amount": 5}, {"amount": 7}]));
    // A hostile (or compromised) data API that sends the request elsewhere.
    let attacker = DataApi::start().await;
    attacker.set_json("/collect.json", json!([{"amount": 1000}]));
    api.set(
        "/moved.json",
        Reply::status(302).with_header("location", &attacker.url("/collect.json")),
    );

    let cluster = Cluster::start(&HashMap::new()).await;
    let mut clients = Clients::of(&cluster);
    let signers = Signers::hs256();
    let partner = create_account(&mut clients, &signers, library::AccountKind::Partner, None).await;
    let client = create_account(
        &mut clients,
        &signers,
        library::AccountKind::Client,
        Some(partner),
    )
    .await;
    add_member(&mut clients, &signers, partner, AGENCY, Role::Admin).await;
    members::enroll(&cluster.channel(ServiceKind::Library), client).await;
    let agency_in_partner = signers.user(partner, AGENCY, Role::Admin);
    let agency_in_client = signers.user(client, AGENCY, Role::Admin);
    let editor = tokens::editor(client);

    let credential = clients
        .tokens
        .create_credential(authorized(
            tokens_pb::CreateCredentialRequest {
                request_id: String::new(),
                credential: Some(tokens_pb::Credential {
                    account_id: partner.to_string(),
                    display_name: "Reporting login".into(),
                    kind: tokens_pb::CredentialKind::Basic as i32,
                    username: "partner".into(),
                    ..Default::default()
                }),
                secret: Some(tokens_pb::CredentialSecret {
                    password: PARTNER_PASSWORD.into(),
                    ..Default::default()
                }),
            },
            &agency_in_partner,
        ))
        .await
        .expect("the partner's credential")
        .into_inner()
        .credential
        .unwrap();
    let by_credential = || {
        Some(library::data_source_auth::Method::CredentialId(
            credential.id.clone(),
        ))
    };
    let master = create_source(
        &mut clients,
        &agency_in_partner,
        source(partner, &api.url("/sales.json"), by_credential()),
    )
    .await
    .expect("the master data source");
    let klip = create_klip(&mut clients, &agency_in_partner, partner, &master.id).await;
    let instance_klip = import_klip(
        &mut clients,
        &agency_in_client,
        &agency_in_partner,
        partner,
        client,
        &klip,
    )
    .await;
    let instance = clients
        .library
        .list_data_sources(authorized(
            library::ListDataSourcesRequest {
                account_id: client.to_string(),
                ..Default::default()
            },
            &editor,
        ))
        .await
        .expect("the client's data sources")
        .into_inner()
        .data_sources
        .pop()
        .expect("the instance data source");

    // The imported query works: the client's editor refreshes it with the partner's login.
    refresh_now(&mut clients, &editor, &instance.id).await;
    eventually("the instance to render the partner's data", WAIT, || {
        let mut clients = Clients::of(&cluster);
        let (editor, klip) = (editor.clone(), instance_klip.clone());
        async move { (klip_total(&mut clients, &editor, &klip).await == Some(12.0)).then_some(()) }
    })
    .await;

    // 1. Pointing the imported query at the attacker (I14).
    let mut pointed = instance.clone();
    pointed.request.as_mut().unwrap().url = attacker.url("/collect.json");
    let (status, detail) = code(
        clients
            .library
            .update_data_source(authorized(
                library::UpdateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(pointed),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["request.url".into()],
                    }),
                },
                &editor,
            ))
            .await,
    );
    assert_eq!(status, Code::FailedPrecondition, "{detail}");
    assert!(detail.contains("IMPORTED_QUERY_NEEDS_OWN_AUTH"), "{detail}");

    // 2. A data source of the client's own that names the partner's credential, or the
    // instance's copy of it (I5, I15).
    let copy = instance.auth.clone().and_then(|a| a.method);
    for auth in [by_credential(), copy] {
        let (status, detail) = code(
            create_source(
                &mut clients,
                &editor,
                source(client, &attacker.url("/collect.json"), auth),
            )
            .await,
        );
        assert_eq!(status, Code::InvalidArgument, "{detail}");
        assert!(
            detail.contains("data_source.auth.credential_id"),
            "{detail}"
        );
    }

    // 3. The partner's own data API redirects a request carrying the secret elsewhere.
    let moved = create_source(
        &mut clients,
        &agency_in_partner,
        source(partner, &api.url("/moved.json"), by_credential()),
    )
    .await
    .expect("a data source of the partner");
    refresh_now(&mut clients, &agency_in_partner, &moved.id).await;
    eventually("the redirected refresh to fail", WAIT, || {
        let mut refresh = clients.refresh.clone();
        let (token, id) = (agency_in_partner.clone(), moved.id.clone());
        async move {
            let status = refresh
                .get_refresh_status(authorized(
                    refresh::GetRefreshStatusRequest {
                        data_source_id: id,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .ok()?
                .into_inner();
            status
                .instances
                .iter()
                .any(|i| i.consecutive_failures > 0)
                .then_some(())
        }
    })
    .await;

    assert_eq!(
        api.requests_for("/moved.json"),
        1,
        "the redirecting API was asked once"
    );
    assert_eq!(
        attacker.requests(),
        0,
        "no request, and so no secret, ever reached the attacker: {:?}",
        attacker.arrivals()
    );
    // The attacker's figure never reached the client either.
    assert_eq!(
        klip_total(&mut clients, &editor, &instance_klip).await,
        Some(12.0)
    );

    // 4. Once the instance no longer holds the partner's credential, it no longer reads
    // what the partner's fetches cache either (the cache is shared by request).
    let Some(library::data_source_auth::Method::CredentialId(copy_id)) =
        instance.auth.clone().and_then(|a| a.method)
    else {
        panic!("the instance uses its copy of the credential: {instance:?}");
    };
    clients
        .tokens
        .delete_credential(authorized(
            tokens_pb::DeleteCredentialRequest {
                request_id: String::new(),
                id: copy_id,
                account_id: client.to_string(),
                etag: String::new(),
            },
            &tokens::admin(client),
        ))
        .await
        .expect("the client's admin deletes its copy");
    refresh_now(&mut clients, &agency_in_partner, &master.id).await;
    let rendered = clients
        .library
        .render_klip(authorized(
            library::RenderKlipRequest {
                klip_id: instance_klip.clone(),
                ..Default::default()
            },
            &editor,
        ))
        .await
        .expect("the Klip still renders, without the data")
        .into_inner();
    assert!(
        format!("{rendered:?}").contains("no longer granted"),
        "{rendered:?}"
    );
    assert_eq!(
        klip_total(&mut clients, &editor, &instance_klip).await,
        None,
        "a revoked copy stops cached-data reads"
    );
}

/// An RSA key pair in PEM files under `dir`, made with the `openssl` command.
fn rsa_key_pair(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let private = dir.join(format!("{name}.pem"));
    let run = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl command");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
        output.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        private.to_str().unwrap(),
    ]);
    let public = run(&["pkey", "-in", private.to_str().unwrap(), "-pubout"]);
    (private, String::from_utf8(public).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_rs256_deployment_imports_and_refreshes_end_to_end() {
    let keys = std::env::temp_dir().join(format!("trellis-rs256-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&keys).unwrap();
    // The users' identity provider has a key; the services share one of their own, and
    // every service accepts both.
    let (idp_private, idp_public) = rsa_key_pair(&keys, "idp");
    let (services_private, services_public) = rsa_key_pair(&keys, "services");
    let public_file = keys.join("public.pem");
    std::fs::write(&public_file, format!("{idp_public}{services_public}")).unwrap();

    let api = DataApi::start().await;
    api.set_json("/sales.json", json!([{"amount": 40}, {"amount": 2}]));
    let env = HashMap::from([
        (
            "TRELLIS_JWT_PUBLIC_KEY_FILE".to_owned(),
            public_file.display().to_string(),
        ),
        (
            "TRELLIS_JWT_PRIVATE_KEY_FILE".to_owned(),
            services_private.display().to_string(),
        ),
    ]);
    let cluster = Cluster::start(&env).await;
    let mut clients = Clients::of(&cluster);
    let operator = TokenMinter::rs256_pem(
        &std::fs::read(&services_private).unwrap(),
        Identity::Operator,
    )
    .unwrap()
    .service_token_for(&ServiceKind::ALL, Duration::from_secs(600));
    let signers = Signers {
        users: TokenMinter::rs256_pem(&std::fs::read(&idp_private).unwrap(), Identity::Operator)
            .unwrap(),
        operator,
    };

    // HS256 tokens mean nothing here.
    let refused = clients
        .library
        .list_accounts(authorized(
            library::ListAccountsRequest::default(),
            &tokens::service(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    let partner = create_account(&mut clients, &signers, library::AccountKind::Partner, None).await;
    let client = create_account(
        &mut clients,
        &signers,
        library::AccountKind::Client,
        Some(partner),
    )
    .await;
    add_member(&mut clients, &signers, partner, AGENCY, Role::Admin).await;
    let agency_in_partner = signers.user(partner, AGENCY, Role::Admin);
    let agency_in_client = signers.user(client, AGENCY, Role::Admin);
    // Refreshed every 15 minutes while someone is active: a login queues it (F1).
    let mut scheduled = source(partner, &api.url("/sales.json"), None);
    scheduled.refresh_interval = Some(prost_types::Duration {
        seconds: 900,
        nanos: 0,
    });
    let master = create_source(&mut clients, &agency_in_partner, scheduled)
        .await
        .expect("a data source");
    let klip = create_klip(&mut clients, &agency_in_partner, partner, &master.id).await;
    // The import service calls the library and the token registry with its RS256 tokens.
    let instance_klip = import_klip(
        &mut clients,
        &agency_in_client,
        &agency_in_partner,
        partner,
        client,
        &klip,
    )
    .await;
    // The refresh service resolves through the library and the library reads the cache
    // from the refresh service, each with its own RS256 token.
    let activity = clients
        .refresh
        .record_activity(authorized(
            refresh::RecordActivityRequest {
                request_id: String::new(),
                kind: refresh::ActivityKind::Login as i32,
            },
            &agency_in_client,
        ))
        .await
        .expect("RecordActivity")
        .into_inner();
    assert!(activity.queued_jobs >= 1, "{activity:?}");
    eventually("the instance to render its refreshed data", WAIT, || {
        let mut clients = Clients::of(&cluster);
        let (token, klip) = (agency_in_client.clone(), instance_klip.clone());
        async move { (klip_total(&mut clients, &token, &klip).await == Some(42.0)).then_some(()) }
    })
    .await;
    assert!(api.requests_for("/sales.json") >= 1);
    let _ = std::fs::remove_dir_all(&keys);
}
