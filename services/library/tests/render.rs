//! RenderKlip over data the refresh service really fetched from a data API on loopback:
//! formulas over JSON and CSV, variables, the freshness of each datum, per-component
//! errors, the instance each viewer's values select (I13), and no refresh queued.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;
mod world;

use common::{failure, klip_of, with};
use serde_json::json;
use tonic::Code;
use trellis_library::Clock;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use world::{World, errors, seconds, time, values};

const ORDERS: &str = "/orders.json";
const REGIONS: &str = "/regions.csv";

fn orders(totals: &[(f64, &str)]) -> serde_json::Value {
    json!({
        "store": {"name": "Corner Shop"},
        "orders": totals
            .iter()
            .map(|(total, status)| json!({"total": total, "status": status}))
            .collect::<Vec<_>>()
    })
}

async fn set_property(world: &World, account: uuid::Uuid, name: &str, value: &str) {
    world
        .client()
        .set_company_property(with(
            &tokens::admin(account),
            common::calls::set_property(name, value),
        ))
        .await
        .expect("SetCompanyProperty");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_klip_renders_over_the_data_the_refresh_service_fetched() {
    let world = World::start().await;
    let account = world.library.standard().await;
    world.api.set_json(
        ORDERS,
        orders(&[(10.0, "paid"), (32.5, "open"), (7.0, "paid")]),
    );
    world
        .api
        .set_csv(REGIONS, "Region,Amount\nEU,3\nUS,4\nEU,5\n");
    let sales = world.data_source(account, ORDERS).await;
    let regions = world.data_source(account, REGIONS).await;
    world.fetch(account, &sales).await;
    world.fetch(account, &regions).await;
    set_property(&world, account, "rate", "1.1").await;

    let klip = world
        .library
        .editor_klip(
            account,
            "Sales",
            &[
                "SUM(@0.orders.total)",
                "SUM(SELECT(@0.orders.total, @0.orders.status = \"paid\"))",
                "COUNT(@0.orders)",
                "MAX(@0.orders.total)",
                "ROUND(AVERAGE(@0.orders.total) * $rate, 2)",
                "CONCAT(@0.store.name, \": \", COUNT(@0.orders), \" orders\")",
                "GROUP(@1.Region)",
                "SUMBY(@1.Amount, @1.Region)",
                "YEAR(TODAY())",
            ],
            &[&sales, &regions],
        )
        .await;
    let requests = world.api.requests();

    // Viewers render too.
    let rendered = world
        .render(&tokens::viewer(account), &klip.id)
        .await
        .expect("a viewer renders");
    assert_eq!(rendered.klip_id, klip.id);
    assert_eq!(rendered.klip_version, klip.version);
    assert_eq!(errors(&rendered), vec![String::new(); 9]);
    assert_eq!(values(&rendered, 0), json!([49.5]));
    assert_eq!(values(&rendered, 1), json!([17]));
    assert_eq!(values(&rendered, 2), json!([3]));
    assert_eq!(values(&rendered, 3), json!([32.5]));
    assert_eq!(values(&rendered, 4), json!([18.15]));
    assert_eq!(values(&rendered, 5), json!(["Corner Shop: 3 orders"]));
    assert_eq!(values(&rendered, 6), json!(["EU", "US"]));
    assert_eq!(values(&rendered, 7), json!([8, 4]));
    // TODAY() reads the library's clock.
    let now = world.clock.now();
    assert_eq!(
        values(&rendered, 8),
        json!([now.format("%Y").to_string().parse::<i64>().unwrap()])
    );
    assert_eq!(
        time(rendered.render_time.as_ref()).timestamp(),
        now.timestamp()
    );

    // One freshness figure per binding: the instance used and when it was fetched.
    assert_eq!(rendered.freshness.len(), 2);
    for (index, (datum, source)) in rendered
        .freshness
        .iter()
        .zip([&sales, &regions])
        .enumerate()
    {
        assert_eq!(datum.binding_index, index as i32);
        assert_eq!(&datum.data_source_id, source);
        assert_eq!(datum.instance_key.len(), 64, "a SHA-256 instance key");
        assert!(datum.fetch_time.is_some());
        assert!(datum.age.is_some());
    }

    // Rendering read the cache: nothing was fetched or queued for it.
    assert_eq!(world.api.requests(), requests);
    let (depth, deferred, running, _) = world.refresh_load().await;
    assert_eq!((depth, deferred, running), (0, 0, 0));

    // New data, fetched again: the next render shows it, with its new fetch time, and the
    // age is measured on the render clock.
    world
        .api
        .set_json(ORDERS, orders(&[(100.0, "paid"), (1.0, "open")]));
    world.fetch(account, &sales).await;
    world.clock.advance(std::time::Duration::from_secs(600));
    let again = world
        .render(&tokens::viewer(account), &klip.id)
        .await
        .unwrap();
    assert_eq!(values(&again, 0), json!([101]));
    assert_eq!(values(&again, 2), json!([2]));
    assert!(
        time(again.freshness[0].fetch_time.as_ref())
            > time(rendered.freshness[0].fetch_time.as_ref())
    );
    assert!(seconds(again.freshness[0].age.as_ref()) >= 590.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_component_fails_alone_with_its_reason() {
    let world = World::start().await;
    let account = world.library.standard().await;
    let editor = tokens::editor(account);
    world
        .api
        .set_json(ORDERS, orders(&[(10.0, "paid"), (5.0, "open")]));
    world.api.set_json("/never.json", json!({"x": 1}));
    world.api.set_json("/gone.json", json!({"a": 1}));
    let sales = world.data_source(account, ORDERS).await;
    let never_fetched = world.data_source(account, "/never.json").await;
    let gone = world.data_source(account, "/gone.json").await;
    world.fetch(account, &sales).await;
    world.fetch(account, &gone).await;

    let klip = world
        .library
        .editor_klip(
            account,
            "Mixed",
            &[
                "SUM(@0.orders.total)",
                "SUM(@0.orders.status)",
                "@0.orders.total * $discount",
                "@1.x",
                "@2.a",
                "COUNT(@0.orders)",
            ],
            &[&sales, &never_fetched, &gone],
        )
        .await;
    // A forced delete leaves binding @2 dangling.
    world
        .client()
        .delete_data_source(with(
            &editor,
            pb::DeleteDataSourceRequest {
                id: gone.clone(),
                force: true,
                ..Default::default()
            },
        ))
        .await
        .expect("a forced delete");

    let rendered = world.render(&editor, &klip.id).await.unwrap();
    let errors = errors(&rendered);
    assert_eq!(values(&rendered, 0), json!([15]));
    assert_eq!(errors[1], "SUM: expected a number, got text \"paid\"");
    assert_eq!(errors[2], "variable $discount is not set");
    assert_eq!(errors[3], "binding @1 has no data yet");
    assert_eq!(
        errors[4],
        "binding @2 is not bound: its data source was deleted"
    );
    assert_eq!(values(&rendered, 5), json!([2]));
    for failed in 1..=4 {
        assert!(
            rendered.components[failed]
                .values
                .as_ref()
                .is_none_or(|v| v.values.is_empty())
        );
    }
    // Nothing cached for @1, no data source behind @2.
    assert!(rendered.freshness[1].fetch_time.is_none());
    assert!(rendered.freshness[1].age.is_none());
    assert_eq!(rendered.freshness[1].data_source_id, never_fetched);
    assert_eq!(rendered.freshness[2].data_source_id, "");
    assert!(rendered.freshness[2].fetch_time.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_viewer_sees_the_instance_its_values_select() {
    // I13: `{props.region}` resolves with the viewer's own value, else the default (the
    // account has no company property `region`, which would decide for everyone).
    let world = World::start().await;
    let account = world.library.standard().await;
    let admin = tokens::admin(account);
    world
        .client()
        .create_variable(with(
            &admin,
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "region".into(),
                    default_value: "eu".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("CreateVariable");
    world
        .api
        .set_json("/sales/eu", json!({"amounts": [1, 2, 3]}));
    world
        .api
        .set_json("/sales/us", json!({"amounts": [100, 200]}));
    let source = world
        .library
        .data_source(
            &admin,
            common::json_source(None, "Sales", &world.api.url("/sales/{props.region}")),
        )
        .await;
    world.library.member(account, "ana", Role::Editor).await;
    let ana = tokens::user_token(account, "ana", Role::Editor);
    world
        .client()
        .set_user_variable_value(with(&ana, common::calls::user_value("region", "us")))
        .await
        .expect("ana picks the US");
    // The default's instance, and ana's.
    world.fetch(account, &source.id).await;
    world.fetch_as(&ana, account, &source.id).await;

    let klip = world
        .library
        .klip(
            &admin,
            klip_of(
                None,
                "Regional",
                &["SUM(@0.amounts)", "$region"],
                &[&source.id],
            ),
        )
        .await;
    let viewer = world
        .render(&tokens::viewer(account), &klip.id)
        .await
        .unwrap();
    assert_eq!(values(&viewer, 0), json!([6]));
    assert_eq!(values(&viewer, 1), json!(["eu"]));
    let hers = world.render(&ana, &klip.id).await.unwrap();
    assert_eq!(values(&hers, 0), json!([300]));
    assert_eq!(values(&hers, 1), json!(["us"]));
    assert_ne!(
        viewer.freshness[0].instance_key,
        hers.freshness[0].instance_key
    );
    // A service renders for a named user, or for no user.
    let for_service = |user: &str| {
        let request = pb::RenderKlipRequest {
            klip_id: klip.id.clone(),
            account_id: account.to_string(),
            user_id: user.into(),
        };
        let mut client = world.client();
        async move {
            let rendered = client.render_klip(with(&tokens::service(), request)).await;
            rendered.unwrap().into_inner().rendered_klip.unwrap()
        }
    };
    let for_ana = for_service("ana").await;
    assert_eq!(values(&for_ana, 0), json!([300]));
    let nobody = for_service("").await;
    assert_eq!(values(&nobody, 0), json!([6]));
    // A user who has no instance fetched yet sees "no data yet", not someone else's data.
    world.library.member(account, "bob", Role::Viewer).await;
    let bob = tokens::user_token(account, "bob", Role::Viewer);
    world
        .client()
        .set_user_variable_value(with(&bob, common::calls::user_value("region", "apac")))
        .await
        .unwrap();
    let his = world.render(&bob, &klip.id).await.unwrap();
    assert_eq!(errors(&his)[0], "binding @0 has no data yet");
    assert_eq!(values(&his, 1), json!(["apac"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn rendering_is_for_members_of_the_account() {
    let world = World::start().await;
    let family = world.library.family().await;
    let other = world.library.standard().await;
    let klip = world
        .library
        .klip(
            &tokens::editor(family.client_a),
            klip_of(None, "Plain", &["1 + 1"], &[]),
        )
        .await;
    let rendered = world
        .render(&tokens::viewer(family.client_a), &klip.id)
        .await
        .unwrap();
    assert_eq!(values(&rendered, 0), json!([2]));
    assert!(rendered.freshness.is_empty());

    // Another tenant names the account: refused without a hint; in its own account the
    // Klip does not exist.
    let denied = world
        .client()
        .render_klip(with(
            &tokens::admin(other),
            pb::RenderKlipRequest {
                klip_id: klip.id.clone(),
                account_id: family.client_a.to_string(),
                user_id: String::new(),
            },
        ))
        .await;
    common::refused(denied, &[&klip.id]);
    let missing = world.render(&tokens::admin(other), &klip.id).await;
    failure(missing.map(tonic::Response::new), Code::NotFound);
    // The partner's admin renders its client's Klip.
    let by_partner = world
        .client()
        .render_klip(with(
            &tokens::admin(family.partner),
            pb::RenderKlipRequest {
                klip_id: klip.id.clone(),
                account_id: family.client_a.to_string(),
                user_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_partner.rendered_klip.unwrap().components.len(), 1);
    // Another user's values need a service token.
    let nosy = world
        .render_for(&tokens::admin(family.client_a), &klip.id, "someone")
        .await;
    failure(nosy.map(tonic::Response::new), Code::PermissionDenied);
    let bad = world.render(&tokens::viewer(family.client_a), "nope").await;
    failure(bad.map(tonic::Response::new), Code::InvalidArgument);
}
