//! Updates of a credential's flow and limit under the mask, and copies that keep them.

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use super::{limit, login, login_flow, seconds, signed, violations};
use crate::common::*;
use crate::credentials::{copy_for, create, secret_request};

fn update(id: &str, credential: Credential, paths: &[&str]) -> UpdateCredentialRequest {
    UpdateCredentialRequest {
        request_id: String::new(),
        credential: Some(Credential {
            id: id.to_owned(),
            ..credential
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        secret: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_and_limits_are_updated_and_copies_keep_them_under_one_limit_key() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let client_account = fixture.account().await;
    let editor = tokens::editor(partner);
    let refresh = tokens::service_as(Identity::Refresh);
    let imports = tokens::service_as(Identity::Imports);
    let original = create(&mut client, signed("sign-s3cret-key-0001"), &editor).await;

    // A copy keeps the scheme, the secret and the limit, and counts under the original.
    let instance = Uuid::new_v4();
    let import = Import::new(partner, client_account, instance);
    let copy = copy_for(
        &mut client,
        import.copy("import-1/c", &original.id),
        &imports,
    )
    .await
    .unwrap();
    assert_eq!(copy.signing, original.signing);
    assert_eq!(copy.limit, original.limit);
    let answer = ask!(
        client.get_credential_secret(secret_request(&copy.id, client_account, instance), &refresh)
    )
    .unwrap();
    assert_eq!(answer.signing_key, "sign-s3cret-key-0001");
    assert_eq!(answer.signing, original.signing);
    assert_eq!(answer.limit, Some(limit()));
    assert_eq!(answer.limit_key, original.id);

    // The copy's holder may not change its scheme or limit.
    let refused = ask!(client.update_credential(
        update(
            &copy.id,
            Credential {
                limit: None,
                ..Default::default()
            },
            &["limit"]
        ),
        &tokens::editor(client_account),
    ))
    .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // The original's scheme, secret and limit change under the mask.
    let scheme = SigningScheme {
        algorithm: SigningAlgorithm::HmacSha256 as i32,
        string_to_sign: "{method}{path}{body}".into(),
        encoding: SignatureEncoding::Hex as i32,
        signature_parameter: "signature".into(),
        timestamp_format: TimestampFormat::EpochSeconds as i32,
        ..Default::default()
    };
    let daily = ApiLimit {
        requests_per_period: 1000,
        period: seconds(86_400),
        ..Default::default()
    };
    let mut change = update(
        &original.id,
        Credential {
            signing: Some(scheme.clone()),
            limit: Some(daily.clone()),
            ..Default::default()
        },
        &["signing", "limit"],
    );
    change.secret = Some(CredentialSecret {
        signing_key: "sign-s3cret-key-0002".into(),
        ..Default::default()
    });
    let updated = ask!(client.update_credential(change, &editor))
        .unwrap()
        .credential
        .unwrap();
    assert_eq!(updated.signing, Some(scheme.clone()));
    assert_eq!(updated.limit, Some(daily.clone()));
    assert_ne!(updated.etag, original.etag);

    // A re-import brings the copy up to date.
    copy_for(
        &mut client,
        import.copy("import-2/c", &original.id),
        &imports,
    )
    .await
    .unwrap();
    let answer = ask!(
        client.get_credential_secret(secret_request(&copy.id, client_account, instance), &refresh)
    )
    .unwrap();
    assert_eq!(answer.signing_key, "sign-s3cret-key-0002");
    assert_eq!(answer.signing, Some(scheme));
    assert_eq!(answer.limit, Some(daily));
    assert_eq!(answer.limit_key, original.id);

    // A masked limit left unset removes it; a flow of another kind, or none, is refused.
    let cleared = ask!(client.update_credential(
        update(&original.id, Credential::default(), &["limit"]),
        &editor
    ))
    .unwrap()
    .credential
    .unwrap();
    assert_eq!(cleared.limit, None);
    let answer = ask!(client.get_credential_secret(
        secret_request(&original.id, partner, Uuid::new_v4()),
        &refresh
    ))
    .unwrap();
    assert_eq!(answer.limit, None);
    for (credential, path, field) in [
        (
            Credential {
                login: Some(login_flow()),
                ..Default::default()
            },
            "login",
            "credential.login",
        ),
        (Credential::default(), "signing", "credential.signing"),
    ] {
        let refused =
            ask!(client.update_credential(update(&original.id, credential, &[path]), &editor))
                .unwrap_err();
        assert!(
            violations(&refused).iter().any(|(f, _)| f == field),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_flow_is_replaced_whole() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let editor = tokens::editor(account);
    let created = create(&mut client, login("first-pa55word"), &editor).await;
    let flow = LoginFlow {
        url: "http://127.0.0.1:9/session".into(),
        body: "user={username}&pass={password}".into(),
        content_type: "application/x-www-form-urlencoded".into(),
        ..Default::default()
    };
    let mut change = update(
        &created.id,
        Credential {
            username: "ops@example.test".into(),
            login: Some(flow.clone()),
            etag: created.etag.clone(),
            ..Default::default()
        },
        &["username", "login"],
    );
    change.secret = Some(CredentialSecret {
        password: "second-pa55word".into(),
        ..Default::default()
    });
    let updated = ask!(client.update_credential(change, &editor))
        .unwrap()
        .credential
        .unwrap();
    assert_eq!(updated.login, Some(flow.clone()));
    assert_eq!(updated.limit, Some(limit()), "the limit is not in the mask");
    let answer = ask!(client.get_credential_secret(
        secret_request(&created.id, account, Uuid::new_v4()),
        &tokens::service_as(Identity::Refresh),
    ))
    .unwrap();
    assert_eq!(answer.password, "second-pa55word");
    assert_eq!(answer.username, "ops@example.test");
    assert_eq!(answer.login, Some(flow));
}
