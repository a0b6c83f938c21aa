//! A service binary running as its own process, as it runs in production.
//!
//! The process binds `127.0.0.1:0` and logs JSON; the address it reports in its "serving
//! gRPC" line is where tests reach it. The process is killed when the handle is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::tokens::TEST_SECRET;

/// Where the built service binaries are: `TRELLIS_BIN_DIR`, or the target folder this test
/// binary was built into (`make test` builds the binaries first).
pub fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("TRELLIS_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            // target/<profile>/deps/<test> → target/<profile>
            exe.parent()
                .and_then(|deps| deps.parent())
                .expect("the target folder")
                .to_path_buf()
        });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --bins` (make test does)",
        path.display()
    );
    path
}

pub struct ServiceProcess {
    pub address: SocketAddr,
    child: Child,
}

impl ServiceProcess {
    /// Starts `binary` serving on a free loopback port against `database_url`, with the test
    /// secret and the extra environment `env`; returns once it reports its address.
    pub async fn start(binary: PathBuf, database_url: &str, env: &HashMap<String, String>) -> Self {
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("TRELLIS_LISTEN_ADDR", "127.0.0.1:0")
            .env("TRELLIS_JWT_SECRET", TEST_SECRET)
            .env("TRELLIS_DEVELOPMENT", "true")
            .env("TRELLIS_LOG_FORMAT", "json")
            .env("TRELLIS_READINESS_INTERVAL_SECS", "1")
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();

        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = serving_address(&line) {
                    return Some(address);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{} did not report a serving address", binary.display()));

        // Keep draining its output so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { address, child }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Kills the process at once, as a crash or an evicted pod would end.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

fn serving_address(line: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    if json.get("message")?.as_str()? != "serving gRPC" {
        return None;
    }
    json.get("address")?.as_str()?.parse().ok()
}
