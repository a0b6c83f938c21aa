//! Embeds (F6): unguessable ids, revocation, and views served from the render cache while
//! the render is younger than the max age (three hours by default), otherwise rendered from
//! the data currently cached by the refresh service; stale-while-revalidate; and no view
//! ever queues a refresh or counts as activity. The library runs on a manual clock.

mod common;
mod world;

use std::time::Duration;

use common::{failure, klip_of, with};
use serde_json::json;
use tonic::Code;
use trellis_library::Clock;
use trellis_proto::library::v1 as pb;
use trellis_testkit::{eventually, tokens};
use uuid::Uuid;
use world::{THREE_HOURS, WAIT, World, seconds, time, values};

const TOTALS: &str = "/totals.json";

/// An account with a Klip summing the data API's `/totals.json`, fetched once with
/// `amounts`. Returns (account, data source, Klip).
async fn summed(world: &World, amounts: &[i64]) -> (Uuid, String, pb::Klip) {
    let account = world.library.standard().await;
    world.api.set_json(TOTALS, json!({"amounts": amounts}));
    let source = world.data_source(account, TOTALS).await;
    world.fetch(account, &source).await;
    let klip = world
        .library
        .klip(
            &tokens::editor(account),
            klip_of(
                None,
                "Totals",
                &["SUM(@0.amounts)", "COUNT(@0.amounts)"],
                &[&source],
            ),
        )
        .await;
    (account, source, klip)
}

/// New data at the API, fetched by the refresh service: the cache changes under the embed.
async fn refetch(world: &World, account: Uuid, source: &str, amounts: &[i64]) {
    world.api.set_json(TOTALS, json!({"amounts": amounts}));
    world.fetch(account, source).await;
}

fn embed_of(klip: &pb::Klip) -> pb::Embed {
    pb::Embed {
        klip_id: klip.id.clone(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embed_is_served_from_its_render_cache_for_three_hours_then_rendered_again() {
    let world = World::start().await;
    let (account, source, klip) = summed(&world, &[1, 2, 3]).await;
    let embed = world
        .create_embed(&tokens::editor(account), embed_of(&klip))
        .await
        .unwrap();
    assert!(embed.max_age.is_none(), "the default applies: three hours");
    let start = world.clock.now();

    // The first view renders from the cached data and keeps the render.
    let first = world.view(&embed.id).await.unwrap();
    assert!(!first.served_from_cache);
    assert!(!first.revalidating);
    assert_eq!(seconds(first.cache_age.as_ref()), 0.0);
    let rendered = first.rendered_klip.unwrap();
    assert_eq!(values(&rendered, 0), json!([6]));
    assert_eq!(
        time(rendered.render_time.as_ref()).timestamp(),
        start.timestamp()
    );

    // The data changes and is fetched again; the embed shows its render for three hours.
    refetch(&world, account, &source, &[10, 20]).await;
    let before = world.refresh_load().await;
    world.clock.advance(THREE_HOURS - Duration::from_secs(60));
    let cached = world.view(&embed.id).await.unwrap();
    assert!(cached.served_from_cache);
    assert!(!cached.revalidating);
    assert_eq!(
        seconds(cached.cache_age.as_ref()),
        (THREE_HOURS - Duration::from_secs(60)).as_secs_f64()
    );
    let served = cached.rendered_klip.unwrap();
    assert_eq!(
        values(&served, 0),
        json!([6]),
        "the render made three hours ago"
    );
    assert_eq!(served.render_time, rendered.render_time);

    // Past three hours the next view renders from the data cached now.
    world.clock.advance(Duration::from_secs(120));
    let fresh = world.view(&embed.id).await.unwrap();
    assert!(!fresh.served_from_cache);
    assert_eq!(seconds(fresh.cache_age.as_ref()), 0.0);
    let fresh = fresh.rendered_klip.unwrap();
    assert_eq!(values(&fresh, 0), json!([30]));
    assert_eq!(values(&fresh, 1), json!([2]));
    assert_eq!(
        time(fresh.render_time.as_ref()).timestamp(),
        world.clock.now().timestamp()
    );
    // Its freshness figure says how old the data was at render time, on the render clock.
    assert!(
        seconds(fresh.freshness[0].age.as_ref())
            > (THREE_HOURS - Duration::from_secs(120)).as_secs_f64()
    );
    // And that render is what the next views get.
    let again = world.view(&embed.id).await.unwrap();
    assert!(again.served_from_cache);
    assert_eq!(values(&again.rendered_klip.unwrap(), 0), json!([30]));

    // F6: embed views never trigger refreshes, and they are not activity (F2).
    assert_eq!(world.refresh_load().await, before);
    assert_eq!(before.0, 0, "nothing waits in the queue");
    assert_eq!(world.active_until(account, &source).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_stale_while_revalidate_the_stale_render_is_served_and_rendered_anew_behind() {
    let world = World::start().await;
    let (account, source, klip) = summed(&world, &[1, 1]).await;
    let embed = world
        .create_embed(
            &tokens::editor(account),
            pb::Embed {
                stale_while_revalidate: true,
                max_age: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..embed_of(&klip)
            },
        )
        .await
        .unwrap();
    assert!(embed.stale_while_revalidate);
    assert_eq!(seconds(embed.max_age.as_ref()), 3600.0);

    // Nothing cached yet: the first view waits for its render.
    let first = world.view(&embed.id).await.unwrap();
    assert!(!first.served_from_cache);
    assert_eq!(values(&first.rendered_klip.unwrap(), 0), json!([2]));

    refetch(&world, account, &source, &[5, 5, 5]).await;
    let before = world.refresh_load().await;
    world.clock.advance(Duration::from_secs(2 * 3600));
    // Stale: served at once, with a re-render started.
    let stale = world.view(&embed.id).await.unwrap();
    assert!(stale.served_from_cache);
    assert!(stale.revalidating);
    assert_eq!(seconds(stale.cache_age.as_ref()), 7200.0);
    assert_eq!(values(&stale.rendered_klip.unwrap(), 0), json!([2]));

    // The background render lands: later views get the new data from the cache.
    let renewed = eventually("the background re-render", WAIT, || async {
        let view = world.view(&embed.id).await.unwrap();
        let rendered = view.rendered_klip.clone().unwrap();
        (values(&rendered, 0) == json!([15])).then_some(view)
    })
    .await;
    assert!(renewed.served_from_cache);
    assert!(!renewed.revalidating);
    assert_eq!(seconds(renewed.cache_age.as_ref()), 0.0);
    assert_eq!(world.refresh_load().await, before);
    assert_eq!(world.active_until(account, &source).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_max_age_is_a_setting() {
    let settings = trellis_library::Settings {
        embed_max_age: Duration::from_secs(600),
        ..Default::default()
    };
    let world = World::start_with(settings).await;
    let (account, source, klip) = summed(&world, &[4]).await;
    let embed = world
        .create_embed(&tokens::editor(account), embed_of(&klip))
        .await
        .unwrap();
    assert!(!world.view(&embed.id).await.unwrap().served_from_cache);
    refetch(&world, account, &source, &[4, 4]).await;
    world.clock.advance(Duration::from_secs(540));
    let cached = world.view(&embed.id).await.unwrap();
    assert!(cached.served_from_cache);
    assert_eq!(values(&cached.rendered_klip.unwrap(), 0), json!([4]));
    world.clock.advance(Duration::from_secs(120));
    let rendered = world.view(&embed.id).await.unwrap();
    assert!(!rendered.served_from_cache);
    assert_eq!(values(&rendered.rendered_klip.unwrap(), 0), json!([8]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_klip_is_rendered_again_at_the_next_view() {
    // Updating a Klip (I9 keeps its id, so embeds survive) shows at once, not three hours
    // later: a render of an older version is not served.
    let world = World::start().await;
    let (account, _source, klip) = summed(&world, &[2, 3]).await;
    let editor = tokens::editor(account);
    let embed = world.create_embed(&editor, embed_of(&klip)).await.unwrap();
    assert_eq!(
        values(
            &world.view(&embed.id).await.unwrap().rendered_klip.unwrap(),
            0
        ),
        json!([5])
    );
    let mut changed = klip_of(None, "", &["MAX(@0.amounts)"], &[]);
    changed.id = klip.id.clone();
    world
        .client()
        .update_klip(with(
            &editor,
            pb::UpdateKlipRequest {
                request_id: String::new(),
                klip: Some(changed),
                update_mask: common::mask(&["components"]),
            },
        ))
        .await
        .expect("UpdateKlip");
    let view = world.view(&embed.id).await.unwrap();
    assert!(!view.served_from_cache);
    let rendered = view.rendered_klip.unwrap();
    assert_eq!(rendered.klip_version, klip.version + 1);
    assert_eq!(values(&rendered, 0), json!([3]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_embed_is_not_found() {
    let world = World::start().await;
    let (account, _source, klip) = summed(&world, &[1]).await;
    let editor = tokens::editor(account);
    let embed = world.create_embed(&editor, embed_of(&klip)).await.unwrap();
    world.view(&embed.id).await.expect("served");
    assert_eq!(render_rows(&world, &embed.id).await, 1);

    // A stale etag does not revoke.
    let stale = world
        .client()
        .delete_embed(with(
            &editor,
            pb::DeleteEmbedRequest {
                id: embed.id.clone(),
                etag: "stale".into(),
                ..Default::default()
            },
        ))
        .await;
    failure(stale, Code::Aborted);
    world
        .client()
        .delete_embed(with(
            &editor,
            pb::DeleteEmbedRequest {
                request_id: "revoke-1".into(),
                id: embed.id.clone(),
                etag: embed.etag.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("DeleteEmbed");
    failure(
        world.view(&embed.id).await.map(tonic::Response::new),
        Code::NotFound,
    );
    assert_eq!(
        render_rows(&world, &embed.id).await,
        0,
        "the render cache goes too"
    );
    let get = world
        .client()
        .get_embed(with(
            &editor,
            pb::GetEmbedRequest {
                id: embed.id.clone(),
                account_id: String::new(),
            },
        ))
        .await;
    failure(get, Code::NotFound);
    // A retry of the revocation replays its answer; a new one finds nothing.
    let delete = |request_id: &str| {
        let mut client = world.client();
        let request = with(
            &editor,
            pb::DeleteEmbedRequest {
                request_id: request_id.into(),
                id: embed.id.clone(),
                ..Default::default()
            },
        );
        async move { client.delete_embed(request).await }
    };
    delete("revoke-1").await.expect("a replay");
    failure(delete("revoke-2").await, Code::NotFound);

    // Deleting the Klip revokes its embeds.
    let second = world.create_embed(&editor, embed_of(&klip)).await.unwrap();
    world.view(&second.id).await.expect("served");
    world
        .client()
        .delete_klip(with(
            &editor,
            pb::DeleteKlipRequest {
                id: klip.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("DeleteKlip");
    failure(
        world.view(&second.id).await.map(tonic::Response::new),
        Code::NotFound,
    );
    assert_eq!(render_rows(&world, &second.id).await, 0);
    let listed = world
        .client()
        .list_embeds(with(&editor, pb::ListEmbedsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.embeds.is_empty());

    // Ids that never existed, or are not even shaped like one, look the same.
    let never = "A".repeat(32);
    failure(
        world.view(&never).await.map(tonic::Response::new),
        Code::NotFound,
    );
    failure(
        world.view("../etc/passwd").await.map(tonic::Response::new),
        Code::NotFound,
    );
}

/// Rows of the embed's render cache.
async fn render_rows(world: &World, embed_id: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    let mut conn = world.library.service.database.connect().await;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT count(*) FROM embed_renders WHERE embed_id = '{embed_id}')"
    )))
    .get_result(&mut conn)
    .await
    .expect("a count")
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_ids_are_unguessable() {
    let world = World::start().await;
    let account = world.library.standard().await;
    let editor = tokens::editor(account);
    let klip = world
        .library
        .klip(&editor, klip_of(None, "Plain", &["1"], &[]))
        .await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let embed = world.create_embed(&editor, embed_of(&klip)).await.unwrap();
        // 32 base64url characters: 192 random bits, safe in a URL as they are.
        assert_eq!(embed.id.len(), 32, "{}", embed.id);
        assert!(
            embed
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{}",
            embed.id
        );
        assert!(
            Uuid::parse_str(&embed.id).is_err(),
            "not a (partly predictable) UUID"
        );
        assert!(!embed.id.contains(&klip.id) && !embed.id.contains(&account.to_string()));
        ids.insert(embed.id);
    }
    assert_eq!(ids.len(), 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn members_manage_embeds_and_only_services_view_them() {
    let world = World::start().await;
    let account = world.library.standard().await;
    let other = world.library.standard().await;
    let editor = tokens::editor(account);
    let viewer = tokens::viewer(account);
    let first = world
        .library
        .klip(&editor, klip_of(None, "One", &["1"], &[]))
        .await;
    let second = world
        .library
        .klip(&editor, klip_of(None, "Two", &["2"], &[]))
        .await;

    // Viewers do not publish; editors do, idempotently under a request id.
    failure(
        world
            .create_embed(&viewer, embed_of(&first))
            .await
            .map(tonic::Response::new),
        Code::PermissionDenied,
    );
    let create = |request_id: &str, klip: &pb::Klip| {
        let mut client = world.client();
        let request = with(
            &editor,
            pb::CreateEmbedRequest {
                request_id: request_id.into(),
                embed: Some(embed_of(klip)),
            },
        );
        async move { client.create_embed(request).await }
    };
    let a = create("publish-a", &first)
        .await
        .unwrap()
        .into_inner()
        .embed
        .unwrap();
    let replayed = create("publish-a", &first)
        .await
        .unwrap()
        .into_inner()
        .embed
        .unwrap();
    assert_eq!(a.id, replayed.id);
    let b = create("publish-b", &second)
        .await
        .unwrap()
        .into_inner()
        .embed
        .unwrap();
    let c = create("publish-c", &first)
        .await
        .unwrap()
        .into_inner()
        .embed
        .unwrap();
    assert_eq!(a.account_id, account.to_string());
    assert_eq!(a.klip_id, first.id);
    assert!(!a.etag.is_empty() && a.create_time.is_some());

    // Viewers read them: all, in creation order, page by page, or one Klip's.
    let list = |klip_id: &str, page_token: &str| {
        let mut client = world.client();
        let request = with(
            &viewer,
            pb::ListEmbedsRequest {
                account_id: String::new(),
                klip_id: klip_id.into(),
                page_size: 2,
                page_token: page_token.into(),
            },
        );
        async move { client.list_embeds(request).await }
    };
    let page = list("", "").await.unwrap().into_inner();
    let ids: Vec<_> = page.embeds.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, [a.id.clone(), b.id.clone()]);
    let last = list("", &page.next_page_token).await.unwrap().into_inner();
    assert_eq!(last.embeds.len(), 1);
    assert_eq!(last.embeds[0].id, c.id);
    assert!(last.next_page_token.is_empty());
    let of_first = list(&first.id, "").await.unwrap().into_inner();
    let ids: Vec<_> = of_first.embeds.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, [a.id.clone(), c.id.clone()]);
    let got = world
        .client()
        .get_embed(with(
            &viewer,
            pb::GetEmbedRequest {
                id: b.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .embed
        .unwrap();
    assert_eq!(got, b);
    failure(
        world
            .client()
            .delete_embed(with(
                &viewer,
                pb::DeleteEmbedRequest {
                    id: b.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );

    // Another tenant neither sees nor revokes them, and cannot embed a Klip it lacks.
    let outsider = tokens::admin(other);
    let peek = world
        .client()
        .get_embed(with(
            &outsider,
            pb::GetEmbedRequest {
                id: a.id.clone(),
                account_id: String::new(),
            },
        ))
        .await;
    failure(peek, Code::NotFound);
    let named = world
        .client()
        .list_embeds(with(
            &outsider,
            pb::ListEmbedsRequest {
                account_id: account.to_string(),
                ..Default::default()
            },
        ))
        .await;
    common::refused(named, &[&a.id]);
    failure(
        world
            .create_embed(&outsider, embed_of(&first))
            .await
            .map(tonic::Response::new),
        Code::NotFound,
    );

    // The view is for the public web tier's service token, not for users.
    let by_user = world
        .client()
        .view_embed(with(
            &editor,
            pb::ViewEmbedRequest {
                embed_id: a.id.clone(),
            },
        ))
        .await;
    failure(by_user, Code::PermissionDenied);
    let view = world.view(&a.id).await.unwrap();
    assert_eq!(values(&view.rendered_klip.unwrap(), 0), json!([1]));

    // max_age: at least a second, at most the configured limit (seven days).
    for (seconds, nanos) in [(0, 0), (0, 500_000_000), (8 * 86_400, 0), (-5, 0)] {
        let invalid = world
            .create_embed(
                &editor,
                pb::Embed {
                    max_age: Some(prost_types::Duration { seconds, nanos }),
                    ..embed_of(&first)
                },
            )
            .await;
        let violations = common::violations(invalid.map(tonic::Response::new));
        assert_eq!(violations[0].0, "embed.max_age", "{seconds}s {nanos}ns");
    }
    let missing_klip = world
        .create_embed(
            &editor,
            pb::Embed {
                klip_id: String::new(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        common::violations(missing_klip.map(tonic::Response::new))[0].0,
        "embed.klip_id"
    );
}
