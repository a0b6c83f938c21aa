//! Saved credentials (I5): created, checked, updated and deleted by their account, and
//! named by data sources (the copies an import makes are in `credential_copies`).

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_platform::client::TracedChannel;
use trellis_proto::tokens::v1::check_data_source_auth_request::Auth;
use trellis_proto::tokens::v1::token_service_client::TokenServiceClient;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;

pub fn basic(password: &str) -> CreateCredentialRequest {
    CreateCredentialRequest {
        request_id: String::new(),
        credential: Some(Credential {
            display_name: "Zendesk login".into(),
            kind: CredentialKind::Basic as i32,
            username: "agency@example.test".into(),
            ..Default::default()
        }),
        secret: Some(CredentialSecret {
            password: password.into(),
            api_key: String::new(),
            ..Default::default()
        }),
    }
}

pub fn api_key(key: &str) -> CreateCredentialRequest {
    CreateCredentialRequest {
        request_id: String::new(),
        credential: Some(Credential {
            display_name: "Stripe key".into(),
            kind: CredentialKind::ApiKey as i32,
            api_key_placement: ApiKeyPlacement::Header as i32,
            api_key_name: "X-Api-Key".into(),
            ..Default::default()
        }),
        secret: Some(CredentialSecret {
            password: String::new(),
            api_key: key.into(),
            ..Default::default()
        }),
    }
}

pub fn secret_request(id: &str, account: Uuid, data_source: Uuid) -> GetCredentialSecretRequest {
    GetCredentialSecretRequest {
        credential_id: id.to_owned(),
        data_source_id: data_source.to_string(),
        account_id: account.to_string(),
        ..Default::default()
    }
}

/// A copy as an import makes it (see [`Import::copy`]).
pub async fn copy_for(
    client: &mut TokenServiceClient<TracedChannel>,
    request: CopyCredentialRequest,
    bearer: &str,
) -> Result<Credential, tonic::Status> {
    Ok(ask!(client.copy_credential(request, bearer))?
        .credential
        .expect("a credential"))
}

/// A new credential, as `bearer` creates it.
pub async fn create(
    client: &mut TokenServiceClient<TracedChannel>,
    request: CreateCredentialRequest,
    bearer: &str,
) -> Credential {
    ask!(client.create_credential(request, bearer))
        .expect("CreateCredential")
        .credential
        .expect("a credential")
}

/// The credentials `account` lists.
pub async fn credentials_of(
    client: &mut TokenServiceClient<TracedChannel>,
    account: Uuid,
) -> Vec<Credential> {
    ask!(client.list_credentials(ListCredentialsRequest::default(), &tokens::viewer(account)))
        .unwrap()
        .credentials
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_checked_updated_and_deleted() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let editor = tokens::editor(account);

    let key = create(&mut client, api_key("sk_live_123"), &editor).await;
    assert_eq!(key.kind, CredentialKind::ApiKey as i32);

    incomplete_credentials_are_refused(&mut client, account).await;

    // Update the key name and the secret together.
    let updated = ask!(client.update_credential(
        UpdateCredentialRequest {
            request_id: String::new(),
            credential: Some(Credential {
                id: key.id.clone(),
                api_key_name: "Authorization-Key".into(),
                etag: key.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["api_key_name".into()],
            }),
            secret: Some(CredentialSecret {
                password: String::new(),
                api_key: "sk_live_456".into(),
                ..Default::default()
            }),
        },
        &editor,
    ))
    .unwrap()
    .credential
    .unwrap();
    assert_eq!(updated.api_key_name, "Authorization-Key");
    let secret = ask!(client.get_credential_secret(
        secret_request(&key.id, account, Uuid::new_v4()),
        &tokens::service_as(Identity::Refresh),
    ))
    .unwrap();
    assert_eq!(secret.api_key, "sk_live_456");
    assert_eq!(secret.api_key_placement, ApiKeyPlacement::Header as i32);

    // Stale etags abort; deletion with the current one works.
    let stale = ask!(client.delete_credential(
        DeleteCredentialRequest {
            id: key.id.clone(),
            etag: key.etag.clone(),
            ..Default::default()
        },
        &editor,
    ))
    .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    ask!(client.delete_credential(
        DeleteCredentialRequest {
            id: key.id.clone(),
            etag: updated.etag,
            ..Default::default()
        },
        &editor,
    ))
    .unwrap();
    let gone = ask!(client.get_credential(
        GetCredentialRequest {
            id: key.id,
            account_id: String::new(),
        },
        &editor,
    ))
    .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

/// Missing secrets, kinds and key names are named; a viewer creates nothing.
async fn incomplete_credentials_are_refused(client: &mut Client, account: Uuid) {
    let editor = tokens::editor(account);
    // Missing secrets, kinds and key names are named.
    let mut no_secret = basic("");
    no_secret.secret = None;
    let mut no_kind = basic("pw");
    no_kind.credential.as_mut().unwrap().kind = 0;
    let mut bad_header = api_key("k");
    bad_header.credential.as_mut().unwrap().api_key_name = "X Api Key".into();
    for (request, field) in [
        (no_secret, "secret.password"),
        (no_kind, "credential.kind"),
        (bad_header, "credential.api_key_name"),
    ] {
        let status = ask!(client.create_credential(request, &editor)).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let violations = details(&status)
            .bad_request()
            .unwrap()
            .field_violations
            .clone();
        assert!(
            violations.iter().any(|v| v.field == field),
            "{field}: {violations:?}"
        );
    }
    let viewer = ask!(client.create_credential(basic("pw"), &tokens::viewer(account))).unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_learns_which_credentials_a_data_source_may_name() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let client_account = fixture.account().await;
    let original = create(
        &mut client,
        api_key("sk_live_123"),
        &tokens::editor(partner),
    )
    .await;
    let clients_own = create(&mut client, basic("pw"), &tokens::editor(client_account)).await;
    let instance = Uuid::new_v4();
    let copy = copy_for(
        &mut client,
        Import::new(partner, client_account, instance).copy("import-1/credential", &original.id),
        &tokens::service_as(Identity::Imports),
    )
    .await
    .unwrap();
    let named = |id: &str| Auth::CredentialId(id.to_owned());

    // An account's own credentials serve any of its data sources, new or saved.
    for data_source in [None, Some(Uuid::new_v4()), Some(instance)] {
        assert_eq!(
            holding(&mut client, partner, data_source, named(&original.id)).await,
            AuthHolding::Owned
        );
        assert_eq!(
            holding(
                &mut client,
                client_account,
                data_source,
                named(&clients_own.id)
            )
            .await,
            AuthHolding::Owned
        );
    }
    // The copy is borrowed by the one data source it was made for.
    assert_eq!(
        holding(&mut client, client_account, Some(instance), named(&copy.id)).await,
        AuthHolding::Borrowed
    );

    // Nothing else may name it: the copy asked for by another data source (or one not
    // created yet), the copy or the original asked for by another account, and a
    // credential that does not exist.
    let refused = [
        (client_account, Some(Uuid::new_v4()), named(&copy.id)),
        (client_account, None, named(&copy.id)),
        (partner, Some(instance), named(&copy.id)),
        (client_account, Some(instance), named(&original.id)),
        (client_account, None, named(&original.id)),
        (partner, None, named(&clients_own.id)),
        (
            client_account,
            Some(instance),
            named(&Uuid::new_v4().to_string()),
        ),
    ];
    for (account, data_source, auth) in refused {
        assert_eq!(
            holding(&mut client, account, data_source, auth.clone()).await,
            AuthHolding::Unspecified,
            "{account} {data_source:?} {auth:?}"
        );
    }
}
