//! Stored assets for unit tests.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::closure::AssetGraph;
use super::dashboard::DashboardDefinition;
use super::data_source::{Auth, DataSourceDefinition, Format, Method};
use super::klip::{Component, KlipDefinition};
use super::stored::{Dashboard, DataSource, Klip};

pub fn data_source(graph: &mut AssetGraph, url: &str, auth: Auth) -> Uuid {
    let definition = DataSourceDefinition {
        name: "source".into(),
        method: Method::Get,
        url: url.into(),
        headers: vec![],
        body: String::new(),
        format: Format::Json,
        auth,
        refresh_interval_seconds: 0,
        rate_limit_key: String::new(),
        pagination: None,
        date_range: None,
        rate_limit_key_limit: None,
    };
    let id = Uuid::now_v7();
    graph.data_sources.insert(
        id,
        DataSource {
            id,
            account_id: Uuid::nil(),
            template_properties: definition.template_properties(),
            fingerprint: definition.fingerprint(),
            definition,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        },
    );
    id
}

pub fn klip(graph: &mut AssetGraph, bindings: &[Option<Uuid>], variables: &[&str]) -> Uuid {
    let id = Uuid::now_v7();
    graph.klips.insert(
        id,
        Klip {
            id,
            account_id: Uuid::nil(),
            definition: KlipDefinition {
                name: "klip".into(),
                components: vec![Component {
                    name: "value".into(),
                    formula: "@0.x".into(),
                }],
                bindings: bindings.to_vec(),
            },
            variables: variables.iter().map(|v| (*v).to_owned()).collect(),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        },
    );
    id
}

pub fn dashboard(graph: &mut AssetGraph, klip_ids: &[Uuid]) -> Uuid {
    let id = Uuid::now_v7();
    graph.dashboards.insert(
        id,
        Dashboard {
            id,
            account_id: Uuid::nil(),
            definition: DashboardDefinition {
                name: "board".into(),
                klip_ids: klip_ids.to_vec(),
                layout: json!({}),
            },
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        },
    );
    id
}
