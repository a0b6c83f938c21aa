//! Tenants as the library keeps them: accounts with the test users as members, company
//! properties, data sources, Klips and dashboards.

use std::time::Duration;

use trellis_proto::library::v1 as library;
use trellis_testkit::{members, tokens};
use uuid::Uuid;

use super::{Services, call};

impl Services {
    /// An account of `kind` (a client under `parent`), created with an operator's token;
    /// `admin@test`, `editor@test` and `viewer@test` are its members.
    pub async fn account(&self, kind: library::AccountKind, parent: Option<Uuid>) -> Uuid {
        members::enrolled_account(&self.library, kind, parent).await
    }

    pub async fn set_property(&self, account: Uuid, name: &str, value: &str) {
        self.library_client()
            .set_company_property(call(
                library::SetCompanyPropertyRequest {
                    request_id: String::new(),
                    property: Some(library::CompanyProperty {
                        account_id: account.to_string(),
                        name: name.into(),
                        value: value.into(),
                        ..Default::default()
                    }),
                },
                &tokens::admin(account),
            ))
            .await
            .expect("SetCompanyProperty");
    }

    /// A data source of `account` fetching `url` every `interval` (zero: never on
    /// schedule).
    pub async fn data_source(&self, account: Uuid, url: &str, interval: Duration) -> Uuid {
        self.data_source_with(account, url, interval, None, "")
            .await
    }

    pub async fn data_source_with(
        &self,
        account: Uuid,
        url: &str,
        interval: Duration,
        auth: Option<library::data_source_auth::Method>,
        rate_limit_key: &str,
    ) -> Uuid {
        self.create_data_source(library::DataSource {
            auth: Some(library::DataSourceAuth {
                kind: 0,
                method: auth,
            }),
            rate_limit_key: rate_limit_key.to_owned(),
            ..source_of(account, url, interval)
        })
        .await
    }

    /// Creates `data_source` as its account's admin; answers its id.
    pub async fn create_data_source(&self, data_source: library::DataSource) -> Uuid {
        let account = Uuid::parse_str(&data_source.account_id).expect("an account id");
        let created = self
            .library_client()
            .create_data_source(call(
                library::CreateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(data_source),
                },
                &tokens::admin(account),
            ))
            .await
            .expect("CreateDataSource")
            .into_inner()
            .data_source
            .expect("a data source");
        Uuid::parse_str(&created.id).unwrap()
    }

    /// A Klip of `account` with named components (`(name, formula)`) over `bindings`.
    pub async fn klip(
        &self,
        account: Uuid,
        name: &str,
        components: &[(&str, &str)],
        bindings: &[Uuid],
    ) -> Uuid {
        let created = self
            .library_client()
            .create_klip(call(
                library::CreateKlipRequest {
                    request_id: String::new(),
                    klip: Some(library::Klip {
                        name: name.into(),
                        components: components
                            .iter()
                            .map(|(name, formula)| library::Component {
                                name: (*name).into(),
                                formula: (*formula).into(),
                            })
                            .collect(),
                        bindings: bindings
                            .iter()
                            .map(|source| library::Binding {
                                data_source_id: source.to_string(),
                            })
                            .collect(),
                        ..Default::default()
                    }),
                },
                &tokens::editor(account),
            ))
            .await
            .expect("CreateKlip")
            .into_inner()
            .klip
            .expect("a Klip");
        Uuid::parse_str(&created.id).unwrap()
    }

    /// A dashboard of `account` showing `klips`.
    pub async fn dashboard(&self, account: Uuid, name: &str, klips: &[Uuid]) -> Uuid {
        let created = self
            .library_client()
            .create_dashboard(call(
                library::CreateDashboardRequest {
                    request_id: String::new(),
                    dashboard: Some(library::Dashboard {
                        name: name.into(),
                        klip_ids: klips.iter().map(Uuid::to_string).collect(),
                        ..Default::default()
                    }),
                },
                &tokens::editor(account),
            ))
            .await
            .expect("CreateDashboard")
            .into_inner()
            .dashboard
            .expect("a dashboard");
        Uuid::parse_str(&created.id).unwrap()
    }
}

/// A data source of `account` fetching `url` (CSV when it ends in `.csv`, else JSON) every
/// `interval` (zero: never on schedule), without auth.
pub fn source_of(account: Uuid, url: &str, interval: Duration) -> library::DataSource {
    let format = if url.ends_with(".csv") {
        library::DataFormat::Csv
    } else {
        library::DataFormat::Json
    };
    library::DataSource {
        account_id: account.to_string(),
        name: format!("data from {url}"),
        request: Some(library::HttpRequestTemplate {
            method: library::HttpMethod::Get as i32,
            url: url.to_owned(),
            headers: vec![],
            body: String::new(),
        }),
        format: format as i32,
        refresh_interval: (!interval.is_zero()).then_some(prost_types::Duration {
            seconds: interval.as_secs() as i64,
            nanos: 0,
        }),
        ..Default::default()
    }
}
