//! I5 and I6: an imported data source with a saved credential gets its own copy, usable by
//! it alone; one with an OAuth token refreshes with the master's token through a grant, and
//! the token never becomes the client's connected account. Deleting the instances takes the
//! grant and the copy back.

use tonic::Code;
use tonic_types::StatusExt;
use trellis_platform::auth::Identity;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_proto::tokens::v1 as tok;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::tokens;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn imported_data_sources_get_a_token_grant_and_a_scoped_credential_copy() {
    let world = World::start().await;
    let oauth = OAuthServer::start(OAuthServerConfig::default()).await;
    let family = world.family().await;
    let (library, mut token_service) = (&world.library, world.tokens.clone());
    let provider = provider(&world.tokens, &oauth).await;
    let token = authorize(&world.tokens, family.partner, &provider.id).await;
    let saved = credential(&world.tokens, family.partner, "s3cret-password").await;
    let analytics = data_source(
        library,
        family.partner,
        "Analytics",
        "https://api.example.test/ga",
        token_auth(&token.id),
    )
    .await;
    let helpdesk = data_source(
        library,
        family.partner,
        "Helpdesk",
        "https://api.example.test/tickets",
        credential_auth(&saved.id),
    )
    .await;
    let both = klip(
        library,
        family.partner,
        "Support and traffic",
        &["COUNT(@0.visits)", "COUNT(@1.tickets)"],
        &[&analytics.id, &helpdesk.id],
    )
    .await;

    let planned = plan(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&both.id)],
    )
    .await
    .unwrap();
    let shared: Vec<&imp::PlanWarning> = planned
        .warnings
        .iter()
        .filter(|w| w.kind() == imp::PlanWarningKind::TokenShared)
        .collect();
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].subject_id, token.id);
    let copied: Vec<&imp::PlanWarning> = planned
        .warnings
        .iter()
        .filter(|w| w.kind() == imp::PlanWarningKind::CredentialCopied)
        .collect();
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].subject_id, saved.id);
    let item = |id: &str| {
        planned
            .items
            .iter()
            .find(|i| i.asset.as_ref().unwrap().id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(item(&analytics.id).token_id, token.id);
    assert_eq!(item(&helpdesk.id).credential_id, saved.id);

    let done = execute(&world.imports, family.client_a, &planned, &request_id())
        .await
        .unwrap();
    assert_eq!(done.state(), imp::ImportState::Succeeded, "{}", done.error);
    let analytics_instance = instance_of(&done, &analytics.id);
    let helpdesk_instance = instance_of(&done, &helpdesk.id);

    // I6: the same token, through a grant to exactly that data source.
    assert_eq!(done.token_grant_ids.len(), 1);
    let instance = get_data_source(library, family.client_a, &analytics_instance).await;
    assert_eq!(
        instance.auth.unwrap().method,
        token_auth(&token.id),
        "same token identity"
    );
    let analytics_fingerprint = instance.fingerprint;
    let grants = token_service
        .list_token_grants(call(
            tok::ListTokenGrantsRequest {
                token_id: token.id.clone(),
                ..Default::default()
            },
            &admin(family.partner),
        ))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, done.token_grant_ids[0]);
    assert_eq!(grants[0].grantee_account_id, family.client_a.to_string());
    assert_eq!(grants[0].data_source_id, analytics_instance);
    let connected = token_service
        .list_tokens(call(
            tok::ListTokensRequest::default(),
            &admin(family.client_a),
        ))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert!(
        connected.is_empty(),
        "not a connected account of the client"
    );
    let access = token_service
        .get_access_token(call(
            tok::GetAccessTokenRequest {
                token_id: token.id.clone(),
                account_id: family.client_a.to_string(),
                data_source_id: analytics_instance.clone(),
                rejected_generation: 0,
                request_fingerprint: analytics_fingerprint,
            },
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .expect("the instance refreshes with the master's token")
        .into_inner();
    assert!(oauth.is_access_token_valid(&access.access_token));

    // I5: a copy of the credential, scoped to the imported data source.
    assert_eq!(done.credential_copies.len(), 1);
    let copy = &done.credential_copies[0];
    assert_eq!(copy.source_credential_id, saved.id);
    assert_eq!(copy.data_source_id, helpdesk_instance);
    assert_ne!(copy.destination_credential_id, saved.id);
    let instance = get_data_source(library, family.client_a, &helpdesk_instance).await;
    assert_eq!(
        instance.auth.unwrap().method,
        credential_auth(&copy.destination_credential_id),
        "the instance uses its own copy"
    );
    let helpdesk_fingerprint = instance.fingerprint;
    let secret = token_service
        .get_credential_secret(call(
            tok::GetCredentialSecretRequest {
                credential_id: copy.destination_credential_id.clone(),
                data_source_id: helpdesk_instance.clone(),
                account_id: family.client_a.to_string(),
                request_fingerprint: helpdesk_fingerprint,
            },
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(secret.password, "s3cret-password");
    // The copy is the imported data source's alone: no other data source of the client may
    // name it (I15), nor get its secret.
    let naming_the_copy = world
        .library
        .clone()
        .create_data_source(call(
            lib::CreateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(lib::DataSource {
                    name: "Client's own".into(),
                    request: Some(lib::HttpRequestTemplate {
                        method: lib::HttpMethod::Get as i32,
                        url: "https://api.example.test/own".into(),
                        ..Default::default()
                    }),
                    format: lib::DataFormat::Json as i32,
                    auth: Some(lib::DataSourceAuth {
                        kind: 0,
                        method: credential_auth(&copy.destination_credential_id),
                    }),
                    ..Default::default()
                }),
            },
            &admin(family.client_a),
        ))
        .await;
    let status = failure(naming_the_copy, Code::InvalidArgument);
    assert_eq!(
        field_violations(&status),
        ["data_source.auth.credential_id"]
    );
    let own = data_source(
        library,
        family.client_a,
        "Client's own",
        "https://api.example.test/own",
        None,
    )
    .await;
    let refused = token_service
        .get_credential_secret(call(
            tok::GetCredentialSecretRequest {
                credential_id: copy.destination_credential_id.clone(),
                data_source_id: own.id.clone(),
                account_id: family.client_a.to_string(),
                request_fingerprint: own.fingerprint.clone(),
            },
            &tokens::service_as(Identity::Refresh),
        ))
        .await;
    failure(refused, Code::PermissionDenied);

    // Pointing the instance at its copy is part of the import, not a local edit.
    for id in [&helpdesk_instance, &analytics_instance] {
        let status = status_of(&world.imports, family.client_a, data_source_ref(id)).await;
        assert_eq!(status.status(), imp::InstanceStatus::InSync, "{status:?}");
    }

    // Deleting the instances takes the copies and grants back.
    let deleted = world
        .imports
        .clone()
        .delete_instances(call(
            imp::DeleteInstancesRequest {
                request_id: request_id(),
                master: Some(klip_ref(&both.id)),
                account_ids: vec![family.client_a.to_string()],
            },
            &admin(family.partner),
        ))
        .await
        .unwrap()
        .into_inner()
        .deleted_instances;
    assert_eq!(
        deleted.len(),
        3,
        "the Klip and both data sources: {deleted:?}"
    );
    // The client's own data source stays.
    assert_eq!(asset_counts(library, family.client_a).await, [1, 0, 0]);
    let grants = token_service
        .list_token_grants(call(
            tok::ListTokenGrantsRequest {
                token_id: token.id.clone(),
                ..Default::default()
            },
            &admin(family.partner),
        ))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(grants.is_empty(), "the grant is revoked");
    let credentials = token_service
        .list_credentials(call(
            tok::ListCredentialsRequest::default(),
            &admin(family.client_a),
        ))
        .await
        .unwrap()
        .into_inner()
        .credentials;
    assert!(credentials.is_empty(), "the copy is deleted");
    assert!(
        instances(&world.imports, family.partner, klip_ref(&both.id))
            .await
            .is_empty()
    );

    // A plan made while the token was fine, executed after it was revoked: the grant is
    // refused, and what the import made is undone.
    let before_revocation = plan(
        &world.imports,
        family.client_b,
        family.partner,
        vec![klip_ref(&both.id)],
    )
    .await
    .unwrap();
    assert!(before_revocation.warnings.iter().all(|w| !w.blocking));
    token_service
        .delete_token(call(
            tok::DeleteTokenRequest {
                request_id: String::new(),
                id: token.id.clone(),
                account_id: String::new(),
                etag: String::new(),
                force: true,
            },
            &admin(family.partner),
        ))
        .await
        .expect("DeleteToken");
    let undone = execute(
        &world.imports,
        family.client_b,
        &before_revocation,
        &request_id(),
    )
    .await
    .unwrap();
    assert_eq!(undone.state(), imp::ImportState::Compensated, "{undone:?}");
    assert!(undone.error.contains("grant"), "{}", undone.error);
    assert_eq!(undone.mappings.len(), 3, "it had cloned");
    assert_eq!(
        asset_counts(library, family.client_b).await,
        [0, 0, 0],
        "nothing half-written"
    );
    let leftovers = token_service
        .list_credentials(call(
            tok::ListCredentialsRequest::default(),
            &admin(family.client_b),
        ))
        .await
        .unwrap()
        .into_inner()
        .credentials;
    assert!(leftovers.is_empty(), "no credential copy left behind");
    assert!(
        instances(&world.imports, family.partner, klip_ref(&both.id))
            .await
            .is_empty()
    );

    // Planned now, the revoked token blocks the import.
    let blocked = plan(
        &world.imports,
        family.client_b,
        family.partner,
        vec![klip_ref(&both.id)],
    )
    .await
    .unwrap();
    let blocking: Vec<&imp::PlanWarning> = blocked.warnings.iter().filter(|w| w.blocking).collect();
    assert_eq!(blocking.len(), 1, "{:?}", blocked.warnings);
    assert_eq!(
        blocking[0].kind(),
        imp::PlanWarningKind::TokenNeedsReauthorization
    );
    let status = failure(
        execute(&world.imports, family.client_b, &blocked, &request_id()).await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status
            .get_details_precondition_failure()
            .unwrap()
            .violations[0]
            .r#type,
        "BLOCKING_WARNING"
    );
    assert_eq!(asset_counts(library, family.client_b).await, [0, 0, 0]);
}

/// UpdateDataSource of `id` to fetch `url`, and with `auth` to use it, as `bearer`.
async fn repoint(
    library: &Library,
    id: &str,
    url: Option<&str>,
    auth: Option<lib::data_source_auth::Method>,
    bearer: &str,
) -> Result<lib::DataSource, tonic::Status> {
    let mut paths = Vec::new();
    if url.is_some() {
        paths.push("request.url".to_owned());
    }
    if auth.is_some() {
        paths.push("auth".to_owned());
    }
    library
        .clone()
        .update_data_source(call(
            lib::UpdateDataSourceRequest {
                request_id: String::new(),
                data_source: Some(lib::DataSource {
                    id: id.into(),
                    request: url.map(|url| lib::HttpRequestTemplate {
                        method: lib::HttpMethod::Get as i32,
                        url: url.into(),
                        ..Default::default()
                    }),
                    auth: auth.map(|method| lib::DataSourceAuth {
                        kind: 0,
                        method: Some(method),
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            },
            bearer,
        ))
        .await
        .map(|r| r.into_inner().data_source.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_query_cannot_be_pointed_elsewhere_while_it_borrows_the_masters_secret() {
    let world = World::start().await;
    let oauth = OAuthServer::start(OAuthServerConfig::default()).await;
    let family = world.family().await;
    let library = &world.library;
    let provider = provider(&world.tokens, &oauth).await;
    let token = authorize(&world.tokens, family.partner, &provider.id).await;
    let saved = credential(&world.tokens, family.partner, "s3cret-password").await;
    let analytics = data_source(
        library,
        family.partner,
        "Analytics",
        "https://api.example.test/ga",
        token_auth(&token.id),
    )
    .await;
    let helpdesk = data_source(
        library,
        family.partner,
        "Helpdesk",
        "https://api.example.test/tickets",
        credential_auth(&saved.id),
    )
    .await;
    let both = klip(
        library,
        family.partner,
        "Support and traffic",
        &["COUNT(@0.visits)", "COUNT(@1.tickets)"],
        &[&analytics.id, &helpdesk.id],
    )
    .await;
    let done = import(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&both.id)],
    )
    .await;
    let analytics_a = instance_of(&done, &analytics.id);
    let helpdesk_a = instance_of(&done, &helpdesk.id);
    let copy = done.credential_copies[0].destination_credential_id.clone();
    // The instances borrow: the master's token through a grant (I6), a copy of the master's
    // credential (I5).
    let borrowed = [
        (&analytics_a, token_auth(&token.id)),
        (&helpdesk_a, credential_auth(&copy)),
    ];
    let editor = tokens::editor(family.client_a);
    let elsewhere = "https://collector.elsewhere.test/ga";

    for (instance, auth) in &borrowed {
        let before = get_data_source(library, family.client_a, instance).await;
        assert_eq!(before.auth.as_ref().unwrap().method, *auth);

        // I14: what it fetches with the master's secret stays as imported.
        let status = failure(
            repoint(library, instance, Some(elsewhere), None, &editor).await,
            Code::FailedPrecondition,
        );
        let violations = status
            .get_details_precondition_failure()
            .unwrap_or_else(|| panic!("a PreconditionFailure: {status:?}"))
            .violations;
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].r#type, "IMPORTED_QUERY_NEEDS_OWN_AUTH");
        assert_eq!(violations[0].subject, format!("data_sources/{instance}"));
        assert_eq!(
            get_data_source(library, family.client_a, instance).await,
            before,
            "the stored data source is unchanged"
        );

        // Nor may the client name the partner's own credential or token (I15): neither is
        // the client's, and neither was granted or copied to this data source.
        for (theirs, field) in [
            (credential_auth(&saved.id), "data_source.auth.credential_id"),
            (token_auth(&token.id), "data_source.auth.token_id"),
        ] {
            if theirs == *auth {
                continue;
            }
            let status = failure(
                repoint(library, instance, None, theirs.clone(), &editor).await,
                Code::InvalidArgument,
            );
            assert_eq!(field_violations(&status), [field], "{theirs:?}");
            assert_eq!(
                get_data_source(library, family.client_a, instance).await,
                before,
                "the stored data source is unchanged"
            );
        }
    }
    // With a credential of the client's own, switched to in the same update, the query may
    // change.
    let own = credential(&world.tokens, family.client_a, "client-password").await;
    for (instance, _) in &borrowed {
        let moved = repoint(
            library,
            instance,
            Some(elsewhere),
            credential_auth(&own.id),
            &editor,
        )
        .await
        .expect("an instance on the client's own credential fetches what the client wants");
        let stored = get_data_source(library, family.client_a, instance).await;
        assert_eq!(stored, moved);
        assert_eq!(stored.request.unwrap().url, elsewhere);
        assert_eq!(stored.auth.unwrap().method, credential_auth(&own.id));
    }
}
