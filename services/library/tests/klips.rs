//! Klips (formulas parsed at save, bindings, derived variables, versions) and dashboards
//! (ordered Klips, layouts).

mod common;

use common::{dashboard_of, failure, json_source, klip_of, mask, start, violations, with};
use tonic::Code;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn create(klip: pb::Klip) -> pb::CreateKlipRequest {
    pb::CreateKlipRequest {
        request_id: String::new(),
        klip: Some(klip),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_klip_is_created_with_derived_variables_and_versioned_on_change() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let sales = library
        .data_source(
            &editor,
            json_source(None, "Sales", "https://api.example.com/sales"),
        )
        .await;
    let costs = library
        .data_source(
            &editor,
            json_source(None, "Costs", "https://api.example.com/costs"),
        )
        .await;

    let created = library
        .klip(
            &editor,
            klip_of(
                None,
                "Margin",
                &[
                    "SUM(@0.amount) - SUM(@1.amount)",
                    "$year & \" for \" & $companyID",
                ],
                &[&sales.id, &costs.id],
            ),
        )
        .await;
    assert_eq!(created.variables, ["companyID", "year"]);
    assert_eq!(created.version, 1);
    let bound: Vec<_> = created
        .bindings
        .iter()
        .map(|b| b.data_source_id.clone())
        .collect();
    assert_eq!(bound, [sales.id.clone(), costs.id.clone()]);

    // Swapping the bindings is a change; components outside the mask stay.
    let swapped = client
        .update_klip(with(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(klip_of(None, "", &[], &[&costs.id, &sales.id])),
                update_mask: mask(&["bindings"]),
            }
            .with_id(&created.id, &created.etag),
        ))
        .await
        .unwrap()
        .into_inner()
        .klip
        .unwrap();
    assert_eq!(swapped.version, 2);
    assert_eq!(swapped.components, created.components);
    assert_eq!(swapped.bindings[0].data_source_id, costs.id);

    // New components re-derive the variables.
    let rewritten = client
        .update_klip(with(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(klip_of(None, "", &["@0.amount * $rate"], &[])),
                update_mask: mask(&["components"]),
            }
            .with_id(&created.id, &swapped.etag),
        ))
        .await
        .unwrap()
        .into_inner()
        .klip
        .unwrap();
    assert_eq!(rewritten.variables, ["rate"]);
    assert_eq!(rewritten.version, 3);
    // The old etag is stale now.
    let stale = client
        .update_klip(with(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(klip_of(None, "Renamed", &[], &[])),
                update_mask: mask(&["name"]),
            }
            .with_id(&created.id, &swapped.etag),
        ))
        .await;
    failure(stale, Code::Aborted);

    let listed = client
        .list_klips(with(
            &tokens::viewer(account),
            pb::ListKlipsRequest {
                data_source_id: costs.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.klips.len(), 1);
    assert_eq!(listed.klips[0], rewritten);
}

trait WithId {
    fn with_id(self, id: &str, etag: &str) -> Self;
}

impl WithId for pb::UpdateKlipRequest {
    fn with_id(mut self, id: &str, etag: &str) -> Self {
        let klip = self.klip.get_or_insert_default();
        klip.id = id.into();
        klip.etag = etag.into();
        self
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_formula_is_invalid_naming_component_line_column_and_reason() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;

    let mut klip = klip_of(
        None,
        "Broken",
        &["@0.a", "SUM(@0.b)", "SUM(@0.c,\n  (1 + )"],
        &[&source.id],
    );
    klip.components[2].name = "total".into();
    let found = violations(client.create_klip(with(&editor, create(klip))).await);
    assert_eq!(found.len(), 1, "{found:?}");
    let (field, description) = &found[0];
    assert_eq!(field, "klip.components[2].formula");
    assert!(
        description.contains("component 2 (\"total\")"),
        "{description}"
    );
    assert!(description.contains("line 2, column"), "{description}");

    // A formula using a binding the Klip does not have.
    let missing = violations(
        client
            .create_klip(with(
                &editor,
                create(klip_of(None, "k", &["@1.x"], &[&source.id])),
            ))
            .await,
    );
    assert_eq!(missing[0].0, "klip.components[0].formula");
    assert!(missing[0].1.contains("@1"));

    // Oversized: a formula beyond the parser's limit.
    let huge = "1+".repeat(trellis_formula::MAX_FORMULA_CHARS) + "1";
    let oversized = violations(
        client
            .create_klip(with(&editor, create(klip_of(None, "k", &[&huge], &[]))))
            .await,
    );
    assert_eq!(oversized[0].0, "klip.components[0].formula");
    assert_eq!(library.count("klips", "account_id", account).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_foreign_bindings_are_invalid_without_revealing_tenants() {
    let library = start().await;
    let mut client = library.client();
    let mine = library.standard().await;
    let theirs = library.standard().await;
    let foreign = library
        .data_source(
            &tokens::editor(theirs),
            json_source(None, "Secret Revenue Feed", "https://secret.example.com/"),
        )
        .await;
    let own = library
        .data_source(
            &tokens::editor(mine),
            json_source(None, "s", "https://api.example.com/"),
        )
        .await;
    let unknown = Uuid::now_v7().to_string();

    let found = violations(
        client
            .create_klip(with(
                &tokens::editor(mine),
                create(klip_of(
                    None,
                    "k",
                    &["@0.a + @1.b + @2.c + @3.d"],
                    &[&own.id, &foreign.id, &unknown, "not-a-uuid"],
                )),
            ))
            .await,
    );
    let fields: Vec<_> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["klip.bindings[3].data_source_id"]);
    // The UUID check comes first; with valid ids, both others are named the same way.
    let found = violations(
        client
            .create_klip(with(
                &tokens::editor(mine),
                create(klip_of(
                    None,
                    "k",
                    &["@0.a + @1.b + @2.c"],
                    &[&own.id, &foreign.id, &unknown],
                )),
            ))
            .await,
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "klip.bindings[1].data_source_id");
    assert_eq!(found[1].0, "klip.bindings[2].data_source_id");
    let describe = |d: &str, id: &str| d.replace(id, "<id>");
    assert_eq!(
        describe(&found[0].1, &foreign.id),
        describe(&found[1].1, &unknown),
        "a foreign id reads exactly like an unknown one"
    );
    assert!(!found[0].1.contains("Secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_keep_ordered_klips_and_a_layout() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);
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

    let reordered = client
        .update_dashboard(with(
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
        ))
        .await
        .unwrap()
        .into_inner()
        .dashboard
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
    let after = client
        .get_dashboard(with(
            &editor,
            pb::GetDashboardRequest {
                id: created.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .dashboard
        .unwrap();
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
