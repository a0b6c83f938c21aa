//! A tonic server as every Trellis service runs it.
//!
//! [`GrpcServer`] always serves `grpc.health.v1.Health` (readiness follows the database) and
//! server reflection, v1 and v1alpha, describing every Trellis contract and the health
//! service, so grpcurl works without proto files. Around the routes sits one tower stack:
//! a per-call timeout, the `authorization` header marked sensitive so it never reaches logs,
//! and a request span per call that continues the caller's W3C trace context. The server
//! drains in-flight calls and stops on SIGTERM or Ctrl-C.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;

use http::header::AUTHORIZATION;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::background::Background;
use crate::db::{self, DbPool};
use crate::telemetry::extract_context;

pub struct GrpcServer {
    name: &'static str,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    health: HealthReporter,
    timeout: Duration,
    readiness: Option<(DbPool, Duration)>,
    request_id_retention: Option<(DbPool, Duration)>,
    on_stop: Vec<StopWork>,
    background: Background,
}

/// How long stopping waits for the background loops to finish what they hold.
const BACKGROUND_DRAIN: Duration = Duration::from_secs(20);

/// Work a service finishes once the server has stopped taking calls: its name, how long it
/// may take, and what starts it.
struct StopWork {
    what: &'static str,
    within: Duration,
    start: Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>,
}

impl GrpcServer {
    pub fn new(name: &'static str) -> Self {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        Self {
            name,
            routes,
            service_names: Vec::new(),
            health,
            timeout: Duration::from_secs(30),
            readiness: None,
            request_id_retention: None,
            on_stop: Vec::new(),
            background: Background::new(),
        }
    }

    /// Adds a gRPC service; its health status follows the server's readiness.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reports SERVING only while the database answers, checked every `interval`.
    pub fn readiness(mut self, pool: DbPool, interval: Duration) -> Self {
        self.readiness = Some((pool, interval));
        self
    }

    /// The service's background loops: drained, after the calls, when the server stops.
    pub fn background(mut self, background: Background) -> Self {
        self.background = background;
        self
    }

    /// Purges answers to request ids older than `retention`, at start and then hourly.
    pub fn request_id_retention(mut self, pool: DbPool, retention: Duration) -> Self {
        self.request_id_retention = Some((pool, retention));
        self
    }

    /// Work to finish after the server stops and has drained its calls, before `serve`
    /// returns and the process exits: work a caller started but no longer waits for (a
    /// token refresh whose result must be stored). `start` runs at stop time; the work is
    /// given up after `within`, with a warning.
    pub fn finish_on_stop<F>(
        mut self,
        what: &'static str,
        within: Duration,
        start: impl FnOnce() -> F + Send + 'static,
    ) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.on_stop.push(StopWork {
            what,
            within,
            start: Box::new(move || Box::pin(start())),
        });
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight calls and
    /// finishes the work of [`GrpcServer::finish_on_stop`].
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let address = listener.local_addr()?;
        let names = self.service_names.clone();
        self.routes
            .add_service(reflection(&names).build_v1()?)
            .add_service(reflection(&names).build_v1alpha()?);
        let readiness = match self.readiness {
            Some((pool, interval)) => tokio::spawn(follow_database(
                self.health.clone(),
                self.service_names.clone(),
                pool,
                interval,
            )),
            None => {
                set_status(&self.health, &self.service_names, ServingStatus::Serving).await;
                tokio::spawn(async {})
            }
        };

        if let Some((pool, retention)) = self.request_id_retention.take() {
            let stop = self.background.token();
            self.background.spawn("request id purge", async move {
                stop.run_until_cancelled(purge_request_ids(pool, retention))
                    .await;
            });
        }

        let layers = ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
            .layer(
                TraceLayer::new(SharedClassifier::new(failures()))
                    .make_span_with(request_span)
                    .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
            )
            .layer(MapResponseLayer::new(crate::wire::restate::<Body>))
            .into_inner();

        tracing::info!(service = self.name, %address, "serving gRPC");
        let result = tonic::transport::Server::builder()
            .timeout(self.timeout)
            .layer(layers)
            .add_routes(self.routes.routes())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await;
        readiness.abort();
        for work in self.on_stop {
            tracing::info!(
                service = self.name,
                what = work.what,
                "finishing before stopping"
            );
            if tokio::time::timeout(work.within, (work.start)())
                .await
                .is_err()
            {
                tracing::warn!(service = self.name, what = work.what, within = ?work.within, "gave up waiting");
            }
        }
        self.background.drain(BACKGROUND_DRAIN).await;
        tracing::info!(service = self.name, "stopped");
        Ok(result?)
    }
}

/// The answers the trace layer reports as failures: our own faults only. A caller's mistake
/// is logged once, at INFO, where its [`crate::ApiError`] becomes a status, and UNAVAILABLE
/// at WARN there; an `INTERNAL` once at ERROR there with its cause, and here again only at
/// WARN.
fn failures() -> GrpcErrorsAsFailures {
    [
        GrpcCode::Cancelled,
        GrpcCode::InvalidArgument,
        GrpcCode::DeadlineExceeded,
        GrpcCode::NotFound,
        GrpcCode::AlreadyExists,
        GrpcCode::PermissionDenied,
        GrpcCode::ResourceExhausted,
        GrpcCode::FailedPrecondition,
        GrpcCode::Aborted,
        GrpcCode::OutOfRange,
        GrpcCode::Unimplemented,
        GrpcCode::Unauthenticated,
        // Logged at WARN where the error becomes a status.
        GrpcCode::Unavailable,
    ]
    .into_iter()
    .fold(
        GrpcErrorsAsFailures::new(),
        GrpcErrorsAsFailures::with_success,
    )
}

/// Reflection that lists this server's own services, health and reflection itself, and
/// describes every type they use, the `google.rpc` error details included.
fn reflection(services: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    let builder = tonic_reflection::server::Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(trellis_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // google.rpc.Status and the error details, so a client can decode what a failure says.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
    services
        .iter()
        .copied()
        .chain([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ])
        .fold(builder, |builder, name| builder.with_service_name(name))
}

async fn set_status(health: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    health.set_service_status("", status).await;
    for name in names {
        health.set_service_status(*name, status).await;
    }
}

async fn follow_database(
    health: HealthReporter,
    names: Vec<&'static str>,
    pool: DbPool,
    interval: Duration,
) {
    let mut last = None;
    loop {
        let status = match db::ping(&pool).await {
            Ok(()) => ServingStatus::Serving,
            Err(error) => {
                if last != Some(ServingStatus::NotServing) {
                    tracing::warn!(%error, "database check failed; not serving");
                }
                ServingStatus::NotServing
            }
        };
        if last != Some(status) {
            set_status(&health, &names, status).await;
            last = Some(status);
        }
        tokio::time::sleep(interval).await;
    }
}

async fn purge_request_ids(pool: DbPool, retention: Duration) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        let purged = match pool.get().await {
            Ok(mut conn) => crate::idempotency::purge_older_than(&mut conn, retention)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match purged {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged old request ids"),
            Err(error) => tracing::warn!(%error, "purging old request ids failed"),
        }
    }
}

/// One span per call, named after the RPC, continuing the caller's trace.
fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc.request",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    let _ = span.set_parent(extract_context(request.headers()));
    span
}

/// Completes on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; draining in-flight calls");
}

#[cfg(test)]
mod tests;
