//! Secrets at rest: nothing in the database is a secret in clear, and keys rotate.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::auth::Identity;
use trellis_proto::library::v1::AccountKind;
use trellis_proto::tokens::v1::*;
use trellis_testkit::oauth::OAuthServerConfig;
use trellis_testkit::{TestDatabase, tokens};
use trellis_tokens::Settings;
use uuid::Uuid;

use super::credentials::{api_key, basic};
use crate::common::*;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every row of every table of the database, as text.
async fn dump(conn: &mut AsyncPgConnection) -> String {
    let tables: Vec<Line> = diesel::sql_query(
        "SELECT table_name::text AS line FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .load(conn)
    .await
    .unwrap();
    assert!(tables.len() >= 8, "every table is dumped");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<Line> =
            diesel::sql_query(format!(r#"SELECT t::text AS line FROM "{}" t"#, table.line))
                .load(conn)
                .await
                .unwrap();
        for row in rows {
            text.push_str(&row.line);
            text.push('\n');
        }
    }
    text
}

/// `pg_dump` of the database, when the client is installed and matches the server.
fn pg_dump(database: &TestDatabase) -> Option<String> {
    let output = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", &database.url])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The forms a secret could take in a dump: as is, and as bytea hex or base64.
fn forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    vec![
        secret.to_owned(),
        hex,
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_of_the_token_database_holds_no_secret_in_clear() {
    let fixture = Fixture::start(OAuthServerConfig::default()).await;
    let provider = fixture.provider(0, 0).await;
    let mut client = fixture.client.clone();
    let account = fixture.account().await;
    let destination = fixture.account().await;
    let token = new_token(&mut client, account, &provider.id).await;
    let first = access_token(&mut client, &token.id, account, Uuid::new_v4(), 0)
        .await
        .unwrap();
    // A refresh stores a rotated refresh token and a new access token.
    let refreshed = access_token(
        &mut client,
        &token.id,
        account,
        Uuid::new_v4(),
        first.generation,
    )
    .await
    .unwrap();
    assert!(refreshed.refreshed);
    let refresh_tokens = fixture.oauth.live_refresh_tokens();
    assert_eq!(refresh_tokens.len(), 1);

    let password = "correct-horse-battery-staple";
    let key = "sk_live_51HqLyjWDarjtT1zdp7dc";
    let credential = ask!(client.create_credential(basic(password), &tokens::editor(account)))
        .unwrap()
        .credential
        .unwrap();
    ask!(client.create_credential(api_key(key), &tokens::editor(account))).unwrap();
    ask!(client.copy_credential(
        Import::new(account, destination, Uuid::new_v4()).copy("import/copy", &credential.id),
        &tokens::service_as(Identity::Imports),
    ))
    .unwrap();
    // A pending authorization too (its state must not be stored either).
    let pending = ask!(client.begin_authorization(
        BeginAuthorizationRequest {
            provider_id: provider.id.clone(),
            redirect_uri: REDIRECT_URI.into(),
            ..Default::default()
        },
        &tokens::admin(account),
    ))
    .unwrap();

    let mut secrets = vec![
        ("client secret", fixture.oauth.client_secret()),
        ("first access token", first.access_token.clone()),
        ("current access token", refreshed.access_token.clone()),
        ("refresh token", refresh_tokens[0].clone()),
        ("password", password.to_owned()),
        ("API key", key.to_owned()),
        ("authorization state", pending.state.clone()),
    ];
    secrets.extend(
        fixture
            .oauth
            .used_refresh_tokens()
            .into_iter()
            .map(|t| ("rotated refresh token", t)),
    );

    let mut conn = fixture.database.connect().await;
    let mut dumps = vec![("rows as text", dump(&mut conn).await)];
    if let Some(dumped) = pg_dump(&fixture.database) {
        dumps.push(("pg_dump", dumped));
    }
    for (how, text) in &dumps {
        assert!(text.contains(&token.id), "{how} holds the data");
        for (what, secret) in &secrets {
            for form in forms(secret) {
                assert!(
                    !text.contains(&form),
                    "the {what} appears in clear in the {how} dump"
                );
            }
        }
    }
    println!(
        "dumps checked: {:?}",
        dumps
            .iter()
            .map(|(how, t)| (how, t.len()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_without_losing_secrets() {
    let database = TestDatabase::new(&trellis_tokens::SCHEMA).await;
    // Every replica asks this library about memberships.
    let library = Library::start(NOWHERE).await;
    let account = library.account(AccountKind::Standard, None).await;
    let only_k1 = Settings {
        encryption_keys: Some(format!("k1:{}", key(1)).parse().unwrap()),
        active_key_id: None,
        ..Settings::default()
    };
    let old = replica(only_k1, &library.url()).serve(&database).await;
    let created =
        ask!(client(&old).create_credential(basic("before-rotation"), &tokens::editor(account)))
            .unwrap()
            .credential
            .unwrap();
    drop(old);

    let mut conn = database.connect().await;
    let key_of = |line: &str| line.to_owned();
    let key_id = async |conn: &mut AsyncPgConnection| -> String {
        let rows: Vec<Line> = diesel::sql_query(
            "SELECT convert_from(substring(secret from 3 for get_byte(secret, 1)), 'UTF8') AS line \
             FROM credentials",
        )
        .load(conn)
        .await
        .unwrap();
        key_of(&rows[0].line)
    };
    assert_eq!(key_id(&mut conn).await, "k1");

    // k2 is added and made active: the old value still opens; a write seals under k2.
    let rotated = replica(settings(), &library.url()).serve(&database).await;
    let mut rotated_client = client(&rotated);
    let read = ask!(rotated_client.get_credential_secret(
        GetCredentialSecretRequest {
            credential_id: created.id.clone(),
            data_source_id: Uuid::new_v4().to_string(),
            account_id: account.to_string(),
            ..Default::default()
        },
        &tokens::service_as(Identity::Refresh),
    ))
    .unwrap();
    assert_eq!(read.password, "before-rotation");
    ask!(rotated_client.update_credential(
        UpdateCredentialRequest {
            request_id: String::new(),
            credential: Some(Credential {
                id: created.id.clone(),
                display_name: "Zendesk (rotated)".into(),
                ..Default::default()
            }),
            update_mask: None,
            secret: Some(CredentialSecret {
                password: "after-rotation".into(),
                api_key: String::new(),
                ..Default::default()
            }),
        },
        &tokens::editor(account),
    ))
    .unwrap();
    assert_eq!(key_id(&mut conn).await, "k2");

    // Once every row is under k2, k1 can go.
    let only_k2 = Settings {
        encryption_keys: Some(format!("k2:{}", key(2)).parse().unwrap()),
        active_key_id: Some("k2".into()),
        ..Settings::default()
    };
    let new = replica(only_k2, &library.url()).serve(&database).await;
    let read = ask!(client(&new).get_credential_secret(
        GetCredentialSecretRequest {
            credential_id: created.id,
            data_source_id: Uuid::new_v4().to_string(),
            account_id: account.to_string(),
            ..Default::default()
        },
        &tokens::service_as(Identity::Refresh),
    ))
    .unwrap();
    assert_eq!(read.password, "after-rotation");
}
