//! The library's assets: data sources, Klips and dashboards, made, edited, read and
//! counted.

use super::*;

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
    // One List call per kind, the same but for the RPC, its request and its field.
    macro_rules! count {
        ($list:ident, $request:ident, $field:ident) => {
            library
                .clone()
                .$list(call(
                    lib::$request {
                        account_id: account.to_string(),
                        page_size: 1000,
                        ..Default::default()
                    },
                    &tokens::service(),
                ))
                .await
                .expect(stringify!($list))
                .into_inner()
                .$field
                .len()
        };
    }
    [
        count!(list_data_sources, ListDataSourcesRequest, data_sources),
        count!(list_klips, ListKlipsRequest, klips),
        count!(list_dashboards, ListDashboardsRequest, dashboards),
    ]
}

/// A data source `name` over `url` in `account`, and a master Klip of the same name with
/// one component per formula over it.
pub async fn master_klip(
    library: &Library,
    account: Uuid,
    name: &str,
    url: &str,
    formulas: &[&str],
) -> (lib::DataSource, lib::Klip) {
    let source = data_source(library, account, name, url, None).await;
    let klip = klip(library, account, name, formulas, &[&source.id]).await;
    (source, klip)
}

/// `master_klip` counting the rows of `https://api.example.test/<path>`.
pub async fn counting_klip(
    library: &Library,
    account: Uuid,
    name: &str,
    path: &str,
) -> (lib::DataSource, lib::Klip) {
    let url = format!("https://api.example.test/{path}");
    master_klip(library, account, name, &url, &["COUNT(@0.id)"]).await
}

/// The Ops dashboard of `account`, showing an Orders Klip over an Orders data source.
pub async fn ops_dashboard(
    library: &Library,
    account: Uuid,
) -> (lib::DataSource, lib::Klip, lib::Dashboard) {
    let (source, orders) = counting_klip(library, account, "Orders", "o").await;
    let board = dashboard(library, account, "Ops", &[&orders.id]).await;
    (source, orders, board)
}

/// Deletes a data source of `account` as its admin (`force`: even while Klips bind it).
pub async fn delete_data_source(library: &Library, account: Uuid, id: &str, force: bool) {
    library
        .clone()
        .delete_data_source(call(
            lib::DeleteDataSourceRequest {
                request_id: String::new(),
                id: id.into(),
                account_id: String::new(),
                etag: String::new(),
                force,
            },
            &admin(account),
        ))
        .await
        .expect("DeleteDataSource");
}

pub async fn delete_klip(library: &Library, account: Uuid, id: &str) {
    library
        .clone()
        .delete_klip(call(
            lib::DeleteKlipRequest {
                request_id: String::new(),
                id: id.into(),
                account_id: String::new(),
                etag: String::new(),
            },
            &admin(account),
        ))
        .await
        .expect("DeleteKlip");
}

/// A dashboard as its account's admin reads it.
pub async fn get_dashboard(library: &Library, account: Uuid, id: &str) -> lib::Dashboard {
    library
        .clone()
        .get_dashboard(call(
            lib::GetDashboardRequest {
                id: id.into(),
                account_id: String::new(),
            },
            &admin(account),
        ))
        .await
        .expect("GetDashboard")
        .into_inner()
        .dashboard
        .unwrap()
}

/// UpdateDataSource of `id` to fetch `url`, and with `auth` to use it, as `bearer`.
pub async fn update_data_source(
    library: &Library,
    id: &str,
    url: Option<&str>,
    auth: Option<lib::data_source_auth::Method>,
    bearer: &str,
) -> Result<lib::DataSource, Status> {
    let mut paths = Vec::new();
    if url.is_some() {
        paths.push("request.url".to_owned());
    }
    if auth.is_some() {
        paths.push("auth".to_owned());
    }
    library
        .clone()
        .update_data_source(call(
            lib::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(lib::DataSource {
                    id: id.into(),
                    request: url.map(|url| lib::HttpRequestTemplate {
                        method: lib::HttpMethod::Get as i32,
                        url: url.into(),
                        ..Default::default()
                    }),
                    auth: auth.map(|method| lib::DataSourceAuth {
                        kind: 0,
                        method: Some(method),
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            },
            bearer,
        ))
        .await
        .map(|r| r.into_inner().data_source.unwrap())
}
