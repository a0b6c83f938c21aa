//! The render cache of an embed: its max age, stale-while-revalidate, and changes of the Klip.

use super::*;

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
