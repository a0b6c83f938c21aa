//! Logs, traces and the W3C trace context that joins one call chain into one trace.
//!
//! Logs are readable lines or JSON ([`LogFormat`]). When `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! spans are exported over OTLP/gRPC as well (the exporter reads the standard `OTEL_*`
//! variables itself). Trace context travels in the `traceparent` metadata of every gRPC call:
//! [`inject_context`] writes it on the client side and [`extract_context`] reads it on the
//! server side, where the request span takes it as its parent.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::LogFormat;

#[cfg(test)]
mod tests;

/// Keeps the span exporter alive; dropping it flushes and shuts the exporter down.
#[derive(Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // The batch exporter blocks while it flushes; keep that off the async workers.
            let flush = move || {
                if let Err(error) = provider.shutdown() {
                    eprintln!("trace exporter shutdown: {error}");
                }
            };
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    let _ = std::thread::spawn(move || {
                        let _guard = handle.enter();
                        flush();
                    })
                    .join();
                }
                Err(_) => flush(),
            }
        }
    }
}

/// Installs the global subscriber and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the OTLP
/// exporter. Call once, early in `main`.
pub fn init(service_name: &'static str, format: LogFormat, filter: &str) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let env_filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("invalid log filter {filter:?} ({error}); using info");
        EnvFilter::new("info")
    });
    let fmt_layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };

    let endpoint_set = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty());
    let (otel_layer, provider) = if endpoint_set {
        match otlp_provider(service_name) {
            Ok(provider) => {
                let tracer = provider.tracer(service_name);
                let layer = tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(exporter_quiet_filter());
                (Some(layer), Some(provider))
            }
            Err(error) => {
                eprintln!("OTLP exporter not started: {error}");
                (None, None)
            }
        }
    } else {
        (None, None)
    };

    let registry = Registry::default()
        .with(otel_layer)
        .with(fmt_layer.with_filter(env_filter));
    if registry.try_init().is_err() {
        // A test process may call init more than once; the first subscriber stays.
        tracing::debug!("tracing subscriber already installed");
    } else {
        log_panics();
    }
    TelemetryGuard { provider }
}

/// Reports a panic as an ERROR event (`"message": "panicked"`), in the service's own log
/// format, before the default hook prints it to stderr.
fn log_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        tracing::error!(
            panic = %info,
            thread = thread.name().unwrap_or("unnamed"),
            "panicked"
        );
        default_hook(info);
    }));
}

fn otlp_provider(service_name: &'static str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// The exporter's own transport must not trace itself.
fn exporter_quiet_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF)
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// Reads a caller's trace context from incoming HTTP headers.
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(&value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key).and_then(|value| value.to_str().ok())?;
        (key != TRACEPARENT || has_traceparent_fields(value)).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|key| key.as_str()).collect()
    }
}

const TRACEPARENT: &str = "traceparent";

/// Whether a `traceparent` starts with the four fields of W3C Trace Context, each of its
/// exact length in lowercase hex (`00-<32>-<16>-<2>`). The propagator checks the rest but
/// takes a shorter trace or span id as a number, and so would join a caller to a trace it
/// never named.
fn has_traceparent_fields(value: &str) -> bool {
    let lengths = [2, 32, 16, 2];
    let fields: Vec<&str> = value.trim().split('-').collect();
    fields.len() >= lengths.len()
        && fields.iter().zip(lengths).all(|(field, length)| {
            field.len() == length
                && field
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The trace id of the current span, as 32 hex digits, when it belongs to a sampled trace.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}
