//! The library calls the tests across services share: a data source and a Klip made as the
//! caller a token names, and the number a rendered component shows.

use tonic::Status;
use trellis_platform::client::{TracedChannel, authorized};
use trellis_proto::library::v1 as library;
use trellis_proto::library::v1::library_service_client::LibraryServiceClient;
use uuid::Uuid;

pub type Library = LibraryServiceClient<TracedChannel>;

/// A data source of `account` (`None`: the caller's) named `name` that GETs `url` and reads
/// JSON, without auth; callers change what else they need (`..data_source(…)`).
pub fn data_source(account: Option<Uuid>, name: &str, url: &str) -> library::DataSource {
    library::DataSource {
        account_id: account.map(|id| id.to_string()).unwrap_or_default(),
        name: name.into(),
        request: Some(library::HttpRequestTemplate {
            method: library::HttpMethod::Get as i32,
            url: url.into(),
            ..Default::default()
        }),
        format: library::DataFormat::Json as i32,
        ..Default::default()
    }
}

/// A Klip of `account` with `components`, bound to `sources` in order.
pub fn klip(
    account: Uuid,
    name: &str,
    components: Vec<library::Component>,
    sources: &[&str],
) -> library::Klip {
    library::Klip {
        account_id: account.to_string(),
        name: name.into(),
        components,
        bindings: sources
            .iter()
            .map(|id| library::Binding {
                data_source_id: (*id).to_owned(),
            })
            .collect(),
        ..Default::default()
    }
}

/// The Klip "Total" of `account`: one component `total` that sums the `amount`s of `source`.
pub fn total_klip(account: Uuid, source: &str) -> library::Klip {
    let total = library::Component {
        name: "total".into(),
        formula: "SUM(@0.amount)".into(),
    };
    klip(account, "Total", vec![total], &[source])
}

/// CreateDataSource as the caller of `token`.
pub async fn create_data_source(
    library: &Library,
    token: &str,
    data_source: library::DataSource,
) -> Result<library::DataSource, Status> {
    let created = library
        .clone()
        .create_data_source(authorized(
            library::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(data_source),
            },
            token,
        ))
        .await?
        .into_inner();
    Ok(created.data_source.expect("the created data source"))
}

/// CreateKlip as the caller of `token`; the new Klip's id.
pub async fn create_klip(library: &Library, token: &str, klip: library::Klip) -> String {
    library
        .clone()
        .create_klip(authorized(
            library::CreateKlipRequest {
                request_id: String::new(),
                klip: Some(klip),
            },
            token,
        ))
        .await
        .expect("a Klip")
        .into_inner()
        .klip
        .expect("the created Klip")
        .id
}

/// The first value of a rendered component, when it is a number.
pub fn number_of(component: &library::ComponentResult) -> Option<f64> {
    component
        .values
        .as_ref()?
        .values
        .first()
        .and_then(|value| match value.kind {
            Some(prost_types::value::Kind::NumberValue(n)) => Some(n),
            _ => None,
        })
}
