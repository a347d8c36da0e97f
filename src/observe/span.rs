//! The trace model: spans with ids, parent links, times in ms, attributes and events.

/// A value of an attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Text (JSON documents are exported as text too, as Langfuse expects).
    Str(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// A flag.
    Bool(bool),
}

/// Whether a span succeeded.
#[derive(Debug, Clone, PartialEq)]
pub enum SpanStatus {
    /// Nothing went wrong.
    Ok,
    /// It failed, with a readable reason.
    Error(String),
}

/// Something that happened at one moment inside a span (a fallback attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// Event name.
    pub name: String,
    /// When, ms since the epoch.
    pub time_ms: i64,
    /// Its attributes.
    pub attributes: Vec<(&'static str, AttrValue)>,
}

/// The OTLP span kinds we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside the worker (the turn, a tool run by the worker).
    Internal = 1,
    /// A call out to another service (the model, a webhook).
    Client = 3,
}

/// One span of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// 8 random bytes, never all zero.
    pub span_id: [u8; 8],
    /// The parent span, `None` for the root.
    pub parent: Option<[u8; 8]>,
    /// Span name.
    pub name: String,
    /// OTLP kind.
    pub kind: SpanKind,
    /// Start, ms since the epoch.
    pub start_ms: i64,
    /// End, ms since the epoch (never before the start).
    pub end_ms: i64,
    /// Attributes, in a fixed order.
    pub attributes: Vec<(&'static str, AttrValue)>,
    /// Events inside the span.
    pub events: Vec<SpanEvent>,
    /// Outcome.
    pub status: SpanStatus,
}

impl Span {
    /// Adds a text attribute.
    pub fn text(&mut self, key: &'static str, value: impl Into<String>) {
        self.attributes.push((key, AttrValue::Str(value.into())));
    }

    /// Adds a whole-number attribute.
    pub fn int(&mut self, key: &'static str, value: i64) {
        self.attributes.push((key, AttrValue::Int(value)));
    }

    /// The value of attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// One turn's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// 16 random bytes, never all zero.
    pub trace_id: [u8; 16],
    /// The root first, then children in the order they started.
    pub spans: Vec<Span>,
}
