use serde_json::json;

use super::*;

const BOUNDS: Bounds = Bounds {
    max_depth: 32,
    max_rows: 100,
    max_bytes: 1 << 20,
    max_columns: 10,
    max_memory: 1 << 24,
};

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn paging(style: Style, items_path: &str) -> Paging {
    Paging {
        style,
        items_path: items_path.into(),
        max_pages: 10,
    }
}

/// The next URL after a JSON page `data` read at `at` (page `number`).
fn after(
    paging: &Paging,
    at: &str,
    data: &Value,
    links: &[&str],
    number: u32,
) -> Result<Option<String>, String> {
    let origin = url("https://api.example/items?q=1");
    let at = url(at);
    let links: Vec<String> = links.iter().map(|l| (*l).to_owned()).collect();
    let records = records(paging, DataFormat::Json, data, number)?;
    let seen = Seen {
        origin: &origin,
        url: &at,
        format: DataFormat::Json,
        data,
        links: &links,
        number,
        records,
    };
    Ok(next_url(paging, &seen)?.map(String::from))
}

#[test]
fn query_parameters_are_set_keeping_the_rest_as_written() {
    let mut u = url("https://api.example/x?a=%20b&page=1&c");
    set_query(&mut u, "page", "2");
    assert_eq!(u.as_str(), "https://api.example/x?a=%20b&c&page=2");
    let mut u = url("https://api.example/x");
    set_query(&mut u, "a key", "a&b");
    assert_eq!(u.query(), Some("a+key=a%26b"));
    append_query(&mut u, "a key", "c");
    assert_eq!(u.query(), Some("a+key=a%26b&a+key=c"));
}

#[test]
fn paths_reach_into_objects_and_arrays() {
    let value = json!({"data": {"items": [1, {"next": "x"}]}});
    assert_eq!(at_path(&value, "data/items/1/next"), Some(&json!("x")));
    assert_eq!(at_path(&value, ""), Some(&value));
    assert_eq!(at_path(&value, "/data/"), value.get("data"));
    assert_eq!(at_path(&value, "data/missing"), None);
    assert_eq!(at_path(&value, "data/items/x"), None);
}

#[test]
fn page_numbers_and_offsets_count_up() {
    let by_number = paging(
        Style::PageNumber {
            parameter: "page".into(),
            first_page: 1,
        },
        "",
    );
    let first = first_url(Some(&by_number), &url("https://api.example/items?q=1"));
    assert_eq!(first.as_str(), "https://api.example/items?q=1&page=1");
    let page = json!([1, 2]);
    assert_eq!(
        after(&by_number, first.as_str(), &page, &[], 1)
            .unwrap()
            .unwrap(),
        "https://api.example/items?q=1&page=2"
    );
    assert_eq!(
        after(&by_number, first.as_str(), &json!([]), &[], 1).unwrap(),
        None
    );

    let by_offset = paging(
        Style::Offset {
            parameter: "offset".into(),
            limit_parameter: "limit".into(),
            page_size: 2,
        },
        "rows",
    );
    let first = first_url(Some(&by_offset), &url("https://api.example/items?q=1"));
    assert_eq!(first.query(), Some("q=1&offset=0&limit=2"));
    let full = json!({"rows": [1, 2]});
    assert_eq!(
        after(&by_offset, first.as_str(), &full, &[], 2)
            .unwrap()
            .unwrap(),
        "https://api.example/items?q=1&limit=2&offset=4"
    );
    // A short page is the last.
    let short = json!({"rows": [1]});
    assert_eq!(
        after(&by_offset, first.as_str(), &short, &[], 2).unwrap(),
        None
    );
}

#[test]
fn cursors_and_next_links_end_when_missing_or_empty() {
    let by_cursor = paging(
        Style::Cursor {
            parameter: "cursor".into(),
            path: "meta/next".into(),
        },
        "data",
    );
    let at = "https://api.example/items?q=1";
    let page = |next: Value| json!({"data": [1], "meta": {"next": next}});
    assert_eq!(
        after(&by_cursor, at, &page(json!("c2")), &[], 1)
            .unwrap()
            .unwrap(),
        "https://api.example/items?q=1&cursor=c2"
    );
    assert_eq!(
        after(&by_cursor, at, &page(json!(42)), &[], 1)
            .unwrap()
            .unwrap(),
        "https://api.example/items?q=1&cursor=42"
    );
    for end in [json!(""), json!(null), json!(false)] {
        assert_eq!(after(&by_cursor, at, &page(end), &[], 1).unwrap(), None);
    }
    assert_eq!(
        after(&by_cursor, at, &json!({"data": [1]}), &[], 1).unwrap(),
        None
    );

    let in_body = paging(
        Style::NextLink {
            path: "paging/next".into(),
        },
        "data",
    );
    let page = |next: &str| json!({"data": [1], "paging": {"next": next}});
    // Relative links resolve against the page's URL.
    assert_eq!(
        after(
            &in_body,
            "https://api.example/v1/items?q=1",
            &page("items?after=2"),
            &[],
            1
        )
        .unwrap()
        .unwrap(),
        "https://api.example/v1/items?after=2"
    );
    assert_eq!(after(&in_body, at, &page(""), &[], 1).unwrap(), None);
    // A link to the page itself ends the pages rather than looping.
    assert_eq!(after(&in_body, at, &page(at), &[], 1).unwrap(), None);
}

#[test]
fn a_next_link_elsewhere_is_refused() {
    let in_body = paging(
        Style::NextLink {
            path: "next".into(),
        },
        "data",
    );
    let at = "https://api.example/items?q=1";
    for elsewhere in [
        "https://evil.example/items?page=2",
        "https://api.example:8443/items?page=2",
        "http://api.example/items?page=2",
        "https://api.example.evil/items",
    ] {
        let page = json!({"data": [1], "next": elsewhere});
        let error = after(&in_body, at, &page, &[], 1).unwrap_err();
        assert!(
            error.contains("another destination"),
            "{elsewhere}: {error}"
        );
    }
}

#[test]
fn link_headers_name_the_next_page() {
    assert_eq!(
        next_link_header(
            r#"<https://api.example/i?page=1>; rel="prev", <https://api.example/i?page=3>; rel="next""#
        ),
        Some("https://api.example/i?page=3".into())
    );
    assert_eq!(
        next_link_header("</i?p=2>; rel=next"),
        Some("/i?p=2".into())
    );
    assert_eq!(
        next_link_header(r#"</i?a,b>; title="x"; rel="last next""#),
        Some("/i?a,b".into())
    );
    assert_eq!(next_link_header(r#"</i?p=9>; rel="last""#), None);
    assert_eq!(next_link_header("garbage"), None);

    let by_header = paging(
        Style::NextLink {
            path: String::new(),
        },
        "",
    );
    let at = "https://api.example/items?q=1";
    assert_eq!(
        after(
            &by_header,
            at,
            &json!([1]),
            &[r#"</items?page=2>; rel="next""#],
            1
        )
        .unwrap()
        .unwrap(),
        "https://api.example/items?page=2"
    );
    assert_eq!(after(&by_header, at, &json!([1]), &[], 1).unwrap(), None);
}

#[test]
fn records_that_are_not_a_list_are_refused() {
    let by_number = paging(
        Style::PageNumber {
            parameter: "page".into(),
            first_page: 1,
        },
        "data",
    );
    let error = records(&by_number, DataFormat::Json, &json!({"data": {"a": 1}}), 2).unwrap_err();
    assert!(
        error.contains("page 2") && error.contains("`data`"),
        "{error}"
    );
    assert_eq!(records(&by_number, DataFormat::Json, &json!({}), 1), Ok(0));
    assert_eq!(
        records(&by_number, DataFormat::Csv, &json!([["h"], ["1"]]), 1),
        Ok(1)
    );
}

#[test]
fn json_pages_combine_into_the_first() {
    let p = paging(
        Style::NextLink {
            path: "next".into(),
        },
        "data/items",
    );
    let mut combined = Combined::new(Some(&p), DataFormat::Json, &BOUNDS);
    combined
        .add(
            json!({"data": {"items": [1, 2]}, "next": "b", "total": 5}),
            1,
            2,
        )
        .unwrap();
    combined
        .add(json!({"data": {"items": [3, 4]}, "next": "c"}), 2, 2)
        .unwrap();
    combined.add(json!({"data": {"items": [5]}}), 3, 1).unwrap();
    assert_eq!(
        combined.finish().unwrap(),
        json!({"data": {"items": [1, 2, 3, 4, 5]}, "next": "b", "total": 5})
    );
}

#[test]
fn csv_pages_share_the_first_header() {
    let p = paging(
        Style::PageNumber {
            parameter: "page".into(),
            first_page: 1,
        },
        "",
    );
    let mut combined = Combined::new(Some(&p), DataFormat::Csv, &BOUNDS);
    combined.add(json!([["a", "b"], ["1", "2"]]), 1, 1).unwrap();
    combined
        .add(json!([["a", "b"], ["3", "4"], ["5", "6"]]), 2, 2)
        .unwrap();
    combined.add(json!([]), 3, 0).unwrap();
    assert_eq!(
        combined.finish().unwrap(),
        json!([["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"]])
    );

    let mut combined = Combined::new(Some(&p), DataFormat::Csv, &BOUNDS);
    combined.add(json!([["a", "b"], ["1", "2"]]), 1, 1).unwrap();
    let error = combined
        .add(json!([["b", "a"], ["3", "4"]]), 2, 1)
        .unwrap_err();
    assert!(
        error.contains("page 2") && error.contains("header"),
        "{error}"
    );
}

#[test]
fn combined_pages_keep_the_bounds() {
    let p = paging(
        Style::NextLink {
            path: String::new(),
        },
        "",
    );
    let few = Bounds {
        max_rows: 3,
        ..BOUNDS
    };
    let mut combined = Combined::new(Some(&p), DataFormat::Json, &few);
    combined.add(json!([1, 2]), 1, 2).unwrap();
    assert_eq!(
        combined.add(json!([3, 4]), 2, 2).unwrap_err(),
        few.too_many_rows()
    );

    let small = Bounds {
        max_bytes: 40,
        ..BOUNDS
    };
    let mut combined = Combined::new(Some(&p), DataFormat::Json, &small);
    combined.add(json!(["abcdefghij"]), 1, 1).unwrap();
    combined.add(json!(["abcdefghij"]), 2, 1).unwrap();
    combined.add(json!(["abcdefghij"]), 3, 1).unwrap();
    assert_eq!(combined.finish().unwrap_err(), small.too_large());
}
