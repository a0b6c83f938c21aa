//! A service binary running as its own process, as it runs in production.
//!
//! The process binds `127.0.0.1:0` and logs JSON; the address it reports in its "serving
//! gRPC" line is where tests reach it. Everything it writes to stdout and stderr is kept, so
//! a test can read its log ([`ServiceProcess::panics`]). The process is killed when the
//! handle is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
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
    log: Arc<Mutex<Vec<String>>>,
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
            .env("TRELLIS_READINESS_INTERVAL", "1s")
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        keep_lines(
            child.stdout.take().expect("piped stdout"),
            &log,
            Some(address_tx),
        );
        keep_lines(child.stderr.take().expect("piped stderr"), &log, None);

        let address = tokio::time::timeout(Duration::from_secs(30), address_rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| {
                panic!(
                    "{} did not report a serving address; its output:\n{}",
                    binary.display(),
                    log.lock().expect("log").join("\n")
                )
            });
        Self {
            address,
            child,
            log,
        }
    }

    /// Every line the process has written so far, stdout and stderr interleaved.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// The lines that report a panic: the service's own "panicked" event or Rust's message.
    pub fn panics(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|line| line.contains("\"panicked\"") || line.contains("' panicked at "))
            .collect()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The most memory the process has held (VmHWM, MiB) since it started or since the last
    /// [`ServiceProcess::reset_peak_rss`].
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_kib("VmHWM:") / 1024.0
    }

    /// The memory it holds now (VmRSS, MiB).
    pub fn rss_mib(&self) -> f64 {
        self.status_kib("VmRSS:") / 1024.0
    }

    /// Starts a new peak: from now on [`ServiceProcess::peak_rss_mib`] is the peak since now.
    pub fn reset_peak_rss(&self) {
        let pid = self.child.id().expect("a running process");
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak RSS");
    }

    fn status_kib(&self, key: &str) -> f64 {
        let pid = self.child.id().expect("a running process");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
    }

    /// Kills the process at once, as a crash or an evicted pod would end.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Reads `output` line by line into `log` until it closes (so the process never blocks on a
/// full pipe), sending the serving address once it is reported (stdout) or echoing each line
/// to the test's stderr (stderr).
fn keep_lines(
    output: impl AsyncRead + Unpin + Send + 'static,
    log: &Arc<Mutex<Vec<String>>>,
    mut address: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) {
    let log = Arc::clone(log);
    // stderr is echoed, as it was inherited before: a failing test still shows a panic.
    let echo = address.is_none();
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(reported) = serving_address(&line)
                && let Some(sender) = address.take()
            {
                let _ = sender.send(reported);
            }
            if echo {
                eprintln!("{line}");
            }
            log.lock().expect("log").push(line);
        }
    });
}

fn serving_address(line: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    if json.get("message")?.as_str()? != "serving gRPC" {
        return None;
    }
    json.get("address")?.as_str()?.parse().ok()
}
