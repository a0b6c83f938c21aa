//! `make bench`: the memory the costly paths take, each against a baseline on the same
//! services side by side. Each path gets a fresh Trellis, the services as processes; a
//! process's peak resident memory (VmHWM) is reset before each run and read after it.
//!
//! - `library_concat`: RenderKlip of a Klip whose formula CONCATs a 1 MB text ~1,200 times
//!   (its evaluation budget stops it), against a Klip that SUMs one number.
//! - `library_big_list`: ListKlips with page_size 1000 over 200 Klips of ~1 MB each, against
//!   ListKlips of one small Klip.
//! - `refresh_million_rows`: a refresh of a 1,000,000-row CSV (refused at the row limit),
//!   against a refresh of a 10-row CSV.
//!
//! Each prints `BENCH <name> ratio=<peak/baseline> peak_mib=… baseline_mib=…`. The goal is
//! each peak under 256 MiB. Run with `make bench`; `make test` skips it (it is `#[ignore]`).
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

use std::collections::HashMap;
use std::time::Duration;

use trellis_e2e::calls::{self, Library};
use trellis_e2e::cluster::Cluster;
use trellis_e2e::world::create_account;
use trellis_platform::client::authorized;
use trellis_platform::config::ServiceKind;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_proto::refresh::v1::refresh_service_client::RefreshServiceClient;
use trellis_testkit::data_api::DataApi;
use trellis_testkit::process::ServiceProcess;
use trellis_testkit::wait::eventually;
use trellis_testkit::{members, tokens};
use uuid::Uuid;

type Refresh = RefreshServiceClient<trellis_platform::client::TracedChannel>;

const WAIT: Duration = Duration::from_secs(120);
const GOAL_MIB: f64 = 256.0;

struct Bench {
    library: Library,
    refresh: Refresh,
    api: DataApi,
    account: Uuid,
    admin: String,
}

impl Bench {
    async fn data_source(&mut self, path: &str, format: library::DataFormat) -> String {
        let source = library::DataSource {
            format: format as i32,
            ..calls::data_source(Some(self.account), path, &self.api.url(path))
        };
        calls::create_data_source(&self.library, &self.admin, source)
            .await
            .expect("a data source")
            .id
    }

    async fn klip(&mut self, components: Vec<library::Component>, source: Option<&str>) -> String {
        let sources: Vec<&str> = source.into_iter().collect();
        let klip = calls::klip(self.account, "bench", components, &sources);
        calls::create_klip(&self.library, &self.admin, klip).await
    }

    /// Refreshes `source` now and waits until its job has ended.
    async fn refresh(&mut self, source: &str) -> refresh::RefreshJob {
        let job = self
            .refresh
            .refresh_now(authorized(
                refresh::RefreshNowRequest {
                    request_id: Uuid::new_v4().to_string(),
                    data_source_id: source.to_owned(),
                    account_id: self.account.to_string(),
                    instance_key: String::new(),
                },
                &self.admin,
            ))
            .await
            .expect("RefreshNow")
            .into_inner()
            .job
            .expect("a job");
        let refresh = self.refresh.clone();
        let admin = self.admin.clone();
        let account = self.account.to_string();
        eventually("the refresh to end", WAIT, || {
            let mut refresh = refresh.clone();
            let request = authorized(
                refresh::GetRefreshJobRequest {
                    id: job.id.clone(),
                    account_id: account.clone(),
                },
                &admin,
            );
            async move {
                let job = refresh
                    .get_refresh_job(request)
                    .await
                    .ok()?
                    .into_inner()
                    .job?;
                let ended = [
                    refresh::RefreshJobState::Succeeded as i32,
                    refresh::RefreshJobState::Failed as i32,
                ];
                ended.contains(&job.state).then_some(job)
            }
        })
        .await
    }

    async fn render(&mut self, klip: &str) -> library::RenderedKlip {
        self.library
            .render_klip(authorized(
                library::RenderKlipRequest {
                    klip_id: klip.to_owned(),
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .expect("RenderKlip answers")
            .into_inner()
            .rendered_klip
            .expect("a rendered Klip")
    }
}

/// The peak memory of `process` while `work` runs.
async fn peak_during<T>(process: &ServiceProcess, work: impl Future<Output = T>) -> (f64, T) {
    process.reset_peak_rss();
    let value = work.await;
    (process.peak_rss_mib(), value)
}

fn report(name: &str, peak: f64, baseline: f64) {
    println!(
        "BENCH {name} ratio={:.2} peak_mib={peak:.1} baseline_mib={baseline:.1} goal_mib={GOAL_MIB}",
        peak / baseline
    );
}

impl Bench {
    /// A fresh Trellis with one account, so one path's memory is not another's.
    async fn start() -> (Cluster, Self) {
        let api = DataApi::start().await;
        let cluster = Cluster::start(&HashMap::new()).await;
        let account = Self::new_account(&cluster).await;
        let bench = Bench {
            library: Library::new(cluster.channel(ServiceKind::Library))
                .max_decoding_message_size(256 * 1024 * 1024),
            refresh: RefreshServiceClient::new(cluster.channel(ServiceKind::Refresh)),
            api,
            account,
            admin: tokens::admin(account),
        };
        (cluster, bench)
    }

    /// A new account of its own, with the test users as its members.
    async fn new_account(cluster: &Cluster) -> Uuid {
        let library_channel = cluster.channel(ServiceKind::Library);
        let account = create_account(
            &library_channel,
            library::AccountKind::Standard,
            None,
            "Bench",
        )
        .await;
        members::enroll(&library_channel, account).await;
        account
    }

    /// The same client signed into another new account.
    async fn another_account(&self, cluster: &Cluster) -> Self {
        let account = Self::new_account(cluster).await;
        Bench {
            library: self.library.clone(),
            refresh: self.refresh.clone(),
            api: DataApi::start().await,
            account,
            admin: tokens::admin(account),
        }
    }
}

/// RenderKlip of a CONCAT of a 1 MB text, against a SUM of one number over the same data.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: make bench runs it"]
async fn library_concat() {
    let (cluster, mut bench) = Bench::start().await;
    bench.api.set_json(
        "/text.json",
        serde_json::json!([{ "text": "x".repeat(1_000_000), "n": 1 }]),
    );
    let text = bench
        .data_source("/text.json", library::DataFormat::Json)
        .await;
    let job = bench.refresh(&text).await;
    assert_eq!(
        job.state,
        refresh::RefreshJobState::Succeeded as i32,
        "{job:?}"
    );
    let terms = vec!["@0.text"; 1_200].join(",");
    let concat = bench
        .klip(vec![component(&format!("CONCAT({terms})"))], Some(&text))
        .await;
    let sum = bench.klip(vec![component("SUM(@0.n)")], Some(&text)).await;
    let (baseline, _) = peak_during(&cluster.library, bench.render(&sum)).await;
    let (peak, rendered) = peak_during(&cluster.library, bench.render(&concat)).await;
    assert!(
        !rendered.components[0].error.is_empty(),
        "the budget stops the CONCAT: {:?}",
        rendered.components[0].error
    );
    report("library_concat", peak, baseline);
}

/// ListKlips with page_size 1000 over 200 Klips of ~1 MB, against ListKlips of an account
/// with one small Klip, both once the large Klips exist.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: make bench runs it"]
async fn library_big_list() {
    let (cluster, mut bench) = Bench::start().await;
    let big: Vec<library::Component> = (0..100)
        .map(|i| library::Component {
            name: format!("c{i}"),
            formula: format!("\"{}\"", "x".repeat(9_990)),
        })
        .collect();
    for _ in 0..200 {
        bench.klip(big.clone(), None).await;
    }
    let mut small = bench.another_account(&cluster).await;
    small.klip(vec![component("1")], None).await;
    let (baseline, _) = peak_during(&cluster.library, list_klips(&mut small)).await;
    let (peak, pages) = peak_during(&cluster.library, list_klips(&mut bench)).await;
    assert!(pages > 1, "a page ends early once it is large");
    report("library_big_list", peak, baseline);
}

/// A refresh of a 1,000,000-row CSV (refused at the row limit), against a 10-row one.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: make bench runs it"]
async fn refresh_million_rows() {
    let (cluster, mut bench) = Bench::start().await;
    bench.api.set_csv("/small.csv", &csv_rows(10));
    bench.api.set_csv("/million.csv", &csv_rows(1_000_000));
    let small = bench
        .data_source("/small.csv", library::DataFormat::Csv)
        .await;
    let million = bench
        .data_source("/million.csv", library::DataFormat::Csv)
        .await;
    let (baseline, _) = peak_during(&cluster.refresh, bench.refresh(&small)).await;
    let (peak, job) = peak_during(&cluster.refresh, bench.refresh(&million)).await;
    assert_eq!(
        job.state,
        refresh::RefreshJobState::Failed as i32,
        "a million rows are over the limit: {job:?}"
    );
    report("refresh_million_rows", peak, baseline);
}

/// Lists every Klip of the account, page by page; returns how many pages it took.
async fn list_klips(bench: &mut Bench) -> usize {
    let mut pages = 0;
    let mut page_token = String::new();
    loop {
        let page = bench
            .library
            .list_klips(authorized(
                library::ListKlipsRequest {
                    account_id: bench.account.to_string(),
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                &bench.admin,
            ))
            .await
            .expect("ListKlips")
            .into_inner();
        pages += 1;
        if page.next_page_token.is_empty() {
            return pages;
        }
        page_token = page.next_page_token;
    }
}

fn component(formula: &str) -> library::Component {
    library::Component {
        name: "c".into(),
        formula: formula.to_owned(),
    }
}

fn csv_rows(rows: usize) -> String {
    let mut text = String::from("n\n");
    for i in 0..rows {
        text.push_str(&format!("{}\n", i % 10));
    }
    text
}
