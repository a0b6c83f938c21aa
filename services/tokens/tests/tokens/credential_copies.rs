//! Credential copies (I5, I15): an import's copy serves its one data source alone, and only
//! a credential of the import's source account is copied.

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::*;
use crate::credentials::{basic, copy_for, create, credentials_of, secret_request};

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_credential_is_refused_to_every_other_data_source() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let client_account = fixture.account().await;
    let service = tokens::service_as(Identity::Refresh);
    let imports = tokens::service_as(Identity::Imports);

    let original = create(
        &mut client,
        basic("s3cret-password"),
        &tokens::editor(partner),
    )
    .await;
    assert!(original.scoped_data_source_id.is_empty());

    // Any data source of the partner may use the original.
    for _ in 0..3 {
        let secret = ask!(client.get_credential_secret(
            secret_request(&original.id, partner, Uuid::new_v4()),
            &service,
        ))
        .unwrap();
        assert_eq!(secret.password, "s3cret-password");
        assert_eq!(secret.username, "agency@example.test");
    }

    // An import copies it for one data source of the client.
    let instance = Uuid::new_v4();
    let copy = copy_for(
        &mut client,
        Import::new(partner, client_account, instance).copy("import-7/credential", &original.id),
        &imports,
    )
    .await
    .unwrap();
    assert_ne!(copy.id, original.id);
    assert_eq!(copy.account_id, client_account.to_string());
    assert_eq!(copy.scoped_data_source_id, instance.to_string());
    assert_eq!(copy.source_credential_id, original.id);

    let secret = ask!(
        client.get_credential_secret(secret_request(&copy.id, client_account, instance), &service)
    )
    .unwrap();
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
        let refused = ask!(
            client.get_credential_secret(secret_request(&copy.id, account, data_source), &service)
        )
        .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{account} {data_source}"
        );
        assert!(!refused.message().contains("s3cret"));
    }
    secrets_for_the_refresh_service_alone(&mut client, &copy, (client_account, instance), &imports)
        .await;

    // The client lists the copy among its credentials (without any secret); copying again
    // returns the same copy.
    assert_eq!(credentials_of(&mut client, client_account).await.len(), 1);
    let again = copy_for(
        &mut client,
        Import::new(partner, client_account, instance)
            .copy("import-7/credential-retry", &original.id),
        &imports,
    )
    .await
    .unwrap();
    assert_eq!(again.id, copy.id);
}

/// Only the refresh service reads secrets: not a member, not an operator, not the import
/// service.
async fn secrets_for_the_refresh_service_alone(
    client: &mut Client,
    copy: &Credential,
    (client_account, instance): (Uuid, Uuid),
    imports: &str,
) {
    // Only the refresh service reads secrets: not a member, not an operator, not the
    // import service.
    for bearer in [
        tokens::admin(client_account),
        tokens::service(),
        imports.to_owned(),
    ] {
        let refused = ask!(client.get_credential_secret(
                secret_request(&copy.id, client_account, instance),
                &bearer,
            ))
        .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert!(!refused.message().contains("s3cret"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_credential_of_the_imports_source_account_is_copied() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let partner = fixture.account().await;
    let sibling = fixture.account().await;
    let client_account = fixture.account().await;
    let imports = tokens::service_as(Identity::Imports);
    let original = create(
        &mut client,
        basic("s3cret-password"),
        &tokens::editor(partner),
    )
    .await;
    let instance = Uuid::new_v4();

    // An import from another account (a sibling, or the destination itself) cannot copy the
    // partner's credential: to it the credential does not exist (I15).
    for source in [sibling, client_account] {
        let refused = ask!(
            client.copy_credential(
                Import::new(source, client_account, instance)
                    .copy(&format!("import-{source}/credential"), &original.id),
                &imports,
            )
        )
        .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{source}: {refused:?}");
    }
    assert!(credentials_of(&mut client, client_account).await.is_empty());
    let no_secret = ask!(client.get_credential_secret(
        secret_request(&original.id, client_account, instance),
        &tokens::service_as(Identity::Refresh),
    ))
    .unwrap_err();
    assert_eq!(no_secret.code(), Code::PermissionDenied);

    // From its own account it is copied; the copy is never copied again, not even by an
    // import from the account holding it, to another data source or another account.
    let copy = copy_for(
        &mut client,
        Import::new(partner, client_account, instance).copy("import-1/credential", &original.id),
        &imports,
    )
    .await
    .unwrap();
    a_copy_stays_its_masters(
        &mut client,
        &copy,
        [partner, sibling, client_account],
        &imports,
    )
    .await;

    // Only the import service copies: not a member, not an operator.
    for bearer in [tokens::admin(partner), tokens::service()] {
        let refused = ask!(
            client.copy_credential(
                Import::new(partner, client_account, Uuid::new_v4())
                    .copy("import-2/credential", &original.id),
                &bearer,
            )
        )
        .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    assert_eq!(credentials_of(&mut client, client_account).await.len(), 1);
}

/// The copy's holder renames it, but cannot change how or where its secret is sent; the copy
/// is never copied again.
async fn a_copy_stays_its_masters(
    client: &mut Client,
    copy: &Credential,
    [partner, sibling, client_account]: [Uuid; 3],
    imports: &str,
) {
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
        let refused =
            ask!(client.update_credential(request, &tokens::admin(client_account))).unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    let renamed = ask!(client.update_credential(
        update(&["display_name"], "", None),
        &tokens::admin(client_account),
    ))
    .expect("a copy can be renamed")
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
        let refused = ask!(
            client.copy_credential(
                Import::new(source, destination, data_source)
                    .copy(&format!("copy-of-copy-{data_source}"), &copy.id),
                &imports,
            )
        )
        .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::NotFound,
            "{source} -> {destination}: {refused:?}"
        );
    }
    assert_eq!(credentials_of(client, client_account).await.len(), 1);
    assert!(credentials_of(client, sibling).await.is_empty());
    assert_eq!(credentials_of(client, partner).await.len(), 1);
}
