//! The provider catalogue (`trellis-tokens catalogue`, run as a process on the test's
//! database); in `apps`, OAuth apps an account's admin registers for its family, and the
//! provider's token parameters kept with each token.

mod apps;

use std::collections::HashMap;

use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::{TestDatabase, tokens};
use trellis_tokens::domain::providers_catalogue::BUILT_IN;
use uuid::Uuid;

use crate::common::*;

const KEYS: [&str; 8] = [
    "google",
    "microsoft",
    "salesforce",
    "hubspot",
    "xero",
    "facebook",
    "shopify",
    "stripe",
];

/// `trellis-tokens catalogue` with `args` and `env` on `database`, as an operator runs it;
/// returns what it printed.
async fn run_catalogue(database: &TestDatabase, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trellis-tokens"));
    command
        .arg("catalogue")
        .args(args)
        .env("DATABASE_URL", &database.url)
        .env("TRELLIS_DEVELOPMENT", "true")
        .env(
            "TRELLIS_TOKENS_ENCRYPTION_KEYS",
            format!("k1:{},k2:{}", key(1), key(2)),
        )
        .env("TRELLIS_TOKENS_ACTIVE_KEY_ID", "k2")
        .env_remove("TRELLIS_CATALOGUE_FILE")
        .env_remove("TRELLIS_CATALOGUE_CLIENTS")
        .envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("trellis-tokens runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "catalogue failed: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

/// Every provider the caller sees, by catalogue key (custom ones under their id).
pub(super) async fn providers_by_key(
    client: &mut Client,
    bearer: &str,
) -> HashMap<String, Provider> {
    let listed = ask!(client.list_providers(
        ListProvidersRequest {
            page_size: 1000,
            page_token: String::new(),
        },
        bearer,
    ))
    .unwrap();
    assert!(listed.next_page_token.is_empty());
    listed
        .providers
        .into_iter()
        .map(|p| {
            let operators_entry = !p.catalogue_key.is_empty() && p.owner_account_id.is_empty();
            let key = if operators_entry {
                p.catalogue_key.clone()
            } else {
                p.id.clone()
            };
            (key, p)
        })
        .collect()
}

pub(super) fn period(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

#[tokio::test(flavor = "multi_thread")]
async fn loading_the_catalogue_twice_gives_the_same_providers() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let mut client = fixture.client.clone();
    let database = &fixture.database;

    let first = run_catalogue(database, &[], &[]).await;
    assert!(
        first.contains("8 created, 0 updated, 0 unchanged"),
        "{first}"
    );
    let account = fixture.account().await;
    // Any signed-in account lists them: they are every account's.
    let loaded = providers_by_key(&mut client, &tokens::viewer(account)).await;
    for key in KEYS {
        let provider = &loaded[key];
        assert!(provider.owner_account_id.is_empty(), "{key}");
        assert!(provider.client_id.is_empty(), "{key}: no OAuth app yet");
        assert!(!provider.has_client_secret, "{key}");
        assert!(provider.token_url.starts_with("https://"), "{key}");
    }
    let google = &loaded["google"];
    assert_eq!(google.max_tokens_per_user, 100, "T2: Google's cap");
    assert_eq!(google.authorization_parameters["access_type"], "offline");
    assert_eq!(google.authorization_parameters["prompt"], "consent");
    let per_profile = google.rate_limit_key_limit.as_ref().unwrap();
    assert_eq!(per_profile.max_concurrent, 10);
    assert_eq!(
        per_profile.additional_rates,
        vec![ApiRate {
            requests: 10_000,
            period: period(86_400),
        }]
    );
    let per_user = google.token_limit.as_ref().unwrap();
    assert_eq!(
        (per_user.requests_per_period, per_user.period),
        (100, period(100))
    );
    assert_eq!(loaded["salesforce"].max_tokens_per_user, 5);
    assert!(
        loaded["salesforce"]
            .token_parameters
            .contains(&"instance_url".to_owned())
    );
    assert_eq!(
        loaded["xero"].token_limit.as_ref().unwrap().max_concurrent,
        5
    );
    assert!(loaded["shopify"].authorization_url.contains("{shop}"));

    // Again: nothing changes, not even an etag.
    let second = run_catalogue(database, &[], &[]).await;
    assert!(
        second.contains("0 created, 0 updated, 8 unchanged"),
        "{second}"
    );
    let again = providers_by_key(&mut client, &tokens::service()).await;
    assert_eq!(again, loaded);

    // An entry changed in the file updates its provider; the operator's clients file gives
    // an app to a provider that has none.
    let dir = std::env::temp_dir().join(format!("trellis-catalogue-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let changed = BUILT_IN.replace(
        r#"scopes = ["openid", "email", "https://www.googleapis.com/auth/analytics.readonly"]"#,
        r#"scopes = ["openid", "email", "profile", "https://www.googleapis.com/auth/analytics.readonly"]"#,
    );
    assert_ne!(changed, BUILT_IN, "the test edits Google's scopes");
    let file = dir.join("providers.toml");
    std::fs::write(&file, changed).unwrap();
    let clients = dir.join("clients.toml");
    std::fs::write(
        &clients,
        "[google]\nclient_id = \"operator-google-app\"\nclient_secret = \"operator-google-secret\"\n",
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();
    let third = run_catalogue(
        database,
        &["--file", file_arg],
        &[("TRELLIS_CATALOGUE_CLIENTS", clients.to_str().unwrap())],
    )
    .await;
    assert!(
        third.contains("0 created, 1 updated, 7 unchanged"),
        "{third}"
    );
    let updated = providers_by_key(&mut client, &tokens::service()).await;
    let google = &updated["google"];
    assert!(google.scopes.contains(&"profile".to_owned()));
    assert_eq!(google.client_id, "operator-google-app");
    assert!(google.has_client_secret);
    assert_ne!(google.etag, loaded["google"].etag);
    for key in KEYS.into_iter().filter(|k| *k != "google") {
        assert_eq!(updated[key], loaded[key], "{key} is untouched");
    }

    // A client id once set is never replaced by the file's.
    std::fs::write(
        &clients,
        "[google]\nclient_id = \"another-app\"\nclient_secret = \"another-secret\"\n",
    )
    .unwrap();
    let fourth = run_catalogue(
        database,
        &["--file", file_arg, "--clients", clients.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(fourth.contains("8 unchanged"), "{fourth}");
    let kept = providers_by_key(&mut client, &tokens::service()).await;
    assert_eq!(kept["google"], updated["google"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
