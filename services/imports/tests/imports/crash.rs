//! A crash mid-saga (DESIGN.md section 2): the import service runs as its own process and is
//! aborted right after a step (the test-only fault injection of `trellis_imports::faults`);
//! started again, it finishes the import by itself, and the retried request returns that
//! import. Exactly one copy exists, with one credential copy.
//!
//! The process is this test binary run again for [`imports_service_process`] alone: it serves
//! the import service in-process, with the fault injection this crate's tests are built with
//! and the service's own binary never is.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use trellis_platform::client;
use trellis_platform::config::ServiceKind;
use trellis_platform::service::ServiceContext;
use trellis_proto::imports::v1 as imp;
use trellis_proto::imports::v1::import_service_client::ImportServiceClient;
use trellis_testkit::{TestDatabase, eventually, test_config};
use uuid::Uuid;

use crate::common::*;

/// Set in the environment of the process [`start`] runs: the database, the two peers and the
/// step after which the process aborts (empty: none), separated by spaces.
const CHILD: &str = "TRELLIS_IMPORTS_CRASH_TEST_CHILD";
/// What the process prints once it serves, before the address.
const SERVING: &str = "imports serving at ";

/// Runs the import service until the process is killed or aborts, when started by
/// [`start`]; as an ordinary test (no [`CHILD`] in the environment) it does nothing.
#[tokio::test(flavor = "multi_thread")]
async fn imports_service_process() {
    let Ok(setup) = std::env::var(CHILD) else {
        return;
    };
    let [database_url, library_url, tokens_url, step] =
        <[&str; 4]>::try_from(setup.split(' ').collect::<Vec<_>>()).expect("the child's setup");
    if let Some(point) = trellis_imports::faults::FailPoint::parse(step) {
        trellis_imports::faults::abort_after(point);
    }
    let mut common = test_config(database_url);
    common.library_url = library_url.to_owned();
    common.tokens_url = tokens_url.to_owned();
    let pool = trellis_platform::db::pool(database_url, 8).expect("a pool");
    let context = ServiceContext::new(
        ServiceKind::Imports,
        common,
        trellis_imports::Settings::default(),
        pool,
    )
    .expect("a service context");
    let server = trellis_imports::build(context)
        .await
        .expect("the service builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    println!(
        "{SERVING}{}",
        listener.local_addr().expect("a local address")
    );
    server
        .serve(listener, std::future::pending())
        .await
        .expect("the service serves");
}

/// The import service as its own process, aborting after `fail_after` when given; killed
/// when dropped.
async fn start(
    database: &TestDatabase,
    peers: &Peers,
    fail_after: Option<&str>,
) -> (Child, Imports) {
    let setup = [
        database.url.clone(),
        peers.library_service.server.url(),
        peers.tokens_service.server.url(),
        fail_after.unwrap_or_default().to_owned(),
    ]
    .join(" ");
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "crash::imports_service_process", "--nocapture"])
        .env(CHILD, setup)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the import service's process");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let address = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("its output") {
            if let Some(address) = line.strip_prefix(SERVING) {
                return address.to_owned();
            }
        }
        panic!("the import service's process ended before serving");
    })
    .await
    .expect("the import service's process serves");
    // Its output is read to the end, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let imports = ImportServiceClient::new(client::channel(&format!("http://{address}")).unwrap());
    (child, imports)
}

async fn imports_into(imports: &Imports, account: Uuid) -> Vec<imp::Import> {
    let request = call(imp::ListImportsRequest::default(), &admin(account));
    match imports.clone().list_imports(request).await {
        Ok(answer) => answer.into_inner().imports,
        // The restarted process may not answer yet.
        Err(_) => Vec::new(),
    }
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
    let url = "https://api.example.test/t";
    let auth = credential_auth(&saved.id);
    let source = data_source(&peers.library, family.partner, "Tickets", url, auth).await;
    let formulas = ["COUNT(@0.id)"];
    let master = klip(
        &peers.library,
        family.partner,
        "Tickets",
        &formulas,
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
        let _ = crashing.kill().await;

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
        let copies = credentials_of(&peers.tokens, client).await;
        assert_eq!(copies.len(), 1, "{step}: one credential copy");
        let source_instance = instance_of(&retried, &source.id);
        assert_eq!(copies[0].scoped_data_source_id, source_instance, "{step}");
        let instance = get_data_source(&peers.library, client, &source_instance).await;
        assert_eq!(
            instance.auth.unwrap().method,
            credential_auth(&copies[0].id),
            "{step}: the instance uses its copy"
        );
        let master_ref = klip_ref(&master.id);
        let listed = instances_in(&imports, family.partner, master_ref, Some(client)).await;
        assert_eq!(listed.len(), 1, "{step}: one link");
        assert_eq!(listed[0].status(), imp::InstanceStatus::InSync, "{step}");
    }
}
