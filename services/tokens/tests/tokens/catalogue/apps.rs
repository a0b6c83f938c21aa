//! OAuth apps an account's admin registers for its family from a catalogue entry, used by
//! its clients through the code flow against the loopback provider, with the provider's
//! token parameters; invisible to every other family.

use std::collections::HashMap;

use tonic::Code;
use trellis_platform::auth::Identity;
use trellis_proto::library::v1::AccountKind;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};
use trellis_testkit::tokens;
use trellis_tokens::domain::providers_catalogue::BUILT_IN;
use uuid::Uuid;

use super::{period, providers_by_key};
use crate::common::*;

/// A partner and its client, another family, and the built-in catalogue loaded.
struct Families {
    fixture: Fixture,
    client: Client,
    partner: Uuid,
    client_account: Uuid,
    stranger: Uuid,
}

impl Families {
    async fn start() -> Self {
        let fixture = Fixture::start(OAuthServerConfig::default()).await;
        let keyring = settings().keyring().unwrap();
        trellis_tokens::providers_catalogue::load(
            &fixture.database.pool(),
            &keyring,
            BUILT_IN,
            None,
        )
        .await
        .unwrap();
        let partner = fixture.library.account(AccountKind::Partner, None).await;
        let client_account = fixture
            .library
            .account(AccountKind::Client, Some(partner))
            .await;
        let stranger = fixture.library.account(AccountKind::Partner, None).await;
        let client = fixture.client.clone();
        Self {
            fixture,
            client,
            partner,
            client_account,
            stranger,
        }
    }
}

/// An app for catalogue entry `key` owned by `owner`, with the test server's client.
fn app_for(key: &str, owner: Uuid, oauth: &OAuthServer) -> CreateProviderRequest {
    CreateProviderRequest {
        request_id: String::new(),
        provider: Some(Provider {
            catalogue_key: key.to_owned(),
            owner_account_id: owner.to_string(),
            client_id: oauth.client_id(),
            client_secret: oauth.client_secret(),
            ..Default::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partners_app_for_a_catalogue_provider_serves_its_clients_with_token_parameters() {
    let Families {
        fixture,
        mut client,
        partner,
        client_account,
        ..
    } = Families::start().await;
    let oauth = &fixture.oauth;

    // The partner's admin registers its own Google app: the catalogue fills the rest.
    let app =
        ask!(client.create_provider(app_for("google", partner, oauth), &tokens::admin(partner)))
            .unwrap()
            .provider
            .unwrap();
    assert_eq!(app.owner_account_id, partner.to_string());
    assert_eq!(app.name, "Google Analytics");
    assert_eq!(
        app.authorization_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(app.max_tokens_per_user, 100);
    assert_eq!(app.authorization_parameters["prompt"], "consent");
    assert_eq!(
        app.rate_limit_key_limit.as_ref().unwrap().max_concurrent,
        10
    );
    assert!(app.has_client_secret);

    // Its owner points it at the loopback provider, which answers an `instance_url`.
    let pointed = ask!(client.update_provider(
        UpdateProviderRequest {
            request_id: String::new(),
            provider: Some(Provider {
                id: app.id.clone(),
                etag: app.etag.clone(),
                authorization_url: oauth.authorization_url(),
                token_url: oauth.token_url(),
                revocation_url: oauth.revocation_url(),
                userinfo_url: oauth.userinfo_url(),
                token_parameters: vec!["instance_url".into(), "absent".into()],
                ..Default::default()
            }),
            update_mask: None,
        },
        &tokens::admin(partner),
    ))
    .unwrap()
    .provider
    .unwrap();
    assert_eq!(
        pointed.max_tokens_per_user, 100,
        "the catalogue's cap stays"
    );
    oauth.set_extra_token_fields(serde_json::json!({
        "instance_url": "https://eu1.example.test",
        "unnamed": "not kept",
    }));

    // A client of the partner completes the code flow with its partner's app.
    let listed = providers_by_key(&mut client, &tokens::viewer(client_account)).await;
    assert!(
        listed.contains_key(&app.id),
        "the client sees its partner's app"
    );
    let token = new_token(&mut client, client_account, &app.id).await;
    assert_eq!(token.provider_id, app.id);
    assert_eq!(
        token.parameters,
        HashMap::from([(
            "instance_url".to_owned(),
            "https://eu1.example.test".to_owned()
        )])
    );
    let seen = ask!(client.get_provider(
        GetProviderRequest {
            id: token.provider_id.clone()
        },
        &tokens::viewer(client_account),
    ))
    .unwrap()
    .provider
    .unwrap();
    assert_eq!(
        seen.max_tokens_per_user, 100,
        "T2 counts against the catalogue's cap"
    );

    // GetAccessToken hands the parameters to the refresh service, and a refresh renews them.
    let data_source = Uuid::new_v4();
    let access = access_token(&mut client, &token.id, client_account, data_source, 0)
        .await
        .unwrap();
    assert_eq!(
        access.parameters["instance_url"],
        "https://eu1.example.test"
    );
    oauth.set_extra_token_fields(serde_json::json!({"instance_url": "https://eu2.example.test"}));
    let refreshed = access_token(
        &mut client,
        &token.id,
        client_account,
        data_source,
        access.generation,
    )
    .await
    .unwrap();
    assert!(refreshed.refreshed);
    assert_eq!(
        refreshed.parameters["instance_url"],
        "https://eu2.example.test"
    );
    let stored = get_token(&mut client, client_account, &token.id).await;
    assert_eq!(
        stored.parameters["instance_url"],
        "https://eu2.example.test"
    );

    // The refresh service reads the catalogue's limits, per-day rate included.
    let limits = ask!(client.get_token_limits(
        GetTokenLimitsRequest {
            token_id: token.id.clone(),
            rate_limit_key: "ga:12345678".into(),
        },
        &tokens::service_as(Identity::Refresh),
    ))
    .unwrap();
    assert_eq!(
        limits.rate_limit_key_limit.unwrap().additional_rates,
        vec![ApiRate {
            requests: 10_000,
            period: period(86_400)
        }]
    );

    // The client sees the app but does not manage it.
    let refused = ask!(client.update_provider(
        UpdateProviderRequest {
            provider: Some(Provider {
                id: app.id.clone(),
                name: "Renamed".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &tokens::admin(client_account),
    ))
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_familys_app_is_invisible_to_others_and_registered_by_its_admins_only() {
    let Families {
        fixture,
        mut client,
        partner,
        client_account,
        stranger,
    } = Families::start().await;
    let oauth = &fixture.oauth;
    let app =
        ask!(client.create_provider(app_for("google", partner, oauth), &tokens::admin(partner)))
            .unwrap()
            .provider
            .unwrap();

    // Another family's admin: as if it did not exist.
    let outsider = tokens::admin(stranger);
    let got = ask!(client.get_provider(GetProviderRequest { id: app.id.clone() }, &outsider));
    assert_eq!(got.unwrap_err().code(), Code::NotFound);
    let listed = providers_by_key(&mut client, &outsider).await;
    assert!(!listed.contains_key(&app.id));
    assert!(
        listed.contains_key("google"),
        "the operators' providers stay every account's"
    );
    let begun = ask!(client.begin_authorization(
        BeginAuthorizationRequest {
            provider_id: app.id.clone(),
            redirect_uri: REDIRECT_URI.into(),
            ..Default::default()
        },
        &outsider,
    ));
    assert_eq!(begun.unwrap_err().code(), Code::NotFound);
    let renamed = ask!(client.update_provider(
        UpdateProviderRequest {
            provider: Some(Provider {
                id: app.id.clone(),
                name: "Mine now".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &outsider,
    ));
    assert_eq!(renamed.unwrap_err().code(), Code::NotFound);
    let deleted = ask!(client.delete_provider(
        DeleteProviderRequest {
            id: app.id.clone(),
            ..Default::default()
        },
        &outsider,
    ));
    assert_eq!(deleted.unwrap_err().code(), Code::NotFound);

    // Only an admin registers an app, for the account it is signed into, never for all.
    for (who, bearer, owner) in [
        ("a viewer", tokens::viewer(partner), partner),
        ("an editor", tokens::editor(partner), partner),
        (
            "a client's admin, for its partner",
            tokens::admin(client_account),
            partner,
        ),
        (
            "an admin, for another family",
            tokens::admin(partner),
            stranger,
        ),
    ] {
        let refused = ask!(client.create_provider(app_for("google", owner, oauth), &bearer));
        assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied, "{who}");
    }
    let mut global = app_for("google", partner, oauth);
    global.provider.as_mut().unwrap().owner_account_id.clear();
    let refused = ask!(client.create_provider(global, &tokens::admin(partner)));
    assert_eq!(
        refused.unwrap_err().code(),
        Code::PermissionDenied,
        "for every account"
    );

    // Shopify's URLs are per shop: an app for it gives its own.
    let shop =
        ask!(client.create_provider(app_for("shopify", stranger, oauth), &outsider)).unwrap_err();
    assert_eq!(shop.code(), Code::InvalidArgument);
    let fields: Vec<String> = details(&shop)
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert!(
        fields.contains(&"provider.authorization_url".to_owned()),
        "{fields:?}"
    );

    // A catalogue provider without an OAuth app is listed but cannot be authorized with.
    let catalogue_google =
        providers_by_key(&mut client, &tokens::viewer(client_account)).await["google"].clone();
    let refused = ask!(client.begin_authorization(
        BeginAuthorizationRequest {
            provider_id: catalogue_google.id,
            redirect_uri: REDIRECT_URI.into(),
            ..Default::default()
        },
        &tokens::editor(client_account),
    ))
    .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("no OAuth app is registered"),
        "{}",
        refused.message()
    );
    assert!(refused.message().contains("admin"), "{}", refused.message());

    // Its owner's admin removes the app.
    ask!(client.delete_provider(
        DeleteProviderRequest {
            id: app.id.clone(),
            ..Default::default()
        },
        &tokens::admin(partner),
    ))
    .unwrap();
}
