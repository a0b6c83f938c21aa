//! A crash mid-saga (DESIGN.md section 2): the import service runs as its own process and is
//! aborted right after a step (the test-only TRELLIS_IMPORTS_FAIL_AFTER_STEP); started again,
//! it finishes the import by itself, and the retried request returns that import. Exactly one
//! copy exists, with one credential copy.

use std::collections::HashMap;
use std::path::PathBuf;

use trellis_platform::client;
use trellis_proto::imports::v1 as imp;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_proto::tokens::v1 as tok;
use trellis_testkit::process::ServiceProcess;
use trellis_testkit::{TestDatabase, eventually};
use uuid::Uuid;

use crate::common::*;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trellis-imports"))
}

async fn start(
    database: &TestDatabase,
    peers: &Peers,
    fail_after: Option<&str>,
) -> (ServiceProcess, Imports) {
    let mut env = HashMap::from([
        (
            "TRELLIS_LIBRARY_URL".to_owned(),
            peers.library_service.server.url(),
        ),
        (
            "TRELLIS_TOKENS_URL".to_owned(),
            peers.tokens_service.url.clone(),
        ),
    ]);
    if let Some(step) = fail_after {
        env.insert("TRELLIS_IMPORTS_FAIL_AFTER_STEP".into(), step.into());
    }
    let process = ServiceProcess::start(binary(), &database.url, &env).await;
    let imports = ImportServiceClient::new(client::channel(&process.url()).unwrap());
    (process, imports)
}

async fn imports_into(imports: &Imports, account: Uuid) -> Vec<imp::Import> {
    imports
        .clone()
        .list_imports(call(imp::ListImportsRequest::default(), &admin(account)))
        .await
        .map(|r| r.into_inner().imports)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_cut_short_by_a_crash_is_finished_once_after_a_restart() {
    let peers = Peers::start().await;
    let database = TestDatabase::new(&trellis_imports::SCHEMA).await;
    let family = family(&peers.library_channel).await;
    let third = account(
        &peers.library_channel,
        trellis_proto::library::v1::AccountKind::Client,
        Some(family.partner),
    )
    .await;
    let saved = credential(&peers.tokens, family.partner, "pw").await;
    let source = data_source(
        &peers.library,
        family.partner,
        "Tickets",
        "https://api.example.test/t",
        credential_auth(&saved.id),
    )
    .await;
    let master = klip(
        &peers.library,
        family.partner,
        "Tickets",
        &["COUNT(@0.id)"],
        &[&source.id],
    )
    .await;
    let board = dashboard(&peers.library, family.partner, "Support", &[&master.id]).await;

    // After the library cloned but before the answer was recorded; after it was recorded;
    // after grants and credential copies.
    for (step, client) in [
        ("cloning", family.client_a),
        ("cloned", family.client_b),
        ("granted", third),
    ] {
        let (mut crashing, imports) = start(&database, &peers, Some(step)).await;
        let planned = plan(
            &imports,
            client,
            family.partner,
            vec![dashboard_ref(&board.id)],
        )
        .await
        .unwrap();
        let request = request_id();
        let cut_short = execute(&imports, client, &planned, &request).await;
        assert!(cut_short.is_err(), "{step}: the process aborted mid-import");
        crashing.kill().await;

        let (_restarted, imports) = start(&database, &peers, None).await;
        // The recovery loop finishes the import by itself at start...
        let finished = eventually(
            &format!("{step}: the restarted service finishes the import"),
            WAIT,
            || {
                let imports = imports.clone();
                async move {
                    imports_into(&imports, client)
                        .await
                        .into_iter()
                        .find(|i| i.state() == imp::ImportState::Succeeded)
                }
            },
        )
        .await;
        // ...and the retried request answers with that import.
        let retried = execute(&imports, client, &planned, &request)
            .await
            .unwrap_or_else(|e| panic!("{step}: the retry answers: {e:?}"));
        assert_eq!(retried.id, finished.id, "{step}");
        assert_eq!(retried.state(), imp::ImportState::Succeeded, "{step}");
        assert_eq!(
            imports_into(&imports, client).await.len(),
            1,
            "{step}: one import"
        );

        assert_eq!(
            asset_counts(&peers.library, client).await,
            [1, 1, 1],
            "{step}: exactly one copy"
        );
        let copies = peers
            .tokens
            .clone()
            .list_credentials(call(tok::ListCredentialsRequest::default(), &admin(client)))
            .await
            .unwrap()
            .into_inner()
            .credentials;
        assert_eq!(copies.len(), 1, "{step}: one credential copy");
        let source_instance = instance_of(&retried, &source.id);
        assert_eq!(copies[0].scoped_data_source_id, source_instance, "{step}");
        let instance = get_data_source(&peers.library, client, &source_instance).await;
        assert_eq!(
            instance.auth.unwrap().method,
            credential_auth(&copies[0].id),
            "{step}: the instance uses its copy"
        );
        let listed = imports
            .clone()
            .list_instances(call(
                imp::ListInstancesRequest {
                    master: Some(klip_ref(&master.id)),
                    account_id: client.to_string(),
                    ..Default::default()
                },
                &admin(family.partner),
            ))
            .await
            .unwrap()
            .into_inner()
            .instances;
        assert_eq!(listed.len(), 1, "{step}: one link");
        assert_eq!(listed[0].status(), imp::InstanceStatus::InSync, "{step}");
    }
}
