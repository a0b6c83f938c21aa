//! Saved credentials (I5): a copy made for an imported data source serves it alone.

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::check_data_source_auth_request::Auth;
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
        }),
    }
}

fn secret_request(id: &str, account: Uuid, data_source: Uuid) -> GetCredentialSecretRequest {
    GetCredentialSecretRequest {
        credential_id: id.to_owned(),
        data_source_id: data_source.to_string(),
        account_id: account.to_string(),
        ..Default::default()
    }
}

/// CopyCredential as an import from `source` into `destination` calls it.
pub fn copy_request(
    request_id: &str,
    credential_id: &str,
    source: Uuid,
    destination: Uuid,
    data_source: Uuid,
) -> CopyCredentialRequest {
    CopyCredentialRequest {
        request_id: request_id.to_owned(),
        credential_id: credential_id.to_owned(),
        destination_account_id: destination.to_string(),
        data_source_id: data_source.to_string(),
        source_account_id: source.to_string(),
        ..Default::default()
    }
}

/// The credentials `account` lists.
async fn credentials_of(
    client: &mut token_service_client::TokenServiceClient<trellis_platform::client::TracedChannel>,
    account: Uuid,
) -> Vec<Credential> {
    client
        .list_credentials(call(
            ListCredentialsRequest::default(),
            &tokens::viewer(account),
        ))
        .await
        .unwrap()
        .into_inner()
        .credentials
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_credential_is_refused_to_every_other_data_source() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let client_account = fixture.account().await;
    let service = tokens::service_as(Identity::Refresh);
    let imports = tokens::service_as(Identity::Imports);

    let original = client
        .create_credential(call(basic("s3cret-password"), &tokens::editor(partner)))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    assert!(original.scoped_data_source_id.is_empty());

    // Any data source of the partner may use the original.
    for _ in 0..3 {
        let secret = client
            .get_credential_secret(call(
                secret_request(&original.id, partner, Uuid::new_v4()),
                &service,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(secret.password, "s3cret-password");
        assert_eq!(secret.username, "agency@example.test");
    }

    // An import copies it for one data source of the client.
    let instance = Uuid::new_v4();
    let copy = client
        .copy_credential(call(
            copy_request(
                "import-7/credential",
                &original.id,
                partner,
                client_account,
                instance,
            ),
            &imports,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    assert_ne!(copy.id, original.id);
    assert_eq!(copy.account_id, client_account.to_string());
    assert_eq!(copy.scoped_data_source_id, instance.to_string());
    assert_eq!(copy.source_credential_id, original.id);

    let secret = client
        .get_credential_secret(call(
            secret_request(&copy.id, client_account, instance),
            &service,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(secret.password, "s3cret-password");

    // Every other data source, in the client or anywhere else, is refused.
    let others = [
        (client_account, Uuid::new_v4()),
        (client_account, Uuid::new_v4()),
        (partner, Uuid::new_v4()),
        (partner, instance),
        (Uuid::new_v4(), instance),
    ];
    for (account, data_source) in others {
        let refused = client
            .get_credential_secret(call(
                secret_request(&copy.id, account, data_source),
                &service,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{account} {data_source}"
        );
        assert!(!refused.message().contains("s3cret"));
    }
    // Only the refresh service reads secrets: not a member, not an operator, not the
    // import service.
    for bearer in [
        tokens::admin(client_account),
        tokens::service(),
        imports.clone(),
    ] {
        let refused = client
            .get_credential_secret(call(
                secret_request(&copy.id, client_account, instance),
                &bearer,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert!(!refused.message().contains("s3cret"));
    }

    // The client lists the copy among its credentials (without any secret); copying again
    // returns the same copy.
    assert_eq!(credentials_of(&mut client, client_account).await.len(), 1);
    let again = client
        .copy_credential(call(
            copy_request(
                "import-7/credential-retry",
                &original.id,
                partner,
                client_account,
                instance,
            ),
            &imports,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    assert_eq!(again.id, copy.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_checked_updated_and_deleted() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let editor = tokens::editor(account);

    let key = client
        .create_credential(call(api_key("sk_live_123"), &editor))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    assert_eq!(key.kind, CredentialKind::ApiKey as i32);

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
        let status = client
            .create_credential(call(request, &editor))
            .await
            .unwrap_err();
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
    let viewer = client
        .create_credential(call(basic("pw"), &tokens::viewer(account)))
        .await
        .unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);

    // Update the key name and the secret together.
    let updated = client
        .update_credential(call(
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
                }),
            },
            &editor,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    assert_eq!(updated.api_key_name, "Authorization-Key");
    let secret = client
        .get_credential_secret(call(
            secret_request(&key.id, account, Uuid::new_v4()),
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(secret.api_key, "sk_live_456");
    assert_eq!(secret.api_key_placement, ApiKeyPlacement::Header as i32);

    // Stale etags abort; deletion with the current one works.
    let stale = client
        .delete_credential(call(
            DeleteCredentialRequest {
                id: key.id.clone(),
                etag: key.etag.clone(),
                ..Default::default()
            },
            &editor,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    client
        .delete_credential(call(
            DeleteCredentialRequest {
                id: key.id.clone(),
                etag: updated.etag,
                ..Default::default()
            },
            &editor,
        ))
        .await
        .unwrap();
    let gone = client
        .get_credential(call(
            GetCredentialRequest {
                id: key.id,
                account_id: String::new(),
            },
            &editor,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_credential_of_the_imports_source_account_is_copied() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let sibling = fixture.account().await;
    let client_account = fixture.account().await;
    let imports = tokens::service_as(Identity::Imports);
    let original = client
        .create_credential(call(basic("s3cret-password"), &tokens::editor(partner)))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    let instance = Uuid::new_v4();

    // An import from another account (a sibling, or the destination itself) cannot copy the
    // partner's credential: to it the credential does not exist (I15).
    for source in [sibling, client_account] {
        let refused = client
            .copy_credential(call(
                copy_request(
                    &format!("import-{source}/credential"),
                    &original.id,
                    source,
                    client_account,
                    instance,
                ),
                &imports,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{source}: {refused:?}");
    }
    assert!(credentials_of(&mut client, client_account).await.is_empty());
    let no_secret = client
        .get_credential_secret(call(
            secret_request(&original.id, client_account, instance),
            &tokens::service_as(Identity::Refresh),
        ))
        .await
        .unwrap_err();
    assert_eq!(no_secret.code(), Code::PermissionDenied);

    // From its own account it is copied; the copy is never copied again, not even by an
    // import from the account holding it, to another data source or another account.
    let copy = client
        .copy_credential(call(
            copy_request(
                "import-1/credential",
                &original.id,
                partner,
                client_account,
                instance,
            ),
            &imports,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    // The copy's holder renames it, but cannot change how or where its secret is sent.
    let update = |paths: &[&str], username: &str, secret: Option<CredentialSecret>| {
        UpdateCredentialRequest {
            request_id: String::new(),
            credential: Some(Credential {
                id: copy.id.clone(),
                account_id: client_account.to_string(),
                display_name: "Renamed copy".into(),
                username: username.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            secret,
        }
    };
    let new_password = Some(CredentialSecret {
        password: "the-clients-own".into(),
        ..Default::default()
    });
    for request in [
        update(&["username"], "someone-else", None),
        update(&["display_name"], "", new_password.clone()),
    ] {
        let refused = client
            .update_credential(call(request, &tokens::admin(client_account)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    let renamed = client
        .update_credential(call(
            update(&["display_name"], "", None),
            &tokens::admin(client_account),
        ))
        .await
        .expect("a copy can be renamed")
        .into_inner()
        .credential
        .unwrap();
    assert_eq!(renamed.display_name, "Renamed copy");
    assert_eq!(renamed.username, copy.username, "the login is the master's");
    let copies_of_copy = [
        (client_account, sibling, Uuid::new_v4()),
        (client_account, partner, Uuid::new_v4()),
        (client_account, client_account, Uuid::new_v4()),
        (partner, sibling, Uuid::new_v4()),
    ];
    for (source, destination, data_source) in copies_of_copy {
        let refused = client
            .copy_credential(call(
                copy_request(
                    &format!("copy-of-copy-{data_source}"),
                    &copy.id,
                    source,
                    destination,
                    data_source,
                ),
                &imports,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::NotFound,
            "{source} -> {destination}: {refused:?}"
        );
    }
    assert_eq!(credentials_of(&mut client, client_account).await.len(), 1);
    assert!(credentials_of(&mut client, sibling).await.is_empty());
    assert_eq!(credentials_of(&mut client, partner).await.len(), 1);

    // Only the import service copies: not a member, not an operator.
    for bearer in [tokens::admin(partner), tokens::service()] {
        let refused = client
            .copy_credential(call(
                copy_request(
                    "import-2/credential",
                    &original.id,
                    partner,
                    client_account,
                    Uuid::new_v4(),
                ),
                &bearer,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    assert_eq!(credentials_of(&mut client, client_account).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_learns_which_credentials_a_data_source_may_name() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let client_account = fixture.account().await;
    let original = client
        .create_credential(call(api_key("sk_live_123"), &tokens::editor(partner)))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    let clients_own = client
        .create_credential(call(basic("pw"), &tokens::editor(client_account)))
        .await
        .unwrap()
        .into_inner()
        .credential
        .unwrap();
    let instance = Uuid::new_v4();
    let copy = client
        .copy_credential(call(
            copy_request(
                "import-1/credential",
                &original.id,
                partner,
                client_account,
                instance,
            ),
            &tokens::service_as(Identity::Imports),
        ))
        .await
        .unwrap()
        .into_inner()
        .credential
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
