//! Outside development mode a service refuses to start on missing or published secrets,
//! and says which.

use std::process::Stdio;

use trellis_e2e::cluster::schema;
use trellis_platform::config::ServiceKind;
use trellis_testkit::TestDatabase;
use trellis_testkit::process::binary;
use uuid::Uuid;

use crate::WAIT;

/// Runs `kind`'s binary to serve with `env` only (no TRELLIS_DEVELOPMENT), on a database of
/// its own; returns its exit status and everything it printed. The process must exit by
/// itself: it is killed, and the test fails, if it is still running after the deadline.
async fn serve_outside_development(
    kind: ServiceKind,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let database = TestDatabase::new(&schema(kind)).await;
    let binary = binary(&format!("trellis-{}", kind.name()));
    let child = tokio::process::Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("TRELLIS_LISTEN_ADDR", "127.0.0.1:0")
        .env("TRELLIS_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{kind:?} with {env:?} did not exit: it started"))
        .expect("the process's output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status, printed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_without_secrets_outside_development_mode_exits_with_a_clear_message() {
    // A random secret of the right length, as a deployment would set.
    let good_secret = Uuid::new_v4().simple().to_string();
    for kind in ServiceKind::ALL {
        for (secret, expected) in [
            (None, "TRELLIS_JWT_SECRET is not set"),
            (
                Some("replace-me"),
                "TRELLIS_JWT_SECRET is a published placeholder",
            ),
            (Some("too-short"), "TRELLIS_JWT_SECRET is 9 bytes"),
        ] {
            let env: Vec<(&str, &str)> = secret
                .map(|secret| ("TRELLIS_JWT_SECRET", secret))
                .into_iter()
                .collect();
            let (status, printed) = serve_outside_development(kind, &env).await;
            assert!(
                !status.success(),
                "{kind:?} with secret {secret:?} exits non-zero: {status}\n{printed}"
            );
            assert!(
                printed.contains(expected),
                "{kind:?} with secret {secret:?} says {expected:?}:\n{printed}"
            );
            assert!(
                printed.contains("TRELLIS_DEVELOPMENT=true"),
                "{kind:?} names the development switch:\n{printed}"
            );
            assert!(
                !printed.contains("serving gRPC"),
                "{kind:?} never served:\n{printed}"
            );
        }
    }

    // The token registry also needs its encryption keys, whatever the JWT secret.
    let (status, printed) = serve_outside_development(
        ServiceKind::Tokens,
        &[("TRELLIS_JWT_SECRET", good_secret.as_str())],
    )
    .await;
    assert!(
        !status.success(),
        "tokens without encryption keys exits non-zero: {status}\n{printed}"
    );
    assert!(
        printed.contains("TRELLIS_TOKENS_ENCRYPTION_KEYS is not set"),
        "tokens names its missing keys:\n{printed}"
    );
    assert!(
        !printed.contains("TRELLIS_JWT_SECRET is"),
        "a good secret is not complained about:\n{printed}"
    );
    assert!(!printed.contains("serving gRPC"), "{printed}");
}
