//! Who manages and views embeds; revoked embeds and unguessable ids.

use super::*;

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
