//! Observability: every turn becomes one trace (a root span, a generation span per model call,
//! a span per tool call and per retrieval), encoded as OTLP/HTTP JSON with Langfuse's
//! attribute keys, and a small per-turn summary (timings, tokens, cost, models tried).
//!
//! All of it is plain Rust tested on the host: `recorder` builds the trace from the engine's
//! events (`TracedSink` wraps any surface's sink, the one hook every surface goes through),
//! `otlp` encodes it, `redact` keeps secrets out of every exported string, `config` reads the
//! operator's environment and the tenant's integrations, `sampler` decides per trace. Only
//! `export` (sending under the outbound policy) is worker glue.

pub mod config;
#[cfg(target_arch = "wasm32")]
pub mod export;
pub mod log;
pub mod otlp;
pub mod recorder;
pub mod redact;
pub mod sampler;
pub mod score;
pub mod span;
pub mod summary;

pub use config::{Capture, ExportTarget, TargetKind};
pub use recorder::{RetrievalHit, TraceMeta, TracedSink, TurnRecorder};
pub use redact::Redactor;
pub use span::{AttrValue, Span, SpanEvent, SpanStatus, Trace};
pub use summary::TurnSummary;
