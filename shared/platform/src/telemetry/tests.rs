//! The W3C trace context across one call: what the client's interceptor writes is what the
//! server reads, and what it cannot read gives the request no parent.

use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::Request;
use tonic::service::Interceptor;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::client::TraceInjector;

/// Runs `body` with spans recorded by OpenTelemetry (exported nowhere) and the W3C
/// propagator, as [`init`] installs them.
fn traced<R>(body: impl FnOnce() -> R) -> R {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let subscriber = Registry::default()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("telemetry-tests")));
    tracing::subscriber::with_default(subscriber, body)
}

fn span_context(context: &opentelemetry::Context) -> SpanContext {
    context.span().span_context().clone()
}

/// The headers a server receives for a call made in the current span.
fn outgoing_headers() -> http::HeaderMap {
    TraceInjector
        .call(Request::new(()))
        .expect("the interceptor never refuses a call")
        .metadata()
        .clone()
        .into_headers()
}

fn headers_with_traceparent(value: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        http::HeaderValue::from_str(value).expect("a header value"),
    );
    headers
}

#[test]
fn the_trace_context_a_client_sends_is_the_one_the_server_reads() {
    traced(|| {
        let span = tracing::info_span!("calling another service");
        let _entered = span.enter();
        let sent = span_context(&span.context());
        assert!(sent.is_valid() && sent.is_sampled(), "{sent:?}");

        let headers = outgoing_headers();
        let traceparent = headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .expect("a traceparent");
        assert_eq!(
            traceparent,
            format!("00-{}-{}-01", sent.trace_id(), sent.span_id())
        );

        let received = span_context(&extract_context(&headers));
        assert_eq!(received.trace_id(), sent.trace_id());
        assert_eq!(received.span_id(), sent.span_id());
        assert!(
            received.is_remote() && received.is_sampled(),
            "{received:?}"
        );
        assert_eq!(current_trace_id(), Some(sent.trace_id().to_string()));
    });
}

#[test]
fn the_request_span_joins_the_callers_trace() {
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    traced(|| {
        let request = tracing::info_span!("request");
        request
            .set_parent(extract_context(&headers_with_traceparent(caller)))
            .expect("a parent before the span starts");
        let _entered = request.enter();
        assert_eq!(
            current_trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        // And the next hop carries the same trace on.
        let onward = span_context(&extract_context(&outgoing_headers()));
        assert_eq!(
            onward.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(onward.span_id().to_string(), "00f067aa0ba902b7");
    });
}

#[test]
fn a_malformed_traceparent_gives_no_parent() {
    let malformed = [
        "",
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-zzf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ];
    traced(|| {
        for value in malformed {
            let context = extract_context(&headers_with_traceparent(value));
            assert!(!context.has_active_span(), "{value:?} gave a parent");
            assert!(!span_context(&context).is_valid(), "{value:?}");
        }
        assert!(!extract_context(&http::HeaderMap::new()).has_active_span());
        // A later version may add fields after the four it shares with version 00.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
        assert!(extract_context(&headers_with_traceparent(later)).has_active_span());
    });
}

#[test]
fn without_a_traced_span_a_call_carries_no_trace_context() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    assert!(outgoing_headers().get("traceparent").is_none());
    assert_eq!(current_trace_id(), None);
}
