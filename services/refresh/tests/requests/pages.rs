//! Pagination end to end: each style combining three pages into the data GetCachedData
//! serves, the page cap refusing a fourth page, the size cap over the pages together, and
//! a next link to another host refused with nothing sent there.

use serde_json::json;
use trellis_proto::library::v1::{self as library, pagination::Style};
use trellis_testkit::data_api::Reply;

use super::world::{Source, pagination, setup};
use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_pagination_style_combines_three_pages() {
    let setup = setup(fast_settings()).await;
    let api = &setup.world.api;

    // A next link in the body, relative first, then absolute.
    api.set_pages(
        "/linked",
        "page",
        vec![
            (
                "",
                Reply::json(json!({"data": ["a"], "paging": {"next": "/linked?page=2"}})),
            ),
            (
                "2",
                Reply::json(json!({"data": ["b"], "paging": {"next": api.url("/linked?page=3")}})),
            ),
            ("3", Reply::json(json!({"data": ["c"], "paging": {}}))),
        ],
    );
    // `Link` headers, over CSV pages.
    api.set_pages(
        "/headers.csv",
        "page",
        vec![
            (
                "",
                Reply::csv("k,v\na,1\n").with_next_link("/headers.csv?page=2"),
            ),
            (
                "2",
                Reply::csv("k,v\nb,2\n").with_next_link("/headers.csv?page=3"),
            ),
            ("3", Reply::csv("k,v\nc,3\n")),
        ],
    );
    // Page numbers, up to an empty page.
    api.set_pages(
        "/numbered",
        "p",
        vec![
            ("1", Reply::json(json!({"items": ["a"]}))),
            ("2", Reply::json(json!({"items": ["b"]}))),
            ("3", Reply::json(json!({"items": ["c"]}))),
            ("4", Reply::json(json!({"items": []}))),
        ],
    );
    // Offsets, up to a short page.
    api.set_pages(
        "/offsets",
        "offset",
        vec![
            ("0", Reply::json(json!(["a", "b"]))),
            ("2", Reply::json(json!(["c", "d"]))),
            ("4", Reply::json(json!(["e"]))),
        ],
    );
    // Cursors, up to none.
    api.set_pages(
        "/cursors",
        "cursor",
        vec![
            ("", Reply::json(json!({"rows": ["a"], "next": "c2"}))),
            ("c2", Reply::json(json!({"rows": ["b"], "next": "c3"}))),
            ("c3", Reply::json(json!({"rows": ["c"], "next": ""}))),
        ],
    );

    let cases = [
        (
            "/linked",
            false,
            Style::NextLink(library::NextLinkPagination {
                next_link_path: "paging/next".into(),
            }),
            "data",
            json!({"data": ["a", "b", "c"], "paging": {"next": "/linked?page=2"}}),
            3,
        ),
        (
            "/headers.csv",
            true,
            Style::NextLink(library::NextLinkPagination::default()),
            "",
            json!([["k", "v"], ["a", "1"], ["b", "2"], ["c", "3"]]),
            3,
        ),
        (
            "/numbered",
            false,
            Style::PageNumber(library::PageNumberPagination {
                parameter: "p".into(),
                first_page: 1,
            }),
            "items",
            json!({"items": ["a", "b", "c"]}),
            4,
        ),
        (
            "/offsets",
            false,
            Style::Offset(library::OffsetPagination {
                parameter: "offset".into(),
                limit_parameter: "limit".into(),
                page_size: 2,
            }),
            "",
            json!(["a", "b", "c", "d", "e"]),
            3,
        ),
        (
            "/cursors",
            false,
            Style::Cursor(library::CursorPagination {
                parameter: "cursor".into(),
                cursor_path: "next".into(),
            }),
            "rows",
            json!({"rows": ["a", "b", "c"], "next": "c2"}),
            3,
        ),
    ];
    for (path, csv, style, items_path, expected, requests) in cases {
        let source = setup
            .source(Source {
                url: api.url(path),
                csv,
                pagination: pagination(style, items_path, 0),
                ..Default::default()
            })
            .await;
        let (data, cached) = setup.refreshed(source).await;
        assert_eq!(data, expected, "{path}");
        assert_eq!(api.requests_for(path), requests, "{path}");
        assert!(
            api.arrivals_for(path).iter().all(|a| a.status == 200),
            "{path}"
        );
        assert!(cached.size_bytes > 0, "{path}");
    }
    let offsets: Vec<String> = api
        .arrivals_for("/offsets")
        .into_iter()
        .map(|a| a.query)
        .collect();
    assert_eq!(
        offsets,
        ["offset=0&limit=2", "limit=2&offset=2", "limit=2&offset=4"]
    );
}

/// Four pages at `path`, each linking to the next but the last.
fn four_pages(setup: &super::world::Setup, path: &str, item: &str) {
    let page = |next: Option<&str>| {
        let next = next.map(|n| format!("{path}?page={n}"));
        Reply::json(json!({"data": [item], "next": next}))
    };
    setup.world.api.set_pages(
        path,
        "page",
        vec![
            ("", page(Some("2"))),
            ("2", page(Some("3"))),
            ("3", page(Some("4"))),
            ("4", page(None)),
        ],
    );
}

fn by_link(max_pages: i32) -> Option<library::Pagination> {
    pagination(
        Style::NextLink(library::NextLinkPagination {
            next_link_path: "next".into(),
        }),
        "data",
        max_pages,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_cap_the_size_cap_and_next_links_elsewhere_fail_the_refresh() {
    // Each page of `/big` is some 170 bytes: two fit in 400, three do not.
    let setup = setup(Settings {
        max_response_bytes: 400,
        ..fast_settings()
    })
    .await;
    let api = &setup.world.api;

    four_pages(&setup, "/capped", "x");
    let capped = setup
        .source(Source {
            url: api.url("/capped"),
            pagination: by_link(3),
            ..Default::default()
        })
        .await;
    let error = setup.refresh_fails(capped).await;
    assert!(
        error.contains("more pages than the data source's limit of 3 pages"),
        "{error}"
    );
    assert_eq!(
        api.requests_for("/capped"),
        3,
        "the fourth page is never asked for"
    );

    four_pages(&setup, "/big", &"y".repeat(150));
    let big = setup
        .source(Source {
            url: api.url("/big"),
            pagination: by_link(0),
            ..Default::default()
        })
        .await;
    let error = setup.refresh_fails(big).await;
    assert!(
        error.contains("the responses of 3 pages are larger than the limit of 400 bytes together"),
        "{error}"
    );

    // `localhost` is another host than `127.0.0.1`, though the same server.
    api.set_pages(
        "/hop",
        "page",
        vec![
            (
                "",
                Reply::json(json!({"data": [1], "next": api.url_by_name("/hop?page=2")})),
            ),
            ("2", Reply::json(json!({"data": [2]}))),
        ],
    );
    let hop = setup
        .source(Source {
            url: api.url("/hop"),
            headers: vec![("X-Team".into(), "kept-at-home".into())],
            pagination: by_link(0),
            ..Default::default()
        })
        .await;
    let error = setup.refresh_fails(hop).await;
    assert!(error.contains("another destination (localhost)"), "{error}");
    assert_eq!(api.requests_for("/hop"), 1, "the link was not followed");
}
