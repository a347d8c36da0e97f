//! OTLP/HTTP JSON encoding of a trace (`ExportTraceServiceRequest`, protocols.md §6.2): ids
//! as lowercase hex, times as decimal strings of nanoseconds, attributes as `{key, value}`
//! lists. Every string passes through the redactor on the way out.

use serde_json::{json, Value};

use super::redact::Redactor;
use super::span::{AttrValue, Span, SpanStatus, Trace};
use crate::auth::crypto::hex;

/// `service.name` of the exported resource.
pub const SERVICE_NAME: &str = "edge-agent-chat";

fn nanos(ms: i64) -> String {
    format!("{}000000", ms.max(0))
}

fn value(value: &AttrValue, redactor: &Redactor) -> Value {
    match value {
        AttrValue::Str(s) => json!({ "stringValue": redactor.clean(s) }),
        // int64 travels as a decimal string in OTLP/JSON.
        AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttrValue::Float(f) if f.is_finite() => json!({ "doubleValue": f }),
        AttrValue::Float(_) => json!({ "stringValue": "NaN" }),
        AttrValue::Bool(b) => json!({ "boolValue": b }),
    }
}

fn attributes(list: &[(&'static str, AttrValue)], redactor: &Redactor) -> Value {
    Value::Array(
        list.iter()
            .map(|(key, v)| json!({ "key": key, "value": value(v, redactor) }))
            .collect(),
    )
}

fn span(span: &Span, trace_id: &str, redactor: &Redactor) -> Value {
    let mut out = json!({
        "traceId": trace_id,
        "spanId": hex(&span.span_id),
        "name": redactor.clean(&span.name),
        "kind": span.kind as u8,
        "startTimeUnixNano": nanos(span.start_ms),
        "endTimeUnixNano": nanos(span.end_ms.max(span.start_ms)),
        "attributes": attributes(&span.attributes, redactor),
        "status": match &span.status {
            SpanStatus::Ok => json!({ "code": 1 }),
            SpanStatus::Error(message) => json!({ "code": 2, "message": redactor.clean(message) }),
        },
    });
    if let Some(parent) = span.parent {
        out["parentSpanId"] = json!(hex(&parent));
    }
    if !span.events.is_empty() {
        out["events"] = Value::Array(
            span.events
                .iter()
                .map(|e| {
                    json!({
                        "timeUnixNano": nanos(e.time_ms),
                        "name": e.name,
                        "attributes": attributes(&e.attributes, redactor),
                    })
                })
                .collect(),
        );
    }
    out
}

/// The export body for `trace`, with the attributes of the resource (`service.name` and the
/// release, when known).
pub fn encode(trace: &Trace, release: Option<&str>, redactor: &Redactor) -> String {
    let trace_id = hex(&trace.trace_id);
    let mut resource =
        vec![json!({ "key": "service.name", "value": { "stringValue": SERVICE_NAME } })];
    if let Some(release) = release {
        resource.push(json!({ "key": "service.version", "value": { "stringValue": release } }));
    }
    json!({
        "resourceSpans": [{
            "resource": { "attributes": resource },
            "scopeSpans": [{
                "scope": { "name": SERVICE_NAME },
                "spans": trace.spans.iter().map(|s| span(s, &trace_id, redactor)).collect::<Vec<_>>(),
            }],
        }],
    })
    .to_string()
}

/// A one-span trace for the dashboard's "Send test trace" button.
pub fn test_trace(trace_id: [u8; 16], span_id: [u8; 8], now_ms: i64, tenant_id: &str) -> Trace {
    let mut root = Span {
        span_id,
        parent: None,
        name: "test trace".into(),
        kind: super::span::SpanKind::Internal,
        start_ms: now_ms,
        end_ms: now_ms + 1,
        attributes: Vec::new(),
        events: Vec::new(),
        status: SpanStatus::Ok,
    };
    root.text("langfuse.trace.name", "test trace");
    root.text("langfuse.observation.type", "span");
    root.text("langfuse.trace.metadata.tenantId", tenant_id);
    root.text(
        "langfuse.observation.output",
        "It works: traces from this tenant arrive here.",
    );
    Trace {
        trace_id,
        spans: vec![root],
    }
}
