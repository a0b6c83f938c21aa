//! ResolveDataSource on a pinned clock: dates in the account's time zone across a day and
//! month boundary, narrowing within the range, instance keys per period, and what refresh
//! needs for pages and limits.

use std::sync::Arc;

use trellis_library::ManualClock;

use super::*;

/// Today, yesterday, this month's start, last month's end, and today's epoch in a header.
fn calendar_source() -> pb::DataSource {
    let mut source = json_source(
        None,
        "Calendar",
        "https://api.example.com/r?today={date.today}&y={date.yesterday|%d/%m/%Y}\
         &m={date.start_of_month}&lm={date.end_of_last_month}\
         &from={date.range.start}&to={date.range.end}",
    );
    source.request.as_mut().unwrap().headers = vec![pb::HttpHeader {
        name: "X-Since".into(),
        value: "{date.today|epoch}".into(),
    }];
    source.date_range = Some(range("30_days_ago", "yesterday"));
    source
}

#[tokio::test(flavor = "multi_thread")]
async fn dates_resolve_in_the_accounts_time_zone_across_a_day_and_month_end() {
    // 23:30 UTC on 1 December: already 2 December in Berlin, still 1 December in New York.
    let clock = Arc::new(ManualClock::new(at(2026, 12, 1, 23, 30)));
    let library = common::start_at(clock.clone()).await;
    let berlin = account_in(&library, pb::AccountKind::Standard, None, "Europe/Berlin").await;
    let new_york = account_in(
        &library,
        pb::AccountKind::Standard,
        None,
        "America/New_York",
    )
    .await;
    let in_berlin = create(&library, &tokens::editor(berlin), calendar_source())
        .await
        .unwrap();
    let in_new_york = create(&library, &tokens::editor(new_york), calendar_source())
        .await
        .unwrap();

    let b = resolve(&library, berlin, &in_berlin.id, None)
        .await
        .unwrap();
    assert_eq!(
        b.url,
        "https://api.example.com/r?today=2026-12-02&y=01%2F12%2F2026&m=2026-12-01\
         &lm=2026-11-30&from=2026-11-02&to=2026-12-01"
    );
    // Midnight of 2 December in Berlin (UTC+1).
    assert_eq!(b.headers[0].value, "1796166000");
    assert_eq!(
        (b.date_range_start.as_str(), b.date_range_end.as_str()),
        ("2026-11-02", "2026-12-01")
    );

    let n = resolve(&library, new_york, &in_new_york.id, None)
        .await
        .unwrap();
    assert_eq!(
        n.url,
        "https://api.example.com/r?today=2026-12-01&y=30%2F11%2F2026&m=2026-12-01\
         &lm=2026-11-30&from=2026-11-01&to=2026-11-30"
    );
    // Midnight of 1 December in New York (UTC-5).
    assert_eq!(n.headers[0].value, "1796101200");
    assert_eq!(
        (n.date_range_start.as_str(), n.date_range_end.as_str()),
        ("2026-11-01", "2026-11-30")
    );
    assert!(n.unresolved_properties.is_empty());

    // The same instant resolves the same instance; a new day in New York is a new one.
    let again = resolve(&library, new_york, &in_new_york.id, None)
        .await
        .unwrap();
    assert_eq!(again.instance_key, n.instance_key);
    clock.set(at(2026, 12, 2, 5, 30));
    let next_day = resolve(&library, new_york, &in_new_york.id, None)
        .await
        .unwrap();
    assert!(
        next_day.url.contains("today=2026-12-02"),
        "{}",
        next_day.url
    );
    assert_eq!(next_day.date_range_end, "2026-12-01");
    assert_ne!(
        next_day.instance_key, n.instance_key,
        "caches never mix periods"
    );
    // Berlin's day has not changed since: nor has its instance.
    let berlin_later = resolve(&library, berlin, &in_berlin.id, None)
        .await
        .unwrap();
    assert_eq!(berlin_later.instance_key, b.instance_key);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_narrows_within_the_data_sources_range_only() {
    let clock = Arc::new(ManualClock::new(at(2026, 12, 2, 12, 0)));
    let library = common::start_at(clock).await;
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let source = create(&library, &editor, calendar_source()).await.unwrap();
    let whole = resolve(&library, account, &source.id, None).await.unwrap();
    assert_eq!(
        (
            whole.date_range_start.as_str(),
            whole.date_range_end.as_str()
        ),
        ("2026-11-02", "2026-12-01")
    );

    let week = resolve(
        &library,
        account,
        &source.id,
        Some(range("7_days_ago", "range.end")),
    )
    .await
    .unwrap();
    assert_eq!(
        (week.date_range_start.as_str(), week.date_range_end.as_str()),
        ("2026-11-25", "2026-12-01")
    );
    assert!(
        week.url.ends_with("&from=2026-11-25&to=2026-12-01"),
        "{}",
        week.url
    );
    assert_ne!(week.instance_key, whole.instance_key);
    let empty = resolve(&library, account, &source.id, Some(range("", "")))
        .await
        .unwrap();
    assert_eq!(
        empty.instance_key, whole.instance_key,
        "an empty range is no narrowing"
    );

    for (start, end) in [("60_days_ago", "yesterday"), ("7_days_ago", "today")] {
        let found =
            violations(resolve(&library, account, &source.id, Some(range(start, end))).await);
        assert!(
            found
                .iter()
                .any(|(f, d)| f == "date_range"
                    && d.contains("must lie within the data source's range")),
            "{start}..{end}: {found:?}"
        );
    }
    let found =
        violations(resolve(&library, account, &source.id, Some(range("soon", "today"))).await);
    assert_eq!(found[0].0, "date_range.start", "{found:?}");

    let plain = create(
        &library,
        &editor,
        json_source(None, "Plain", "https://api.example.com/r?d={date.today}"),
    )
    .await
    .unwrap();
    let found =
        violations(resolve(&library, account, &plain.id, Some(range("today", "today"))).await);
    assert!(
        found[0].0 == "date_range" && found[0].1.contains("no date range"),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resolution_carries_pages_and_limit_and_the_family_scope_of_the_limit() {
    let library = common::start().await;
    let family = library.family().await;
    let standard = library.standard().await;
    for (account, scope) in [
        (family.client_a, family.partner),
        (family.partner, family.partner),
        (standard, standard),
    ] {
        let source = create(&library, &tokens::admin(account), dated_source(None))
            .await
            .unwrap();
        let resolved = resolve(&library, account, &source.id, None).await.unwrap();
        assert_eq!(resolved.limit_scope_account_id, scope.to_string());
        assert_eq!(resolved.pagination, Some(cursor_pages()));
        assert_eq!(resolved.rate_limit_key_limit, Some(limit()));
        assert!(resolved.token_parameters.is_empty());
    }
}
