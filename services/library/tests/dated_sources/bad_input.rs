//! Bad pages, ranges, dates, token parameters and limits: INVALID_ARGUMENT naming the
//! field, on create and on update, and nothing saved.

use super::*;

/// A name, a change to a sound data source, the mask path that sends it on update, the field
/// named and a phrase of the description.
type Case = (
    &'static str,
    Box<dyn Fn(&mut pb::DataSource)>,
    &'static str,
    &'static str,
    &'static str,
);

fn page_number(parameter: &str) -> pb::Pagination {
    pb::Pagination {
        style: Some(Style::PageNumber(pb::PageNumberPagination {
            parameter: parameter.into(),
            first_page: 0,
        })),
        ..Default::default()
    }
}

fn one_rate(requests: i32, period: Option<prost_types::Duration>) -> pb::SourceLimit {
    pb::SourceLimit {
        rates: vec![pb::Rate { requests, period }],
        max_concurrent: 0,
    }
}

fn csv(source: &mut pb::DataSource) {
    source.format = pb::DataFormat::Csv as i32;
}

fn cases() -> Vec<Case> {
    let url = |s: &mut pb::DataSource, u: &str| s.request.as_mut().unwrap().url = u.into();
    vec![
        (
            "no style",
            Box::new(|s| s.pagination = Some(pb::Pagination::default())),
            "pagination",
            "data_source.pagination",
            "needs a style",
        ),
        (
            "empty parameter",
            Box::new(|s| s.pagination = Some(page_number(""))),
            "pagination",
            "data_source.pagination.page_number.parameter",
            "is required",
        ),
        (
            "two-line parameter",
            Box::new(|s| s.pagination = Some(page_number("page\nx"))),
            "pagination",
            "data_source.pagination.page_number.parameter",
            "one line",
        ),
        (
            "long parameter",
            Box::new(|s| s.pagination = Some(page_number(&"p".repeat(101)))),
            "pagination",
            "data_source.pagination.page_number.parameter",
            "at most 100",
        ),
        (
            "no page size",
            Box::new(|s| {
                let mut pages = offset_pages();
                if let Some(Style::Offset(offset)) = pages.style.as_mut() {
                    offset.page_size = 0;
                }
                s.pagination = Some(pages);
            }),
            "pagination",
            "data_source.pagination.offset.page_size",
            "positive",
        ),
        (
            "too many pages",
            Box::new(|s| {
                s.pagination = Some(pb::Pagination {
                    max_pages: 101,
                    ..cursor_pages()
                })
            }),
            "pagination",
            "data_source.pagination.max_pages",
            "100",
        ),
        (
            "bad items path",
            Box::new(|s| {
                s.pagination = Some(pb::Pagination {
                    items_path: "/data".into(),
                    ..cursor_pages()
                })
            }),
            "pagination",
            "data_source.pagination.items_path",
            "separated by `/`",
        ),
        (
            "empty cursor path",
            Box::new(|s| {
                s.pagination = Some(pb::Pagination {
                    style: Some(Style::Cursor(pb::CursorPagination {
                        parameter: "c".into(),
                        cursor_path: String::new(),
                    })),
                    ..Default::default()
                })
            }),
            "pagination",
            "data_source.pagination.cursor.cursor_path",
            "is required",
        ),
        (
            "cursor of a CSV",
            Box::new(|s| {
                csv(s);
                s.pagination = Some(pb::Pagination {
                    items_path: String::new(),
                    ..cursor_pages()
                });
            }),
            "format",
            "data_source.pagination.cursor.cursor_path",
            "JSON",
        ),
        (
            "body link of a CSV",
            Box::new(|s| {
                csv(s);
                s.pagination = Some(pb::Pagination {
                    style: Some(Style::NextLink(pb::NextLinkPagination {
                        next_link_path: "next".into(),
                    })),
                    ..Default::default()
                });
            }),
            "format",
            "data_source.pagination.next_link.next_link_path",
            "Link",
        ),
        (
            "unknown range start",
            Box::new(|s| s.date_range = Some(range("last_tuesday", "today"))),
            "date_range",
            "data_source.date_range.start",
            "unknown date expression",
        ),
        (
            "empty range end",
            Box::new(|s| s.date_range = Some(range("today", ""))),
            "date_range",
            "data_source.date_range.end",
            "is required",
        ),
        (
            "range without a range",
            Box::new(|s| s.date_range = None),
            "date_range",
            "data_source.request.url",
            "need a date_range",
        ),
        (
            "bad strftime",
            Box::new(|s| {
                s.request.as_mut().unwrap().headers = vec![pb::HttpHeader {
                    name: "X-Day".into(),
                    value: "{date.yesterday|%Q}".into(),
                }]
            }),
            "request",
            "data_source.request.headers[0].value",
            "strftime",
        ),
        (
            "unknown expression",
            Box::new(move |s| url(s, "https://api.example.com/r?d={date.someday}")),
            "request",
            "data_source.request.url",
            "unknown date expression `someday`",
        ),
        (
            "unterminated date",
            Box::new(move |s| url(s, "https://api.example.com/r?d={date.today")),
            "request",
            "data_source.request.url",
            "unterminated",
        ),
        (
            "token without OAuth",
            Box::new(move |s| url(s, "https://api.example.com/r?org={token.org}")),
            "request",
            "data_source.request.url",
            "needs an OAuth token",
        ),
        (
            "date in the key",
            Box::new(|s| s.rate_limit_key = "k:{date.nope}".into()),
            "rate_limit_key",
            "data_source.rate_limit_key",
            "unknown date expression",
        ),
        (
            "six rates",
            Box::new(|s| {
                s.rate_limit_key_limit = Some(pb::SourceLimit {
                    rates: vec![limit().rates[0]; 6],
                    max_concurrent: 0,
                })
            }),
            "rate_limit_key_limit",
            "data_source.rate_limit_key_limit.rates",
            "at most 5",
        ),
        (
            "no requests",
            Box::new(|s| s.rate_limit_key_limit = Some(one_rate(0, duration(1)))),
            "rate_limit_key_limit",
            "data_source.rate_limit_key_limit.rates[0].requests",
            "positive",
        ),
        (
            "no period",
            Box::new(|s| s.rate_limit_key_limit = Some(one_rate(1, None))),
            "rate_limit_key_limit",
            "data_source.rate_limit_key_limit.rates[0].period",
            "positive",
        ),
        (
            "a long period",
            Box::new(|s| s.rate_limit_key_limit = Some(one_rate(1, duration(367 * 24 * 3600)))),
            "rate_limit_key_limit",
            "data_source.rate_limit_key_limit.rates[0].period",
            "366 days",
        ),
        (
            "negative cap",
            Box::new(|s| {
                s.rate_limit_key_limit = Some(pb::SourceLimit {
                    rates: vec![],
                    max_concurrent: -1,
                })
            }),
            "rate_limit_key_limit",
            "data_source.rate_limit_key_limit.max_concurrent",
            "between 0",
        ),
        (
            "a limit without a key",
            Box::new(|s| s.rate_limit_key = String::new()),
            "rate_limit_key",
            "data_source.rate_limit_key_limit",
            "needs a rate_limit_key",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_fields_are_invalid_arguments_naming_the_field_on_create_and_update() {
    let (library, _account, editor) = common::start_standard().await;
    let sound = create(&library, &editor, dated_source(None)).await.unwrap();
    for (name, change, path, field, phrase) in cases() {
        let mut source = dated_source(None);
        change(&mut source);
        let found = violations(create(&library, &editor, source.clone()).await);
        assert!(
            found.iter().any(|(f, d)| f == field && d.contains(phrase)),
            "{name} on create: {found:?}"
        );
        let mut paths = vec![path];
        if path == "format" {
            // The CSV cases change the format and the pages together.
            paths.push("pagination");
        }
        if name == "range without a range" {
            paths = vec!["date_range"];
        }
        let sent = pb::DataSource {
            id: sound.id.clone(),
            ..source
        };
        let found = violations(update(&library, &editor, sent, &paths).await);
        assert!(
            found.iter().any(|(f, d)| f == field && d.contains(phrase)),
            "{name} on update: {found:?}"
        );
    }
    let unchanged = library.get_data_source(&editor, &sound.id).await;
    assert_eq!(unchanged.version, sound.version, "no bad update was saved");
}
