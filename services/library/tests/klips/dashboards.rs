//! Dashboards: ordered Klips and a layout, and the fields a bad one names.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_keep_ordered_klips_and_a_layout() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;
    let mut klips = vec![];
    for name in ["one", "two", "three"] {
        klips.push(
            library
                .klip(&editor, klip_of(None, name, &["@0.a"], &[&source.id]))
                .await,
        );
    }
    let layout = prost_types::Struct {
        fields: [(
            "columns".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::NumberValue(3.0)),
            },
        )]
        .into(),
    };
    let mut board = dashboard_of(None, "Overview", &[&klips[2].id, &klips[0].id]);
    board.layout = Some(layout.clone());
    let created = library.dashboard(&editor, board).await;
    assert_eq!(created.klip_ids, [klips[2].id.clone(), klips[0].id.clone()]);
    assert_eq!(created.layout, Some(layout));
    assert_eq!(created.version, 1);

    let reordered = library
        .update_dashboard(
            &editor,
            pb::UpdateDashboardRequest {
                request_id: String::new(),
                dashboard: Some(pb::Dashboard {
                    id: created.id.clone(),
                    etag: created.etag.clone(),
                    klip_ids: vec![
                        klips[0].id.clone(),
                        klips[1].id.clone(),
                        klips[2].id.clone(),
                    ],
                    ..Default::default()
                }),
                update_mask: mask(&["klip_ids"]),
            },
        )
        .await
        .unwrap();
    assert_eq!(reordered.version, 2);
    assert_eq!(reordered.name, "Overview");
    assert_eq!(reordered.klip_ids.len(), 3);

    // Deleting a Klip takes it off the dashboard, which counts as a change.
    client
        .delete_klip(with(
            &editor,
            pb::DeleteKlipRequest {
                id: klips[1].id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let after = library.get_dashboard(&editor, &created.id).await;
    assert_eq!(after.klip_ids, [klips[0].id.clone(), klips[2].id.clone()]);
    assert_eq!(after.version, 3);

    // Klips list in pages, in creation order.
    let first = client
        .list_klips(with(
            &editor,
            pb::ListKlipsRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .list_klips(with(
            &editor,
            pb::ListKlipsRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = first
        .klips
        .iter()
        .chain(&second.klips)
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(names, ["one", "three"]);
    assert!(!first.next_page_token.is_empty());
    assert!(second.next_page_token.is_empty());

    // Rendering needs the refresh service's data cache (tests/render.rs); with none
    // reachable, a Klip with bindings cannot be rendered now, and says so.
    let render = client
        .render_klip(with(
            &editor,
            pb::RenderKlipRequest {
                klip_id: klips[0].id.clone(),
                ..Default::default()
            },
        ))
        .await;
    failure(render, Code::Unavailable);

    let showing = client
        .list_dashboards(with(
            &editor,
            pb::ListDashboardsRequest {
                klip_id: klips[2].id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(showing.dashboards.len(), 1);

    // Deleting the dashboard leaves its Klips in the library.
    client
        .delete_dashboard(with(
            &editor,
            pb::DeleteDashboardRequest {
                id: created.id.clone(),
                etag: after.etag,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(library.count("klips", "account_id", account).await, 2);
    assert_eq!(
        library
            .count("dashboard_klips", "account_id", account)
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_dashboards_are_invalid_naming_the_field() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let other = library.standard().await;
    let editor = tokens::editor(account);
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;
    let klip = library
        .klip(&editor, klip_of(None, "k", &["@0.a"], &[&source.id]))
        .await;
    let foreign_source = library
        .data_source(
            &tokens::editor(other),
            json_source(None, "s", "https://api.example.com/"),
        )
        .await;
    let foreign = library
        .klip(
            &tokens::editor(other),
            klip_of(None, "k", &["@0.a"], &[&foreign_source.id]),
        )
        .await;
    let create = |board: pb::Dashboard| {
        let mut client = library.client();
        let token = editor.clone();
        async move {
            client
                .create_dashboard(with(
                    &token,
                    pb::CreateDashboardRequest {
                        request_id: String::new(),
                        dashboard: Some(board),
                    },
                ))
                .await
        }
    };

    let twice = violations(create(dashboard_of(None, "d", &[&klip.id, &klip.id])).await);
    assert_eq!(twice[0].0, "dashboard.klip_ids[1]");
    let elsewhere = violations(create(dashboard_of(None, "d", &[&klip.id, &foreign.id])).await);
    assert_eq!(elsewhere[0].0, "dashboard.klip_ids[1]");
    let mut oversized = dashboard_of(None, "d", &[]);
    oversized.layout = Some(prost_types::Struct {
        fields: [(
            "notes".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue("x".repeat(70_000))),
            },
        )]
        .into(),
    });
    let found = violations(create(oversized).await);
    assert_eq!(found[0].0, "dashboard.layout");
    assert!(found[0].1.contains("65536"), "{}", found[0].1);
    assert_eq!(library.count("dashboards", "account_id", account).await, 0);

    let bad_mask = client
        .update_dashboard(with(
            &editor,
            pb::UpdateDashboardRequest {
                request_id: String::new(),
                dashboard: Some(pb::Dashboard {
                    id: Uuid::now_v7().to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["account_id"]),
            },
        ))
        .await;
    assert_eq!(violations(bad_mask)[0].0, "update_mask");
}
