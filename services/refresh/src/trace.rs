//! Trace context through the queue: a job remembers the W3C trace context (`traceparent`,
//! `tracestate`) of the call that queued it, and the worker that runs it makes that context
//! the parent of its fetch span. One trace then spans "record activity → queue → fetch →
//! calls to the library and the token registry", although the fetch happens later, in
//! another task and possibly another replica.

use std::collections::HashMap;

use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current span's trace context as a JSON object of propagation fields, or `None` when
/// there is no trace to continue (no exporter, or a span outside any trace).
pub fn current() -> Option<serde_json::Value> {
    let context = tracing::Span::current().context();
    let mut fields: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut fields);
    });
    if fields.is_empty() {
        return None;
    }
    serde_json::to_value(fields).ok()
}

/// Makes the context stored with a job the parent of `span`. A missing or unreadable
/// context leaves the span as it is (a root of its own trace).
pub fn continue_in(span: &tracing::Span, stored: Option<&serde_json::Value>) {
    let Some(serde_json::Value::Object(object)) = stored else {
        return;
    };
    let fields: HashMap<String, String> = object
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect();
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&fields));
    // Fails only without the OpenTelemetry layer, when nothing is exported anyway.
    let _ = span.set_parent(parent);
}
