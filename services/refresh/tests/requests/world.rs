//! What the end-to-end request tests share: a world with one refresh replica and an account,
//! data sources with a whole request template and pagination, saved credentials of any
//! kind, and a refresh followed to its end.

use trellis_platform::client::TracedChannel;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_testkit::{TestServer, tokens};
use uuid::Uuid;

use crate::common::jobs::{cached, refresh_to_the_end, state};
use crate::common::*;

pub type Client = RefreshServiceClient<TracedChannel>;

/// The services, a refresh replica and an account of them.
pub struct Setup {
    pub world: World,
    pub client: Client,
    pub account: Uuid,
    _replica: TestServer,
}

pub async fn setup(settings: Settings) -> Setup {
    let world = World::start().await;
    let replica = world.replica(settings).await;
    let account = world.account(library::AccountKind::Standard, None).await;
    Setup {
        client: refresh_client(&replica),
        world,
        account,
        _replica: replica,
    }
}

/// A data source's request: method, URL, headers, body, auth and pagination.
#[derive(Clone, Default)]
pub struct Source {
    pub method: library::HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub csv: bool,
    pub auth: Option<library::data_source_auth::Method>,
    pub pagination: Option<library::Pagination>,
}

impl Setup {
    /// Creates the data source (no refresh interval: refreshed only when asked).
    pub async fn source(&self, source: Source) -> Uuid {
        let format = if source.csv {
            library::DataFormat::Csv
        } else {
            library::DataFormat::Json
        };
        let created = self
            .world
            .library_client()
            .create_data_source(call(
                library::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(library::DataSource {
                        account_id: self.account.to_string(),
                        name: format!("data from {}", source.url),
                        request: Some(library::HttpRequestTemplate {
                            method: source.method as i32,
                            url: source.url.clone(),
                            headers: source
                                .headers
                                .iter()
                                .map(|(name, value)| library::HttpHeader {
                                    name: name.clone(),
                                    value: value.clone(),
                                })
                                .collect(),
                            body: source.body.clone(),
                        }),
                        format: format as i32,
                        auth: Some(library::DataSourceAuth {
                            kind: 0,
                            method: source.auth.clone(),
                        }),
                        pagination: source.pagination.clone(),
                        ..Default::default()
                    }),
                },
                &tokens::admin(self.account),
            ))
            .await
            .expect("CreateDataSource")
            .into_inner()
            .data_source
            .expect("a data source");
        Uuid::parse_str(&created.id).unwrap()
    }

    /// Saves a credential of the account; returns the auth method naming it.
    pub async fn credential(
        &self,
        credential: tokens_pb::Credential,
        secret: tokens_pb::CredentialSecret,
    ) -> Option<library::data_source_auth::Method> {
        let created = self
            .world
            .tokens_client()
            .create_credential(call(
                tokens_pb::CreateCredentialRequest {
                    request_id: String::new(),
                    credential: Some(tokens_pb::Credential {
                        account_id: self.account.to_string(),
                        display_name: "a credential".into(),
                        ..credential
                    }),
                    secret: Some(secret),
                },
                &tokens::admin(self.account),
            ))
            .await
            .expect("CreateCredential")
            .into_inner()
            .credential
            .expect("a credential");
        Some(library::data_source_auth::Method::CredentialId(created.id))
    }

    /// Refreshes `source` now, expects the refresh to succeed, and answers the data served.
    pub async fn refreshed(&self, source: Uuid) -> (serde_json::Value, refresh::CachedData) {
        let mut client = self.client.clone();
        let job = refresh_to_the_end(&mut client, self.account, source).await;
        assert_eq!(
            state(&job),
            refresh::RefreshJobState::Succeeded,
            "refreshed: {job:?}"
        );
        let data = cached(&mut client, self.account, source)
            .await
            .expect("the data is served");
        (json_of(data.data.as_ref().expect("data")), data)
    }

    /// Refreshes `source` now, expects the refresh to fail, and answers its error.
    pub async fn refresh_fails(&self, source: Uuid) -> String {
        let mut client = self.client.clone();
        let job = refresh_to_the_end(&mut client, self.account, source).await;
        assert_eq!(
            state(&job),
            refresh::RefreshJobState::Failed,
            "failed: {job:?}"
        );
        assert!(
            cached(&mut client, self.account, source).await.is_err(),
            "nothing is cached"
        );
        job.error
    }
}

/// A pagination of `style` over the records at `items_path`.
pub fn pagination(
    style: library::pagination::Style,
    items_path: &str,
    max_pages: i32,
) -> Option<library::Pagination> {
    Some(library::Pagination {
        style: Some(style),
        items_path: items_path.into(),
        max_pages,
    })
}

/// A `google.protobuf.Value` as JSON.
pub fn json_of(value: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        // Whole numbers as integers, as the API wrote them.
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9e15 => {
            serde_json::json!(*n as i64)
        }
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::ListValue(list)) => list.values.iter().map(json_of).collect(),
        Some(Kind::StructValue(fields)) => fields
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}
