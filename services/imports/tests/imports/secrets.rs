//! I5 and I6: an imported data source with a saved credential gets its own copy, usable by
//! it alone; one with an OAuth token refreshes with the master's token through a grant, and
//! the token never becomes the client's connected account. Deleting the instances takes the
//! grant and the copy back.

use tonic::Code;
use tonic_types::StatusExt;
use trellis_proto::imports::v1 as imp;
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
            },
            &tokens::service(),
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
    let secret = token_service
        .get_credential_secret(call(
            tok::GetCredentialSecretRequest {
                credential_id: copy.destination_credential_id.clone(),
                data_source_id: helpdesk_instance.clone(),
                account_id: family.client_a.to_string(),
            },
            &tokens::service(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(secret.password, "s3cret-password");
    let own = data_source(
        library,
        family.client_a,
        "Client's own",
        "https://api.example.test/own",
        credential_auth(&copy.destination_credential_id),
    )
    .await;
    let refused = token_service
        .get_credential_secret(call(
            tok::GetCredentialSecretRequest {
                credential_id: copy.destination_credential_id.clone(),
                data_source_id: own.id.clone(),
                account_id: family.client_a.to_string(),
            },
            &tokens::service(),
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
