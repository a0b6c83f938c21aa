//! I5 and I6: an imported data source with a saved credential gets its own copy, usable by
//! it alone; one with an OAuth token refreshes with the master's token through a grant, and
//! the token never becomes the client's connected account. Deleting the instances takes the
//! grant and the copy back.

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::imports::v1 as imp;
use trellis_proto::library::v1 as lib;
use trellis_proto::tokens::v1 as tok;
use trellis_testkit::tokens;

use crate::common::*;

fn warnings_of(plan: &imp::ImportPlan, kind: imp::PlanWarningKind) -> Vec<&imp::PlanWarning> {
    plan.warnings.iter().filter(|w| w.kind() == kind).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_data_sources_get_a_token_grant_and_a_scoped_credential_copy() {
    let world = World::start().await;
    let family = world.family().await;
    let master = Borrowing::create(&world, family.partner).await;

    let planned = plan(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&master.both.id)],
    )
    .await
    .unwrap();
    let shared = warnings_of(&planned, imp::PlanWarningKind::TokenShared);
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].subject_id, master.token.id);
    let copied = warnings_of(&planned, imp::PlanWarningKind::CredentialCopied);
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].subject_id, master.saved.id);
    let item = |id: &str| {
        planned
            .items
            .iter()
            .find(|i| i.asset.as_ref().unwrap().id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(item(&master.analytics.id).token_id, master.token.id);
    assert_eq!(item(&master.helpdesk.id).credential_id, master.saved.id);

    let done = execute(&world.imports, family.client_a, &planned, &request_id())
        .await
        .unwrap();
    assert_eq!(done.state(), imp::ImportState::Succeeded, "{}", done.error);
    the_instance_refreshes_through_a_grant(&world, family, &master, &done).await;
    the_instance_uses_its_own_credential_copy(&world, family, &master, &done).await;

    // Pointing the instance at its copy is part of the import, not a local edit.
    for master_source in [&master.helpdesk.id, &master.analytics.id] {
        let id = instance_of(&done, master_source);
        let status = status_of(&world.imports, family.client_a, data_source_ref(&id)).await;
        assert_eq!(status.status(), imp::InstanceStatus::InSync, "{status:?}");
    }
    deleting_the_instances_takes_the_grant_and_the_copy_back(&world, family, &master).await;
}

/// I6: the same token, through a grant to exactly that data source.
async fn the_instance_refreshes_through_a_grant(
    world: &World,
    family: Family,
    master: &Borrowing,
    done: &imp::Import,
) {
    let analytics_instance = instance_of(done, &master.analytics.id);
    assert_eq!(done.token_grant_ids.len(), 1);
    let instance = get_data_source(&world.library, family.client_a, &analytics_instance).await;
    assert_eq!(
        instance.auth.unwrap().method,
        token_auth(&master.token.id),
        "same token identity"
    );
    let grants = grants_on(&world.tokens, family.partner, &master.token.id).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, done.token_grant_ids[0]);
    assert_eq!(grants[0].grantee_account_id, family.client_a.to_string());
    assert_eq!(grants[0].data_source_id, analytics_instance);
    let connected = world
        .tokens
        .clone()
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
    let access = world
        .tokens
        .clone()
        .get_access_token(call(
            tok::GetAccessTokenRequest {
                token_id: master.token.id.clone(),
                account_id: family.client_a.to_string(),
                data_source_id: analytics_instance.clone(),
                rejected_generation: 0,
                request_fingerprint: instance.fingerprint,
            },
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .expect("the instance refreshes with the master's token")
        .into_inner();
    assert!(master.oauth.is_access_token_valid(&access.access_token));
}

/// The secret of credential `credential` for `data_source` of `account`, as the refresh
/// service asks for it.
async fn credential_secret(
    world: &World,
    credential: &str,
    account: uuid::Uuid,
    data_source: &lib::DataSource,
) -> Result<tok::GetCredentialSecretResponse, tonic::Status> {
    let request = tok::GetCredentialSecretRequest {
        credential_id: credential.into(),
        data_source_id: data_source.id.clone(),
        account_id: account.to_string(),
        request_fingerprint: data_source.fingerprint.clone(),
    };
    let bearer = tokens::service_as(Identity::Refresh);
    let answer = world
        .tokens
        .clone()
        .get_credential_secret(call(request, &bearer))
        .await?;
    Ok(answer.into_inner())
}

/// I5: a copy of the credential, scoped to the imported data source.
async fn the_instance_uses_its_own_credential_copy(
    world: &World,
    family: Family,
    master: &Borrowing,
    done: &imp::Import,
) {
    let library = &world.library;
    let helpdesk_instance = instance_of(done, &master.helpdesk.id);
    assert_eq!(done.credential_copies.len(), 1);
    let copy = &done.credential_copies[0];
    assert_eq!(copy.source_credential_id, master.saved.id);
    assert_eq!(copy.data_source_id, helpdesk_instance);
    assert_ne!(copy.destination_credential_id, master.saved.id);
    let instance = get_data_source(library, family.client_a, &helpdesk_instance).await;
    assert_eq!(
        instance.auth.as_ref().unwrap().method,
        credential_auth(&copy.destination_credential_id),
        "the instance uses its own copy"
    );
    let copy_id = &copy.destination_credential_id;
    let secret = credential_secret(world, copy_id, family.client_a, &instance)
        .await
        .unwrap();
    assert_eq!(secret.password, "s3cret-password");
    // The copy is the imported data source's alone: no other data source of the client may
    // name it (I15), nor get its secret.
    let naming_the_copy = library
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
                        method: credential_auth(copy_id),
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
    let own_url = "https://api.example.test/own";
    let own = data_source(library, family.client_a, "Client's own", own_url, None).await;
    let refused = credential_secret(world, copy_id, family.client_a, &own).await;
    failure(refused, Code::PermissionDenied);
}

/// Deleting the instances takes the copies and grants back; the client's own data source
/// stays.
async fn deleting_the_instances_takes_the_grant_and_the_copy_back(
    world: &World,
    family: Family,
    master: &Borrowing,
) {
    let request = deletion(klip_ref(&master.both.id), &[family.client_a], &request_id());
    let deleted = delete_instances(&world.imports, &admin(family.partner), request)
        .await
        .unwrap();
    assert_eq!(
        deleted.len(),
        3,
        "the Klip and both data sources: {deleted:?}"
    );
    assert_eq!(
        asset_counts(&world.library, family.client_a).await,
        [1, 0, 0]
    );
    let grants = grants_on(&world.tokens, family.partner, &master.token.id).await;
    assert!(grants.is_empty(), "the grant is revoked");
    let credentials = credentials_of(&world.tokens, family.client_a).await;
    assert!(credentials.is_empty(), "the copy is deleted");
    assert!(
        instances(&world.imports, family.partner, klip_ref(&master.both.id))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_revoked_after_planning_undoes_the_import_and_blocks_new_plans() {
    let world = World::start().await;
    let family = world.family().await;
    let master = Borrowing::create(&world, family.partner).await;
    let selection = vec![klip_ref(&master.both.id)];

    // A plan made while the token was fine, executed after it was revoked: the grant is
    // refused, and what the import made is undone.
    let before_revocation = plan(
        &world.imports,
        family.client_b,
        family.partner,
        selection.clone(),
    )
    .await
    .unwrap();
    assert!(before_revocation.warnings.iter().all(|w| !w.blocking));
    world
        .tokens
        .clone()
        .delete_token(call(
            tok::DeleteTokenRequest {
                request_id: String::new(),
                id: master.token.id.clone(),
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
        asset_counts(&world.library, family.client_b).await,
        [0, 0, 0],
        "nothing half-written"
    );
    let leftovers = credentials_of(&world.tokens, family.client_b).await;
    assert!(leftovers.is_empty(), "no credential copy left behind");
    assert!(
        instances(&world.imports, family.partner, klip_ref(&master.both.id))
            .await
            .is_empty()
    );

    // Planned now, the revoked token blocks the import.
    let blocked = plan(&world.imports, family.client_b, family.partner, selection)
        .await
        .unwrap();
    let blocking: Vec<&imp::PlanWarning> = blocked.warnings.iter().filter(|w| w.blocking).collect();
    assert_eq!(blocking.len(), 1, "{:?}", blocked.warnings);
    assert_eq!(
        blocking[0].kind(),
        imp::PlanWarningKind::TokenNeedsReauthorization
    );
    let refused = execute(&world.imports, family.client_b, &blocked, &request_id()).await;
    assert_eq!(preconditions(refused)[0].r#type, "BLOCKING_WARNING");
    assert_eq!(
        asset_counts(&world.library, family.client_b).await,
        [0, 0, 0]
    );
}
