//! Pagination, date range and the key's limit: saved and read back, changed with masks,
//! refused when wrong, and kept by an import's copy and by a push of the master.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_new_fields_round_trip_through_create_update_and_get() {
    let (library, account, editor) = common::start_standard().await;
    let created = create(&library, &editor, dated_source(None)).await.unwrap();
    assert_eq!(created.pagination, Some(cursor_pages()));
    assert_eq!(created.date_range, Some(range("30_days_ago", "yesterday")));
    assert_eq!(created.rate_limit_key_limit, Some(limit()));
    let got = library.get_data_source(&editor, &created.id).await;
    assert_eq!(got, created);

    // A new limit is a change (the version grows) but not of what is fetched.
    let change = |f: &dyn Fn(&mut pb::DataSource)| {
        let mut change = pb::DataSource {
            id: created.id.clone(),
            ..Default::default()
        };
        f(&mut change);
        change
    };
    let slower = pb::SourceLimit {
        rates: vec![pb::Rate {
            requests: 1,
            period: duration(1),
        }],
        max_concurrent: 0,
    };
    let limited = update(
        &library,
        &editor,
        change(&|c| c.rate_limit_key_limit = Some(slower.clone())),
        &["rate_limit_key_limit"],
    )
    .await
    .unwrap();
    assert_eq!(limited.rate_limit_key_limit, Some(slower));
    assert_eq!(limited.version, created.version + 1);
    assert_eq!(limited.fingerprint, created.fingerprint);
    assert_eq!(limited.pagination, created.pagination, "not in the mask");

    // Pages and the range decide the data: the fingerprint changes with them.
    let paged = update(
        &library,
        &editor,
        change(&|c| c.pagination = Some(offset_pages())),
        &["pagination"],
    )
    .await
    .unwrap();
    assert_eq!(paged.pagination, Some(offset_pages()));
    assert_eq!(paged.version, limited.version + 1);
    assert_ne!(paged.fingerprint, limited.fingerprint);
    let month = update(
        &library,
        &editor,
        change(&|c| c.date_range = Some(range("start_of_month", "today"))),
        &["date_range"],
    )
    .await
    .unwrap();
    assert_eq!(month.date_range, Some(range("start_of_month", "today")));
    assert_ne!(month.fingerprint, paged.fingerprint);
    let same = update(
        &library,
        &editor,
        change(&|c| c.date_range = Some(range("start_of_month", "today"))),
        &["date_range"],
    )
    .await
    .unwrap();
    assert_eq!((same.version, &same.etag), (month.version, &month.etag));

    // Unset in the mask clears them.
    let single = update(
        &library,
        &editor,
        change(&|_| {}),
        &["pagination", "rate_limit_key_limit"],
    )
    .await
    .unwrap();
    assert_eq!(
        (single.pagination, single.rate_limit_key_limit),
        (None, None)
    );
    let mut client = library.client();
    let listed = client.list_data_sources(with(
        &editor,
        pb::ListDataSourcesRequest {
            account_id: account.to_string(),
            ..Default::default()
        },
    ));
    let listed = listed.await.unwrap().into_inner().data_sources;
    assert_eq!(listed[0].date_range, Some(range("start_of_month", "today")));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_copy_keeps_pages_range_and_limit_and_a_push_carries_them() {
    let library = common::start().await;
    let family = library.family().await;
    let master = create(&library, &tokens::admin(family.partner), dated_source(None))
        .await
        .unwrap();
    let copy_id = library
        .import_data_source(family.partner, family.client_a, &master.id)
        .await;
    let copy = library
        .get_data_source(&tokens::admin(family.client_a), &copy_id)
        .await;
    assert_eq!(copy.pagination, master.pagination);
    assert_eq!(copy.date_range, master.date_range);
    assert_eq!(copy.rate_limit_key_limit, master.rate_limit_key_limit);
    assert_eq!(copy.fingerprint, master.fingerprint, "I10: the same query");

    // The master's admin pushes new pages and a new range (ApplyDataSourceDefinitions).
    let push = pb::DataSourceDefinitionUpdate {
        data_source_id: copy_id.clone(),
        account_id: family.client_a.to_string(),
        name: master.name.clone(),
        request: master.request.clone(),
        format: master.format,
        refresh_interval: None,
        rate_limit_key: master.rate_limit_key.clone(),
        etag: copy.etag.clone(),
        pagination: Some(offset_pages()),
        date_range: Some(range("7_days_ago", "today")),
        rate_limit_key_limit: None,
    };
    let mut client = library.client();
    let applied = client.apply_data_source_definitions(with(
        &tokens::service_as(Identity::Imports),
        pb::ApplyDataSourceDefinitionsRequest {
            request_id: format!("push-{copy_id}"),
            updates: vec![push],
            variable_defaults: HashMap::new(),
        },
    ));
    let applied = applied.await.unwrap().into_inner().results;
    assert_eq!(
        applied[0].outcome,
        pb::ApplyOutcome::Applied as i32,
        "{applied:?}"
    );
    let pushed = library
        .get_data_source(&tokens::admin(family.client_a), &copy_id)
        .await;
    assert_eq!(pushed.pagination, Some(offset_pages()));
    assert_eq!(pushed.date_range, Some(range("7_days_ago", "today")));
    assert_eq!(pushed.rate_limit_key_limit, None);
    assert_eq!(pushed.fingerprint, applied[0].fingerprint);
}
