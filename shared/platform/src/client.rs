//! Channels to other Trellis services.
//!
//! Every outgoing call carries the current trace context ([`TraceInjector`]), so one trace
//! spans the call chain, and a bearer token: the user's own when a service calls another on
//! the user's behalf, a short-lived service token for background work (DESIGN.md section 3).

use std::time::Duration;

use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::telemetry::inject_context;

/// Writes the caller's W3C trace context into every outgoing call.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceInjector;

impl Interceptor for TraceInjector {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        inject_context(request.metadata_mut());
        Ok(request)
    }
}

/// A channel whose calls carry trace context; wrap it in a generated client with
/// `XServiceClient::new(channel)`.
pub type TracedChannel = InterceptedService<Channel, TraceInjector>;

/// A lazily connected channel to `url` (such as `http://127.0.0.1:50051`).
pub fn channel(url: &str) -> anyhow::Result<TracedChannel> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, TraceInjector))
}

/// A request carrying `bearer` as its `authorization` header.
pub fn authorized<T>(message: T, bearer: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {bearer}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}
