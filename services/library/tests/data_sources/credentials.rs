//! A data source names only a token or credential its account holds for it (I14, I15).

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_data_source_names_only_a_token_or_credential_its_account_holds_for_it() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let stranger = library.standard().await;
    let editor = tokens::editor(family.client_a);
    let imports = tokens::service_as(Identity::Imports);
    let stranger_token = library.oauth_token(stranger).await;
    let stranger_credential = library.credential(stranger).await;
    let partner_token = library.oauth_token(family.partner).await;
    let partner_credential = library.credential(family.partner).await;

    // I15: unknown ids, another family's, and even the partner's own (no grant or copy of
    // them for this data source) are refused, naming the field.
    for (auth, field) in [
        (auth_token(Uuid::now_v7()), "data_source.auth.token_id"),
        (auth_token(stranger_token), "data_source.auth.token_id"),
        (auth_token(partner_token), "data_source.auth.token_id"),
        (
            auth_credential(Uuid::now_v7()),
            "data_source.auth.credential_id",
        ),
        (
            auth_credential(stranger_credential),
            "data_source.auth.credential_id",
        ),
        (
            auth_credential(partner_credential),
            "data_source.auth.credential_id",
        ),
    ] {
        let mut source = json_source(None, "Borrowed", "https://api.example.com/v1");
        source.auth = auth.clone();
        let found = violations(
            client
                .create_data_source(with(&editor, create(source)))
                .await,
        );
        assert_eq!(found.len(), 1, "{auth:?}: {found:?}");
        assert_eq!(found[0].0, field, "{auth:?}");
    }
    assert_eq!(
        library
            .count("data_sources", "account_id", family.client_a)
            .await,
        0
    );

    // Nor does an update switch to one: the data source stays as it was.
    let own = library
        .data_source(
            &editor,
            json_source(None, "Own", "https://api.example.com/own"),
        )
        .await;
    let switched = violations(
        update_source(
            &library,
            &editor,
            pb::DataSource {
                id: own.id.clone(),
                auth: auth_token(stranger_token),
                ..Default::default()
            },
            &["auth"],
        )
        .await,
    );
    assert_eq!(switched[0].0, "data_source.auth.token_id");
    let unchanged = library.get_data_source(&editor, &own.id).await;
    assert_eq!(unchanged, own);

    // An import of the partner's data source: the instance uses a copy of the partner's
    // credential scoped to it (I5), which serves no other data source of the client.
    let mut master = json_source(
        None,
        "Feed",
        "https://api.example.com/feed?c={props.companyID}",
    );
    master.auth = auth_credential(partner_credential);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let instance = library
        .import_data_source(family.partner, family.client_a, &master.id)
        .await;
    let copy = library
        .copy_credential(
            partner_credential,
            family.partner,
            family.client_a,
            &instance,
            &master.fingerprint,
        )
        .await;
    let repointed = update_source(
        &library,
        &imports,
        pb::DataSource {
            id: instance.clone(),
            account_id: family.client_a.to_string(),
            auth: auth_credential(copy),
            ..Default::default()
        },
        &["auth"],
    )
    .await
    .unwrap();
    let mut elsewhere = json_source(None, "Elsewhere", "https://api.example.com/feed");
    elsewhere.auth = auth_credential(copy);
    assert_eq!(
        violations(
            client
                .create_data_source(with(&editor, create(elsewhere)))
                .await
        )[0]
        .0,
        "data_source.auth.credential_id"
    );

    // I14: while it borrows, a rename is fine, but what it fetches stays as imported...
    let renamed = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: instance.clone(),
            name: "Feed (ours)".into(),
            ..Default::default()
        },
        &["name"],
    )
    .await
    .unwrap();
    assert_eq!(renamed.version, repointed.version + 1);
    assert_needs_own_auth(&library, &editor, &instance).await;
    // ...unless the same update switches to a credential of the client's own.
    let own_credential = library.credential(family.client_a).await;
    let moved = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: instance.clone(),
            request: elsewhere_url(),
            auth: auth_credential(own_credential),
            ..Default::default()
        },
        &["request.url", "auth"],
    )
    .await
    .unwrap();
    assert_eq!(moved.version, renamed.version + 1);
    assert_ne!(moved.fingerprint, master.fingerprint);
    assert_eq!(
        moved.auth,
        auth_credential(own_credential).map(|mut a| {
            a.kind = pb::AuthKind::Credential as i32;
            a
        })
    );

    // The same for the partner's token, borrowed through a grant (I6).
    let mut master = json_source(None, "GA", "https://analytics.example.com/");
    master.auth = auth_token(partner_token);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let instance = library
        .import_data_source(family.partner, family.client_b, &master.id)
        .await;
    library
        .grant(
            partner_token,
            family.partner,
            family.client_b,
            &instance,
            &master.fingerprint,
        )
        .await;
    assert_needs_own_auth(&library, &tokens::editor(family.client_b), &instance).await;
}

/// Another URL for an imported query: refused while it keeps the borrowed auth.
fn elsewhere_url() -> Option<pb::HttpRequestTemplate> {
    Some(pb::HttpRequestTemplate {
        url: "https://attacker.example.com/collect".into(),
        ..Default::default()
    })
}

/// Moving the imported query `instance` to [`elsewhere_url`] alone, with `token`, is refused.
async fn assert_needs_own_auth(library: &common::Library, token: &str, instance: &str) {
    let moved = pb::DataSource {
        id: instance.into(),
        request: elsewhere_url(),
        ..Default::default()
    };
    let refused = update_source(library, token, moved, &["request.url"]).await;
    assert_eq!(preconditions(refused), ["IMPORTED_QUERY_NEEDS_OWN_AUTH"]);
}
