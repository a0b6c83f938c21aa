//! Saved credentials (I5): a copy made for an imported data source serves it alone.

use tonic::Code;
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
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_credential_is_refused_to_every_other_data_source() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = Uuid::new_v4();
    let client_account = Uuid::new_v4();
    let service = tokens::service();

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
            CopyCredentialRequest {
                request_id: "import-7/credential".into(),
                credential_id: original.id.clone(),
                destination_account_id: client_account.to_string(),
                data_source_id: instance.to_string(),
            },
            &service,
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
    // Only services read secrets at all.
    let by_admin = client
        .get_credential_secret(call(
            secret_request(&copy.id, client_account, instance),
            &tokens::admin(client_account),
        ))
        .await
        .unwrap_err();
    assert_eq!(by_admin.code(), Code::PermissionDenied);

    // The client lists the copy among its credentials (without any secret); copying again
    // returns the same copy.
    let listed = client
        .list_credentials(call(
            ListCredentialsRequest::default(),
            &tokens::viewer(client_account),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.credentials.len(), 1);
    let again = client
        .copy_credential(call(
            CopyCredentialRequest {
                request_id: "import-7/credential-retry".into(),
                credential_id: original.id.clone(),
                destination_account_id: client_account.to_string(),
                data_source_id: instance.to_string(),
            },
            &service,
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
    let account = Uuid::new_v4();
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
            GetCredentialSecretRequest {
                credential_id: key.id.clone(),
                data_source_id: Uuid::new_v4().to_string(),
                account_id: account.to_string(),
            },
            &tokens::service(),
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
