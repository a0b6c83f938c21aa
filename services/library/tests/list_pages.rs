//! List answers are bounded in bytes: a page of large items ends early with a
//! `next_page_token`, always holds one item at least, and paging on returns every item once.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::{dashboard_of, json_source, klip_of, start, with};
use prost::Message;
use trellis_library::api::MAX_PAGE_BYTES;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;

/// Bytes of `items` as a List answer's repeated field carries them.
fn page_bytes<M: Message>(items: &[M]) -> usize {
    items
        .iter()
        .map(|item| {
            let len = item.encoded_len();
            1 + prost::length_delimiter_len(len) + len
        })
        .sum()
}

/// Pages through a list with `page_size` 1000, checking each page's bytes; returns the ids
/// of each page.
async fn pages<M, F, Fut>(mut list: F, id: impl Fn(&M) -> String) -> Vec<Vec<String>>
where
    M: Message,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = (Vec<M>, String)>,
{
    let mut pages = vec![];
    let mut token = String::new();
    loop {
        let (items, next) = list(token).await;
        assert!(!items.is_empty(), "a page holds one item at least");
        let bytes = page_bytes(&items);
        assert!(
            bytes <= MAX_PAGE_BYTES || items.len() == 1,
            "a page of {} items takes {bytes} bytes",
            items.len()
        );
        pages.push(items.iter().map(&id).collect());
        if next.is_empty() {
            return pages;
        }
        token = next;
    }
}

/// Pages through the List RPC `$method` with `$token` (see [`pages`]): the ids of each
/// page's `$items`. A macro, as each List RPC has its own request and answer types.
macro_rules! all_pages {
    ($client:expr, $token:expr, $method:ident, $request:ident, $items:ident) => {
        pages(
            |page_token| {
                let (mut client, token) = ($client.clone(), $token.clone());
                async move {
                    let request = pb::$request {
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    };
                    let answer = client.$method(with(&token, request)).await;
                    let answer = answer.expect(stringify!($method)).into_inner();
                    (answer.$items, answer.next_page_token)
                }
            },
            |item| item.id.clone(),
        )
        .await
    };
}

/// A formula of about `bytes` bytes: a text literal.
fn literal(bytes: usize, letter: &str) -> String {
    format!("\"{}\"", letter.repeat(bytes / letter.len()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_large_klips_ends_early_and_paging_on_returns_them_all() {
    let library = start().await;
    let account = library.standard().await;
    let editor = tokens::editor(account);
    // Five Klips of about 400 kB, then one of about 2 MB (two-byte characters).
    let formula = literal(9_900, "x");
    let mut created = vec![];
    for i in 0..5 {
        let formulas = vec![formula.as_str(); 40];
        let klip = library
            .klip(&editor, klip_of(None, &format!("k{i}"), &formulas, &[]))
            .await;
        created.push(klip.id);
    }
    let wide = literal(19_800, "é");
    let klip = library
        .klip(
            &editor,
            klip_of(None, "wide", &vec![wide.as_str(); 100], &[]),
        )
        .await;
    created.push(klip.id);
    created.sort();

    let client = library.client();
    let got = all_pages!(client, editor, list_klips, ListKlipsRequest, klips);
    assert!(got.len() >= 3, "{} pages", got.len());
    assert!(got.iter().all(|page| page.len() <= 2), "{got:?}");
    assert_eq!(got.concat(), created, "every Klip once, in id order");
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_and_data_sources_page_by_bytes_too() {
    let library = start().await;
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let admin = tokens::admin(account);

    // Twenty dashboards with 60 kB layouts: at most 17 fit in a page.
    let mut boards = vec![];
    for i in 0..20 {
        let mut dashboard = dashboard_of(None, &format!("d{i}"), &[]);
        dashboard.layout = Some(prost_types::Struct {
            fields: [(
                "notes".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue("n".repeat(60_000))),
                },
            )]
            .into(),
        });
        boards.push(library.dashboard(&editor, dashboard).await.id);
    }
    boards.sort();
    let client = library.client();
    let got = all_pages!(
        client,
        editor,
        list_dashboards,
        ListDashboardsRequest,
        dashboards
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.concat(), boards);

    // Four data sources of about 460 kB (a 64 KiB body, 50 headers of 8 KiB): two a page.
    let mut sources = vec![];
    for i in 0..4 {
        let mut source = json_source(None, &format!("s{i}"), "https://api.example.com/");
        let request = source.request.as_mut().unwrap();
        request.method = pb::HttpMethod::Post as i32;
        request.body = "b".repeat(64 * 1024);
        request.headers = (0..50)
            .map(|h| pb::HttpHeader {
                name: format!("X-Note-{h}"),
                value: "v".repeat(8 * 1024),
            })
            .collect();
        sources.push(library.data_source(&admin, source).await.id);
    }
    sources.sort();
    let got = all_pages!(
        client,
        editor,
        list_data_sources,
        ListDataSourcesRequest,
        data_sources
    );
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
    assert_eq!(got.concat(), sources);
}

#[tokio::test(flavor = "multi_thread")]
async fn small_items_still_fill_a_whole_page() {
    let library = start().await;
    let account = library.standard().await;
    let editor = tokens::editor(account);
    for i in 0..30 {
        library
            .klip(&editor, klip_of(None, &format!("k{i}"), &["1"], &[]))
            .await;
    }
    let answer = library
        .client()
        .list_klips(with(
            &editor,
            pb::ListKlipsRequest {
                page_size: 25,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.klips.len(), 25);
    assert!(!answer.next_page_token.is_empty());
}
