//! A deployment signing with RSA keys (RS256) end to end: every service signs its own
//! tokens, and HS256 tokens mean nothing there.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tonic::Code;
use trellis_e2e::cluster::{Clients, Cluster};
use trellis_platform::auth::{Identity, TokenMinter};
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::data_api::DataApi;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::Signers;
use crate::calls::{Family, source, wait_for_total};

/// An RSA key pair in PEM files under `dir`, made with the `openssl` command.
fn rsa_key_pair(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let private = dir.join(format!("{name}.pem"));
    let run = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl command");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
        output.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        private.to_str().unwrap(),
    ]);
    let public = run(&["pkey", "-in", private.to_str().unwrap(), "-pubout"]);
    (private, String::from_utf8(public).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_rs256_deployment_imports_and_refreshes_end_to_end() {
    let keys = std::env::temp_dir().join(format!("trellis-rs256-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&keys).unwrap();
    // The users' identity provider has a key; the services share one of their own, and
    // every service accepts both.
    let (idp_private, idp_public) = rsa_key_pair(&keys, "idp");
    let (services_private, services_public) = rsa_key_pair(&keys, "services");
    let public_file = keys.join("public.pem");
    std::fs::write(&public_file, format!("{idp_public}{services_public}")).unwrap();

    let api = DataApi::start().await;
    api.set_json("/sales.json", json!([{"amount": 40}, {"amount": 2}]));
    let env = HashMap::from([
        (
            "TRELLIS_JWT_PUBLIC_KEY_FILE".to_owned(),
            public_file.display().to_string(),
        ),
        (
            "TRELLIS_JWT_PRIVATE_KEY_FILE".to_owned(),
            services_private.display().to_string(),
        ),
    ]);
    let cluster = Cluster::start(&env).await;
    let mut clients = Clients::of(&cluster);
    let operator = TokenMinter::rs256_pem(
        &std::fs::read(&services_private).unwrap(),
        Identity::Operator,
    )
    .unwrap()
    .service_token_for(&ServiceKind::ALL, Duration::from_secs(600));
    let signers = Signers {
        users: TokenMinter::rs256_pem(&std::fs::read(&idp_private).unwrap(), Identity::Operator)
            .unwrap(),
        operator,
    };

    // HS256 tokens mean nothing here.
    let refused = clients
        .library
        .list_accounts(authorized(
            library::ListAccountsRequest::default(),
            &tokens::service(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    let family = Family::create(&clients, &signers).await;
    let agency_in_client = &family.agency_in_client;
    // Refreshed every 15 minutes while someone is active: a login queues it (F1).
    let mut scheduled = source(family.partner, &api.url("/sales.json"), None);
    scheduled.refresh_interval = Some(prost_types::Duration {
        seconds: 900,
        nanos: 0,
    });
    // The import service calls the library and the token registry with its RS256 tokens.
    let (_, instance_klip) = family.import_master(&mut clients, scheduled).await;
    // The refresh service resolves through the library and the library reads the cache
    // from the refresh service, each with its own RS256 token.
    let activity = clients
        .refresh
        .record_activity(authorized(
            refresh::RecordActivityRequest {
                request_id: String::new(),
                kind: refresh::ActivityKind::Login as i32,
            },
            agency_in_client,
        ))
        .await
        .expect("RecordActivity")
        .into_inner();
    assert!(activity.queued_jobs >= 1, "{activity:?}");
    wait_for_total(
        &clients.library,
        agency_in_client,
        &instance_klip,
        42.0,
        "the instance to render its refreshed data",
    )
    .await;
    assert!(api.requests_for("/sales.json") >= 1);
    let _ = std::fs::remove_dir_all(&keys);
}
