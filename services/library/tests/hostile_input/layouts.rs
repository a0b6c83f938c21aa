//! Layouts nest at most as deep as every service accepts JSON.

use crate::common::{self, start_standard, violations, with};
use trellis_proto::library::v1 as pb;

#[tokio::test(flavor = "multi_thread")]
async fn layouts_nest_at_most_the_json_depth_every_service_accepts() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();
    // `{"tabs": [[…[true]…]]}`: the object, `arrays` lists and the value.
    let layout = |arrays: usize| {
        let mut value = prost_types::Value {
            kind: Some(prost_types::value::Kind::BoolValue(true)),
        };
        for _ in 0..arrays {
            value = prost_types::Value {
                kind: Some(prost_types::value::Kind::ListValue(
                    prost_types::ListValue {
                        values: vec![value],
                    },
                )),
            };
        }
        prost_types::Struct {
            fields: [("tabs".to_owned(), value)].into(),
        }
    };
    let create = |arrays: usize| {
        let mut client = client.clone();
        let editor = editor.clone();
        async move {
            client
                .create_dashboard(with(
                    &editor,
                    pb::CreateDashboardRequest {
                        request_id: String::new(),
                        dashboard: Some(pb::Dashboard {
                            name: "d".into(),
                            layout: Some(layout(arrays)),
                            ..Default::default()
                        }),
                    },
                ))
                .await
        }
    };
    let depth = trellis_platform::validate::MAX_JSON_DEPTH;
    create(depth - 2).await.expect("32 levels are accepted");
    for arrays in depth - 1..=depth + 5 {
        let found = violations(create(arrays).await);
        assert_eq!(found[0].0, "dashboard.layout", "{arrays}");
        assert!(found[0].1.contains("at most 32"), "{}", found[0].1);
    }
    // Updating to a deep layout is refused the same way.
    let board = library
        .dashboard(&editor, common::dashboard_of(None, "ok", &[]))
        .await;
    let update = client
        .update_dashboard(with(
            &editor,
            pb::UpdateDashboardRequest {
                request_id: String::new(),
                dashboard: Some(pb::Dashboard {
                    id: board.id,
                    layout: Some(layout(depth + 3)),
                    ..Default::default()
                }),
                update_mask: common::mask(&["layout"]),
            },
        ))
        .await;
    assert_eq!(violations(update)[0].0, "dashboard.layout");
    // The 32-level one and the one updated; no deep one was stored.
    assert_eq!(library.count("dashboards", "account_id", account).await, 2);
}
