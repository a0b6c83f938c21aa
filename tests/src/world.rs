//! The world the RPC table names: a partner P with clients A and B, another partner Q, the
//! test users as members, and one or two of every kind of resource in A, made through the
//! services' own APIs. [`Caller`] is every kind of caller the tests try.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use trellis_platform::auth::{Identity, Role, TokenMinter};
use trellis_platform::client::{TracedChannel, authorized};
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_testkit::members;
use trellis_testkit::tokens::{self, TEST_SECRET};
use uuid::Uuid;

use crate::calls::{create_data_source, create_klip, data_source, total_klip};
use crate::cluster::Cluster;

/// One caller of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    NoToken,
    Stranger,
    Sibling,
    Overreaching,
    Viewer,
    Editor,
    Admin,
    AgencyAdmin,
    Service(Identity),
}

/// The world the rows name: a partner P with clients A and B, another partner Q.
pub struct World {
    pub ids: BTreeMap<&'static str, String>,
    pub tokens: HashMap<&'static str, String>,
}

pub const STRANGER: &str = "stranger@test";
pub const SIBLING: &str = "sibling@test";
pub const AGENCY: &str = "agency@test";

pub use trellis_testkit::members::{create_account, create_account_as};

pub async fn build_world(cluster: &Cluster) -> World {
    build_world_on(|kind| cluster.channel(kind)).await
}

/// The world, made on whatever Trellis `channel` reaches (a [`Cluster`], or `make run`'s).
pub async fn build_world_on(channel: impl Fn(ServiceKind) -> TracedChannel) -> World {
    let library_channel = channel(ServiceKind::Library);
    let mut lib = LibraryServiceClient::new(library_channel.clone());
    let tok = TokenServiceClient::new(channel(ServiceKind::Tokens));
    let operator = tokens::service();
    let account = |kind, parent, name| create_account(&library_channel, kind, parent, name);
    let partner = account(library::AccountKind::Partner, None, "Agency").await;
    let a = account(library::AccountKind::Client, Some(partner), "Client A").await;
    let b = account(library::AccountKind::Client, Some(partner), "Client B").await;
    let q = account(library::AccountKind::Partner, None, "Other agency").await;
    members::enroll(&library_channel, a).await;
    members::add(&library_channel, partner, AGENCY, Role::Admin).await;
    members::add(&library_channel, b, SIBLING, Role::Admin).await;
    members::add(&library_channel, q, STRANGER, Role::Admin).await;

    let admin = tokens::admin(a);
    let call = |token: &str, message| authorized(message, token);
    lib.create_variable(call(
        &admin,
        library::CreateVariableRequest {
            request_id: String::new(),
            variable: Some(library::Variable {
                account_id: a.to_string(),
                name: "companyID".into(),
                default_value: "a".into(),
                ..Default::default()
            }),
        },
    ))
    .await
    .expect("a variable");
    let source = |token: String, name: &'static str, account: Uuid| {
        let lib = lib.clone();
        async move {
            let source = data_source(Some(account), name, "http://127.0.0.1:9/data.json");
            create_data_source(&lib, &token, source)
                .await
                .expect("a data source")
                .id
        }
    };
    let ds = source(admin.clone(), "Sales", a).await;
    let ds2 = source(admin.clone(), "Spare", a).await;
    let agency_in_partner = tokens::user_token(partner, AGENCY, Role::Admin);
    let pds = source(agency_in_partner.clone(), "Master", partner).await;
    let klip = |token: String, account: Uuid, source: String| {
        let lib = lib.clone();
        async move { create_klip(&lib, &token, total_klip(account, &source)).await }
    };
    let k = klip(admin.clone(), a, ds.clone()).await;
    let k2 = klip(admin.clone(), a, ds.clone()).await;
    let pk = klip(agency_in_partner, partner, pds).await;
    let dashboard = |klip: String| {
        let mut lib = lib.clone();
        let admin = admin.clone();
        async move {
            lib.create_dashboard(authorized(
                library::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(library::Dashboard {
                        account_id: a.to_string(),
                        name: "Overview".into(),
                        klip_ids: vec![klip],
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("a dashboard")
            .into_inner()
            .dashboard
            .expect("a dashboard")
            .id
        }
    };
    let d = dashboard(k.clone()).await;
    let d2 = dashboard(k.clone()).await;
    let embed = |klip: String| {
        let mut lib = lib.clone();
        let admin = admin.clone();
        async move {
            lib.create_embed(authorized(
                library::CreateEmbedRequest {
                    request_id: String::new(),
                    embed: Some(library::Embed {
                        account_id: a.to_string(),
                        klip_id: klip,
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("an embed")
            .into_inner()
            .embed
            .expect("an embed")
            .id
        }
    };
    let e = embed(k.clone()).await;
    let e2 = embed(k.clone()).await;
    let credential = |name: &str| {
        let mut tok = tok.clone();
        let admin = admin.clone();
        let name = name.to_owned();
        async move {
            tok.create_credential(authorized(
                tokens_pb::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tokens_pb::Credential {
                        account_id: a.to_string(),
                        display_name: name,
                        kind: tokens_pb::CredentialKind::Basic as i32,
                        username: "reporting".into(),
                        ..Default::default()
                    }),
                    secret: Some(tokens_pb::CredentialSecret {
                        password: "hunter2".into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("a credential")
            .into_inner()
            .credential
            .expect("a credential")
            .id
        }
    };
    let cred = credential("Reporting").await;
    let cred2 = credential("Spare").await;
    let provider = |name: &str| {
        let mut tok = tok.clone();
        let operator = operator.clone();
        let name = name.to_owned();
        async move {
            tok.create_provider(authorized(
                tokens_pb::CreateProviderRequest {
                    request_id: String::new(),
                    provider: Some(tokens_pb::Provider {
                        name,
                        authorization_url: "http://127.0.0.1:9/authorize".into(),
                        token_url: "http://127.0.0.1:9/token".into(),
                        client_id: "client".into(),
                        client_secret: "secret".into(),
                        scopes: vec!["read".into()],
                        ..Default::default()
                    }),
                },
                &operator,
            ))
            .await
            .expect("a provider")
            .into_inner()
            .provider
            .expect("a provider")
            .id
        }
    };
    let prov = provider("Analytics").await;
    let prov2 = provider("Spare").await;

    let ids = BTreeMap::from([
        ("{A}", a.to_string()),
        ("{B}", b.to_string()),
        ("{P}", partner.to_string()),
        ("{Q}", q.to_string()),
        ("{DS}", ds),
        ("{DS2}", ds2),
        ("{K}", k),
        ("{K2}", k2),
        ("{PK}", pk),
        ("{D}", d),
        ("{D2}", d2),
        ("{E}", e),
        ("{E2}", e2),
        ("{CREDENTIAL}", cred),
        ("{CREDENTIAL2}", cred2),
        ("{PROVIDER}", prov),
        ("{PROVIDER2}", prov2),
        ("{RANDOM}", Uuid::now_v7().to_string()),
    ]);
    let tokens = HashMap::from([
        ("viewer", tokens::viewer(a)),
        ("editor", tokens::editor(a)),
        ("admin", tokens::admin(a)),
        ("agency", tokens::user_token(a, AGENCY, Role::Admin)),
        ("sibling", tokens::user_token(b, SIBLING, Role::Admin)),
        ("stranger", tokens::user_token(q, STRANGER, Role::Admin)),
        (
            "overreaching",
            tokens::user_token(a, "viewer@test", Role::Admin),
        ),
    ]);
    World { ids, tokens }
}

impl World {
    pub fn body(&self, template: &str) -> String {
        self.ids
            .iter()
            .fold(template.to_owned(), |body, (key, id)| body.replace(key, id))
    }

    pub fn bearer(&self, caller: Caller) -> Option<String> {
        let user = |key: &str| Some(self.tokens[key].clone());
        match caller {
            Caller::NoToken => None,
            Caller::Stranger => user("stranger"),
            Caller::Sibling => user("sibling"),
            Caller::Overreaching => user("overreaching"),
            Caller::Viewer => user("viewer"),
            Caller::Editor => user("editor"),
            Caller::Admin => user("admin"),
            Caller::AgencyAdmin => user("agency"),
            Caller::Service(identity) => Some(
                TokenMinter::hs256(TEST_SECRET.as_bytes(), identity)
                    .service_token_for(&ServiceKind::ALL, Duration::from_secs(600)),
            ),
        }
    }
}
