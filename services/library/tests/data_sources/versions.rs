//! A data source created, read, updated and versioned (I10), and deleted only with force while Klips bind it.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_data_source_is_created_read_updated_and_versioned() {
    let library = start_with_tokens().await;
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let token_id = library.oauth_token(account).await;
    let credentials = [
        library.credential(account).await,
        library.credential(account).await,
    ];

    let mut source = json_source(
        None,
        "Sales",
        "https://api.example.com/sales?c={props.companyID}",
    );
    let request = source.request.as_mut().unwrap();
    request.method = pb::HttpMethod::Post as i32;
    request.body = r#"{"filter": {"year": "{props.year}"}, "raw": "{not.a.template}"}"#.into();
    request.headers.push(pb::HttpHeader {
        name: "X-Region".into(),
        value: "{props.region}".into(),
    });
    source.auth = auth_token(token_id);
    source.refresh_interval = Some(prost_types::Duration {
        seconds: 3600,
        nanos: 0,
    });
    source.rate_limit_key = "ga:{props.profile}".into();

    let created = library.data_source(&editor, source.clone()).await;
    assert_eq!(created.version, 1);
    assert_eq!(created.fingerprint.len(), 64);
    assert_eq!(
        created.template_properties,
        ["companyID", "profile", "region", "year"]
    );
    let auth = created.auth.clone().unwrap();
    assert_eq!(auth.kind, pb::AuthKind::OauthToken as i32);
    assert_eq!(
        created.request.as_ref().unwrap().body,
        source.request.unwrap().body
    );
    assert_eq!(created.account_id, account.to_string());

    let got = library
        .get_data_source(&tokens::viewer(account), &created.id)
        .await;
    assert_eq!(got, created);

    // A rename is a change of the definition: the version grows, the fingerprint stays.
    let renamed = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: created.id.clone(),
            name: "Sales (EU)".into(),
            etag: created.etag.clone(),
            ..Default::default()
        },
        &["name"],
    )
    .await
    .unwrap();
    assert_eq!(
        (renamed.version, &renamed.fingerprint),
        (2, &created.fingerprint)
    );
    assert_eq!(
        renamed.rate_limit_key, created.rate_limit_key,
        "outside the mask"
    );

    // A new URL changes what is fetched: version and fingerprint change.
    let moved = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: created.id.clone(),
            request: Some(pb::HttpRequestTemplate {
                url: "https://api.example.com/v2/sales".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &["request.url"],
    )
    .await
    .unwrap();
    assert_eq!(moved.version, 3);
    assert_ne!(moved.fingerprint, renamed.fingerprint);
    assert_eq!(
        moved.request.as_ref().unwrap().method,
        pb::HttpMethod::Post as i32
    );

    // Pointing at another credential of the account (as an import does with its copy, I5)
    // is a new version with the same fingerprint... once the source uses a credential.
    let with_credential = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: created.id.clone(),
            auth: auth_credential(credentials[0]),
            ..Default::default()
        },
        &["auth"],
    )
    .await
    .unwrap();
    let copied = update_source(
        &library,
        &tokens::service(),
        pb::DataSource {
            id: created.id.clone(),
            account_id: account.to_string(),
            auth: auth_credential(credentials[1]),
            ..Default::default()
        },
        &["auth"],
    )
    .await
    .unwrap();
    assert_eq!(copied.version, with_credential.version + 1);
    assert_eq!(copied.fingerprint, with_credential.fingerprint);

    // Saving the same definition again changes nothing.
    let same = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: created.id.clone(),
            name: copied.name.clone(),
            ..Default::default()
        },
        &["name"],
    )
    .await
    .unwrap();
    assert_eq!((same.version, &same.etag), (copied.version, &copied.etag));

    // Stale etags abort; unknown mask paths are invalid.
    failure(
        update_source(
            &library,
            &editor,
            pb::DataSource {
                id: created.id.clone(),
                name: "x".into(),
                etag: created.etag.clone(),
                ..Default::default()
            },
            &["name"],
        )
        .await,
        Code::Aborted,
    );
    let bad_mask = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: created.id.clone(),
            ..Default::default()
        },
        &["version"],
    )
    .await;
    assert_eq!(violations(bad_mask)[0].0, "update_mask");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bound_data_source_is_deleted_only_with_force_leaving_dangling_bindings() {
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;
    let other = library
        .data_source(&editor, json_source(None, "t", "https://api.example.com/t"))
        .await;
    let klip = library
        .klip(
            &editor,
            klip_of(None, "k", &["@0.a + @1.b"], &[&source.id, &other.id]),
        )
        .await;
    let delete = |force: bool| {
        let mut client = library.client();
        let request = pb::DeleteDataSourceRequest {
            id: source.id.clone(),
            force,
            ..Default::default()
        };
        let token = editor.clone();
        async move { client.delete_data_source(with(&token, request)).await }
    };

    let in_use = failure(delete(false).await, Code::FailedPrecondition);
    assert!(in_use.message().contains(&klip.id), "{in_use:?}");
    delete(true).await.unwrap();
    let after = library.get_klip(&editor, &klip.id).await;
    let bound: Vec<_> = after
        .bindings
        .iter()
        .map(|b| b.data_source_id.as_str())
        .collect();
    assert_eq!(bound, ["", other.id.as_str()]);
    assert_eq!(after.version, klip.version + 1);
    failure(delete(true).await, Code::NotFound);

    // An unbound data source goes without force; the viewer cannot delete anything.
    failure(
        client
            .delete_data_source(with(
                &tokens::viewer(account),
                pb::DeleteDataSourceRequest {
                    id: other.id.clone(),
                    force: true,
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    let lonely = library
        .data_source(&editor, json_source(None, "u", "https://api.example.com/u"))
        .await;
    client
        .delete_data_source(with(
            &editor,
            pb::DeleteDataSourceRequest {
                id: lonely.id,
                etag: lonely.etag,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
}
