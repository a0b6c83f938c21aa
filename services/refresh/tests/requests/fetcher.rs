//! The fetcher on its own against the data API: each pagination style combining three
//! pages, the page cap, the size cap over the pages, a next link elsewhere, the gate asked
//! before each page after the first, and `{token.NAME}` filled from the token's parameters.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use trellis_refresh::Settings;
use trellis_refresh::domain::job::DataFormat;
use trellis_refresh::fetch::{
    Body, Credentials, FetchOutcome, Fetcher, HttpRequest, NoGate, PageGate, Paging, Style,
};
use trellis_testkit::data_api::{Auth, DataApi, Reply};

pub fn settings() -> Settings {
    Settings {
        allow_private_networks: true,
        max_response_bytes: 1024 * 1024,
        fetch_timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

pub fn get(url: String, format: DataFormat) -> HttpRequest {
    HttpRequest {
        method: reqwest::Method::GET,
        url,
        headers: vec![],
        body: String::new(),
        format,
    }
}

pub fn paging(style: Style, items_path: &str, max_pages: u32) -> Paging {
    Paging {
        style,
        items_path: items_path.into(),
        max_pages,
    }
}

pub fn fetched(outcome: FetchOutcome) -> Body {
    match outcome {
        FetchOutcome::Fetched(body) => body,
        other => panic!("expected data, got {other:?}"),
    }
}

pub fn failure(outcome: FetchOutcome) -> String {
    match outcome {
        FetchOutcome::Failed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Fetches `path` of `api` with `paging` and no credentials.
async fn fetch(api: &DataApi, path: &str, format: DataFormat, paging: &Paging) -> FetchOutcome {
    let fetcher = Fetcher::new(&settings()).unwrap();
    let request = get(api.url(path), format);
    fetcher
        .fetch_pages(&request, Some(paging), &Credentials::None, &NoGate)
        .await
}

fn queries(api: &DataApi, path: &str) -> Vec<String> {
    api.arrivals_for(path)
        .into_iter()
        .map(|a| a.query)
        .collect()
}

#[tokio::test]
async fn next_links_in_the_body_relative_or_absolute_combine_three_pages() {
    let api = DataApi::start().await;
    let pages = [
        json!({"data": [1, 2], "paging": {"next": "/items?page=2"}, "total": 5}),
        json!({"data": [3, 4], "paging": {"next": api.url("/items?page=3")}}),
        json!({"data": [5], "paging": {}}),
    ];
    let bytes: usize = pages.iter().map(|p| p.to_string().len()).sum();
    api.set_pages(
        "/items",
        "page",
        vec![
            ("", Reply::json(pages[0].clone())),
            ("2", Reply::json(pages[1].clone())),
            ("3", Reply::json(pages[2].clone())),
        ],
    );
    let by_link = paging(
        Style::NextLink {
            path: "paging/next".into(),
        },
        "data",
        0,
    );
    let body = fetched(fetch(&api, "/items", DataFormat::Json, &by_link).await);
    assert_eq!(
        body.data,
        json!({"data": [1, 2, 3, 4, 5], "paging": {"next": "/items?page=2"}, "total": 5})
    );
    assert_eq!(body.pages, 3);
    assert_eq!(body.size_bytes, bytes as i64, "the size is every page's");
    assert_eq!(queries(&api, "/items"), ["", "page=2", "page=3"]);
}

#[tokio::test]
async fn link_headers_page_a_csv_under_its_first_header() {
    let api = DataApi::start().await;
    api.set_pages(
        "/rows.csv",
        "page",
        vec![
            (
                "",
                Reply::csv("a,b\n1,2\n").with_next_link("/rows.csv?page=2"),
            ),
            (
                "2",
                Reply::csv("a,b\n3,4\n").with_next_link(&api.url("/rows.csv?page=3")),
            ),
            ("3", Reply::csv("a,b\n5,6\n")),
        ],
    );
    let by_header = paging(
        Style::NextLink {
            path: String::new(),
        },
        "",
        0,
    );
    let body = fetched(fetch(&api, "/rows.csv", DataFormat::Csv, &by_header).await);
    assert_eq!(
        body.data,
        json!([["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"]])
    );
    assert_eq!(body.pages, 3);
}

#[tokio::test]
async fn page_numbers_count_up_to_an_empty_page() {
    let api = DataApi::start().await;
    let page = |items: serde_json::Value| Reply::json(json!({ "items": items }));
    api.set_pages(
        "/n",
        "page",
        vec![
            ("1", page(json!([1, 2]))),
            ("2", page(json!([3, 4]))),
            ("3", page(json!([5]))),
            ("4", page(json!([]))),
        ],
    );
    let by_number = paging(
        Style::PageNumber {
            parameter: "page".into(),
            first_page: 1,
        },
        "items",
        0,
    );
    let body = fetched(fetch(&api, "/n?sort=asc", DataFormat::Json, &by_number).await);
    assert_eq!(body.data, json!({"items": [1, 2, 3, 4, 5]}));
    // The empty fourth page ends them.
    assert_eq!(body.pages, 4);
    assert_eq!(
        queries(&api, "/n"),
        [
            "sort=asc&page=1",
            "sort=asc&page=2",
            "sort=asc&page=3",
            "sort=asc&page=4"
        ]
    );
}

#[tokio::test]
async fn offsets_step_by_the_page_size_and_stop_on_a_short_page() {
    let api = DataApi::start().await;
    api.set_pages(
        "/o",
        "offset",
        vec![
            ("0", Reply::json(json!([1, 2]))),
            ("2", Reply::json(json!([3, 4]))),
            ("4", Reply::json(json!([5]))),
        ],
    );
    let by_offset = paging(
        Style::Offset {
            parameter: "offset".into(),
            limit_parameter: "limit".into(),
            page_size: 2,
        },
        "",
        0,
    );
    let body = fetched(fetch(&api, "/o", DataFormat::Json, &by_offset).await);
    assert_eq!(body.data, json!([1, 2, 3, 4, 5]));
    assert_eq!(body.pages, 3);
    assert_eq!(
        queries(&api, "/o"),
        ["offset=0&limit=2", "limit=2&offset=2", "limit=2&offset=4"]
    );
}

#[tokio::test]
async fn cursors_follow_until_there_is_none() {
    let api = DataApi::start().await;
    let page = |rows: serde_json::Value, next: serde_json::Value| {
        Reply::json(json!({"rows": rows, "meta": {"next_cursor": next}}))
    };
    api.set_pages(
        "/c",
        "cursor",
        vec![
            ("", page(json!([{"id": 1}]), json!("c2"))),
            ("c2", page(json!([{"id": 2}]), json!("c3"))),
            ("c3", page(json!([{"id": 3}]), json!(null))),
        ],
    );
    let by_cursor = paging(
        Style::Cursor {
            parameter: "cursor".into(),
            path: "meta/next_cursor".into(),
        },
        "rows",
        0,
    );
    let body = fetched(fetch(&api, "/c", DataFormat::Json, &by_cursor).await);
    assert_eq!(body.data["rows"], json!([{"id": 1}, {"id": 2}, {"id": 3}]));
    assert_eq!(queries(&api, "/c"), ["", "cursor=c2", "cursor=c3"]);
}

/// Four pages, each linking to the next but the last.
fn four_pages(api: &DataApi, path: &str, item: &str) {
    let page = |next: Option<&str>| {
        let next = next.map(|n| format!("{path}?page={n}"));
        Reply::json(json!({"data": [item], "next": next}))
    };
    api.set_pages(
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

#[tokio::test]
async fn a_fourth_page_past_a_cap_of_three_is_never_sent() {
    let api = DataApi::start().await;
    four_pages(&api, "/many", "x");
    let capped = paging(
        Style::NextLink {
            path: "next".into(),
        },
        "data",
        3,
    );
    let error = failure(fetch(&api, "/many", DataFormat::Json, &capped).await);
    assert!(
        error.contains("more pages than the data source's limit of 3 pages"),
        "{error}"
    );
    assert_eq!(
        api.requests_for("/many"),
        3,
        "the fourth page is not asked for"
    );
}

#[tokio::test]
async fn the_size_cap_holds_over_the_pages_together() {
    let api = DataApi::start().await;
    let item = "y".repeat(40);
    four_pages(&api, "/big", &item);
    // Each page is some 60 bytes: two fit in 150, three do not.
    let fetcher = Fetcher::new(&Settings {
        max_response_bytes: 150,
        ..settings()
    })
    .unwrap();
    let by_link = paging(
        Style::NextLink {
            path: "next".into(),
        },
        "data",
        0,
    );
    let error = failure(
        fetcher
            .fetch_pages(
                &get(api.url("/big"), DataFormat::Json),
                Some(&by_link),
                &Credentials::None,
                &NoGate,
            )
            .await,
    );
    assert!(
        error.contains("the responses of 3 pages are larger than the limit of 150 bytes together"),
        "{error}"
    );
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_with_the_credentials_kept_home() {
    let api = DataApi::start().await;
    api.require(Auth::ApiKeyHeader {
        name: "X-Key".into(),
        key: "k-123456".into(),
    });
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
    let fetcher = Fetcher::new(&settings()).unwrap();
    let by_link = paging(
        Style::NextLink {
            path: "next".into(),
        },
        "data",
        0,
    );
    let credentials = Credentials::ApiKeyHeader {
        name: "X-Key".into(),
        key: "k-123456".into(),
    };
    let error = failure(
        fetcher
            .fetch_pages(
                &get(api.url("/hop"), DataFormat::Json),
                Some(&by_link),
                &credentials,
                &NoGate,
            )
            .await,
    );
    assert!(error.contains("another destination (localhost)"), "{error}");
    assert_eq!(api.requests_for("/hop"), 1, "the link was not followed");
}

/// A gate that records the pages it was asked about, and refuses `refuse`.
struct Recording {
    asked: Mutex<Vec<u32>>,
    refuse: Option<u32>,
}

impl PageGate for Recording {
    async fn before_page(&self, page: u32) -> Result<(), FetchOutcome> {
        self.asked.lock().unwrap().push(page);
        if Some(page) == self.refuse {
            return Err(FetchOutcome::RateLimited {
                retry_after: Duration::from_secs(2),
            });
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_gate_is_asked_before_each_page_after_the_first() {
    let api = DataApi::start().await;
    four_pages(&api, "/gated", "z");
    let fetcher = Fetcher::new(&settings()).unwrap();
    let by_link = paging(
        Style::NextLink {
            path: "next".into(),
        },
        "data",
        0,
    );
    let request = get(api.url("/gated"), DataFormat::Json);
    let gate = Recording {
        asked: Mutex::new(Vec::new()),
        refuse: None,
    };
    let body = fetched(
        fetcher
            .fetch_pages(&request, Some(&by_link), &Credentials::None, &gate)
            .await,
    );
    assert_eq!(body.pages, 4);
    assert_eq!(*gate.asked.lock().unwrap(), [2, 3, 4]);

    let refusing = Recording {
        asked: Mutex::new(Vec::new()),
        refuse: Some(3),
    };
    let outcome = fetcher
        .fetch_pages(&request, Some(&by_link), &Credentials::None, &refusing)
        .await;
    assert_eq!(
        outcome,
        FetchOutcome::RateLimited {
            retry_after: Duration::from_secs(2)
        }
    );
    assert_eq!(api.requests_for("/gated"), 4 + 2, "page 3 was not sent");
}
