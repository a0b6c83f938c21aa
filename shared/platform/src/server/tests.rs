//! The server's stop and logging behaviour, over real loopback gRPC.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// Serves until told to stop; the handle completes when `serve` returns.
async fn serve_until(
    server: GrpcServer,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    (stop, serving)
}

#[tokio::test]
async fn serve_returns_only_once_the_work_left_at_stop_is_done() {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let server = GrpcServer::new("test").finish_on_stop(
        "held work",
        Duration::from_secs(60),
        move || async move {
            let _ = released.await;
            finished.store(true, Ordering::SeqCst);
        },
    );
    let (stop, serving) = serve_until(server).await;
    stop.send(()).expect("the server listens for its stop");
    release.send(()).expect("the work waits to be released");
    serving.await.expect("serve ends").expect("serve succeeds");
    assert!(done.load(Ordering::SeqCst), "serve waited for the work");
}

#[tokio::test]
async fn work_that_outlasts_its_time_is_given_up() {
    let server = GrpcServer::new("test").finish_on_stop(
        "endless work",
        Duration::from_millis(50),
        std::future::pending::<()>,
    );
    let (stop, serving) = serve_until(server).await;
    stop.send(()).expect("the server listens for its stop");
    serving.await.expect("serve ends").expect("serve succeeds");
}

/// Records the level of every event.
struct Levels(Arc<std::sync::Mutex<Vec<tracing::Level>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Levels {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0
            .lock()
            .expect("the level list")
            .push(*event.metadata().level());
    }
}

/// A caller's mistake is not our failure: the trace layer logs nothing above INFO for
/// it (a NOT_FOUND here), where tower-http's default gRPC classifier logs it at ERROR.
#[tokio::test]
async fn a_callers_mistake_is_logged_below_warn() {
    use tracing_subscriber::layer::SubscriberExt;
    let levels = Arc::new(std::sync::Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Levels(levels.clone()));
    // The test runtime has one thread, so every task of the server logs here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(GrpcServer::new("test").serve(listener, async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("the server answers");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("an unknown service is not found");
    assert_eq!(answer.code(), tonic::Code::NotFound);
    stop.send(()).expect("the server listens for its stop");
    serving.await.expect("serve ends").expect("serve succeeds");

    let levels = levels.lock().expect("the level list");
    assert!(!levels.is_empty(), "the server logged its start and stop");
    let loud: Vec<_> = levels
        .iter()
        .filter(|level| **level <= tracing::Level::WARN)
        .collect();
    assert!(loud.is_empty(), "logged above INFO: {loud:?}");
}
