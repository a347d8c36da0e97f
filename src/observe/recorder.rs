//! Builds a turn's trace and summary from what the engine reports: the events the visitor sees
//! (text, tool calls, errors) and the observations beside them (each model call's start and
//! end). `TracedSink` wraps any surface's `EventSink`, so every surface is traced the same way.
//!
//! The clock is read only at the moments that matter (a model call's start, its first token
//! and end, a tool's start and end), never per token: on Workers each read crosses into
//! JavaScript and costs CPU.

use serde_json::{json, Value};

use super::config::Capture;
use super::redact::Redactor;
use super::span::{AttrValue, Span, SpanEvent, SpanKind, SpanStatus, Trace};
use super::summary::{ModelAttempt, ToolTiming, TurnSummary};
use crate::agent::{AgentEvent, EventSink, Observation, TurnEnd};
use crate::auth::crypto::hex;
use crate::dates::iso_ms;
use crate::llm::{FinishReason, Usage};

/// Longest input or output text exported per attribute, in bytes (Langfuse caps batches).
pub const MAX_CAPTURED_BYTES: usize = 16 * 1024;

/// Who and what a turn is for: the root span's attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceMeta {
    /// Surface that ran the turn (`widget`, `api`, `voice`, `mcp`).
    pub surface: String,
    /// The conversation's channel label, when the client gave one.
    pub channel: Option<String>,
    /// Tenant id.
    pub tenant_id: String,
    /// Agent id.
    pub agent_id: String,
    /// Conversation id (`session.id`).
    pub conversation_id: Option<String>,
    /// The end user (`user.id`).
    pub user_id: Option<String>,
    /// The assistant message's id.
    pub message_id: String,
    /// What the user asked (exported only when content is captured).
    pub input: Option<String>,
    /// `langfuse.environment`.
    pub environment: Option<String>,
}

pub use crate::agent::events::RetrievalHit;

struct OpenGeneration {
    span: Span,
    requested: String,
    first_token_ms: Option<i64>,
    output: String,
}

struct OpenTool {
    call_id: String,
    span: Span,
}

/// Records one turn.
pub struct TurnRecorder {
    clock: Box<dyn Fn() -> i64>,
    capture: Capture,
    redactor: Redactor,
    meta: TraceMeta,
    trace_id: [u8; 16],
    root_id: [u8; 8],
    next_span: u64,
    start_ms: i64,
    spans: Vec<Span>,
    generation: Option<OpenGeneration>,
    /// Failed attempts of the current step that handed it to the next model.
    fallbacks: Vec<SpanEvent>,
    step_start_ms: Option<i64>,
    tools: Vec<OpenTool>,
    summary: TurnSummary,
    first_token_ms: Option<i64>,
    output: String,
    error: Option<String>,
    /// Tokens retrievals before the engine ran spent embedding their queries.
    embedding_tokens: u64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn truncated(text: &str) -> String {
    if text.len() <= MAX_CAPTURED_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_CAPTURED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl TurnRecorder {
    /// Starts recording a turn now; `seed` is 32 random bytes (the trace id and span ids come
    /// from it). With `capture.spans` off only the summary is kept.
    pub fn new(
        meta: TraceMeta,
        capture: Capture,
        redactor: Redactor,
        seed: [u8; 32],
        clock: Box<dyn Fn() -> i64>,
    ) -> Self {
        let mut trace_id = [0u8; 16];
        trace_id.copy_from_slice(&seed[..16]);
        if trace_id == [0; 16] {
            trace_id[15] = 1;
        }
        let mut span_seed = [0u8; 8];
        span_seed.copy_from_slice(&seed[16..24]);
        let start_ms = clock();
        let mut recorder = Self {
            clock,
            capture,
            redactor,
            meta,
            trace_id,
            root_id: [0; 8],
            next_span: u64::from_le_bytes(span_seed),
            start_ms,
            spans: Vec::new(),
            generation: None,
            fallbacks: Vec::new(),
            step_start_ms: None,
            tools: Vec::new(),
            summary: TurnSummary::default(),
            first_token_ms: None,
            output: String::new(),
            error: None,
            embedding_tokens: 0,
        };
        recorder.root_id = recorder.span_id();
        recorder
    }

    /// Moves the turn's start back to `start_ms` (the request's arrival, before the reads
    /// that decided how to trace it).
    pub fn started_at(&mut self, start_ms: i64) {
        self.start_ms = self.start_ms.min(start_ms);
    }

    /// The trace id, lowercase hex (32 characters).
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// Whether this turn's trace is kept for export.
    pub fn sampled(&self) -> bool {
        self.capture.spans
    }

    fn span_id(&mut self) -> [u8; 8] {
        loop {
            self.next_span = self.next_span.wrapping_add(1);
            let id = splitmix(self.next_span).to_be_bytes();
            if id != [0; 8] && id != self.root_id {
                return id;
            }
        }
    }

    fn child(&mut self, name: &str, kind: SpanKind, start_ms: i64) -> Span {
        Span {
            span_id: self.span_id(),
            parent: Some(self.root_id),
            name: name.to_owned(),
            kind,
            start_ms,
            end_ms: start_ms,
            attributes: Vec::new(),
            events: Vec::new(),
            status: SpanStatus::Ok,
        }
    }

    fn content(&self, text: &str) -> Option<String> {
        self.capture
            .content
            .then(|| self.redactor.clean(&truncated(text)))
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Notes one event the visitor sees.
    pub fn on_event(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::TextDelta { delta, .. } => {
                self.first_token();
                if self.capture.content && self.capture.spans {
                    if let Some(generation) = &mut self.generation {
                        generation.output.push_str(delta);
                    }
                    self.output.push_str(delta);
                }
            }
            AgentEvent::ReasoningDelta { .. } | AgentEvent::ToolInputStart { .. } => {
                self.first_token();
            }
            AgentEvent::ToolInputAvailable {
                call_id,
                name,
                input,
            } => self.tool_started(call_id, name, Some(input)),
            AgentEvent::ToolInputError {
                call_id,
                name,
                input,
                error,
            } => {
                self.tool_started(call_id, name, Some(input));
                self.tool_ended(call_id, Err(error));
            }
            AgentEvent::ToolOutputAvailable { call_id, output } => {
                self.tool_ended(call_id, Ok(output));
            }
            AgentEvent::ToolOutputError { call_id, error } => self.tool_ended(call_id, Err(error)),
            AgentEvent::Error { message } => self.error = Some(message.clone()),
            _ => {}
        }
    }

    fn first_token(&mut self) {
        let Some(generation) = &mut self.generation else {
            return;
        };
        if generation.first_token_ms.is_none() {
            let now = (self.clock)();
            generation.first_token_ms = Some(now);
            self.first_token_ms.get_or_insert(now);
        }
    }

    fn tool_started(&mut self, call_id: &str, name: &str, input: Option<&Value>) {
        let now = self.now();
        let mut span = self.child(&format!("tool {name}"), SpanKind::Internal, now);
        span.text("langfuse.observation.type", "tool");
        span.text("gen_ai.tool.name", name);
        span.text("gen_ai.tool.call.id", call_id);
        if let Some(input) = input.and_then(|i| self.content(&i.to_string())) {
            span.text("langfuse.observation.input", input);
        }
        self.tools.push(OpenTool {
            call_id: call_id.to_owned(),
            span,
        });
    }

    fn tool_ended(&mut self, call_id: &str, result: Result<&Value, &String>) {
        let Some(at) = self.tools.iter().position(|t| t.call_id == call_id) else {
            return;
        };
        let OpenTool { mut span, .. } = self.tools.swap_remove(at);
        span.end_ms = self.now().max(span.start_ms);
        match result {
            Ok(output) => {
                if let Some(output) = self.content(&output.to_string()) {
                    span.text("langfuse.observation.output", output);
                }
            }
            Err(error) => {
                let error = self.redactor.clean(error);
                span.text("langfuse.observation.level", "ERROR");
                span.text("langfuse.observation.status_message", error.clone());
                span.status = SpanStatus::Error(error);
            }
        }
        self.summary.tools.push(ToolTiming {
            name: span.name.trim_start_matches("tool ").to_owned(),
            start_ms: span.start_ms - self.start_ms,
            ms: span.end_ms - span.start_ms,
            error: matches!(span.status, SpanStatus::Error(_)),
        });
        self.summary.tool_ms += span.end_ms - span.start_ms;
        if self.capture.spans {
            self.spans.push(span);
        }
    }

    /// Counts the tokens a retrieval before the engine ran (auto mode's) spent embedding its
    /// query; `app::observe::run` adds them to the turn's usage.
    pub fn embedded(&mut self, tokens: u64) {
        self.embedding_tokens += tokens;
    }

    /// The tokens `embedded` counted.
    pub fn embedding_tokens(&self) -> u64 {
        self.embedding_tokens
    }

    /// Notes what the engine observed beside the events.
    pub fn observe(&mut self, observation: Observation<'_>) {
        match observation {
            Observation::Retrieval {
                query,
                hits,
                started_ms,
            } => self.retrieval(query, hits, started_ms),
            Observation::ModelCall { request, .. } => {
                let now = self.now();
                let start = *self.step_start_ms.get_or_insert(now);
                let mut span = self.child("chat.completion", SpanKind::Client, start);
                if self.capture.spans {
                    let mut parameters = serde_json::Map::new();
                    if let Some(t) = request.temperature {
                        parameters.insert("temperature".into(), json!(t));
                    }
                    if let Some(m) = request.max_tokens {
                        parameters.insert("max_tokens".into(), json!(m));
                    }
                    if !request.tools.is_empty() {
                        parameters.insert("tools".into(), json!(request.tools.len()));
                    }
                    span.text("langfuse.observation.type", "generation");
                    span.text("gen_ai.request.model", request.model.clone());
                    span.text(
                        "langfuse.observation.model.parameters",
                        Value::Object(parameters).to_string(),
                    );
                    if self.capture.content {
                        let input = serde_json::to_string(&request.messages).unwrap_or_default();
                        if let Some(input) = self.content(&input) {
                            span.text("langfuse.observation.input", input);
                        }
                    }
                }
                self.summary.models.push(ModelAttempt {
                    model: request.model.clone(),
                    start_ms: now - self.start_ms,
                    ms: 0,
                    first_token_ms: None,
                    error: None,
                });
                self.generation = Some(OpenGeneration {
                    span,
                    requested: request.model.clone(),
                    first_token_ms: None,
                    output: String::new(),
                });
            }
            Observation::ModelCallEnd {
                model,
                usage,
                finish,
                error,
                fallback,
            } => {
                let Some(generation) = self.generation.take() else {
                    return;
                };
                let now = self.now();
                let error = error.map(|e| self.redactor.clean(&e.to_string()));
                if let Some(attempt) = self.summary.models.last_mut() {
                    let started = self.start_ms + attempt.start_ms;
                    attempt.ms = now - started;
                    attempt.first_token_ms = generation.first_token_ms.map(|t| t - started);
                    attempt.error = error.clone();
                    self.summary.model_ms += now - started;
                }
                match error {
                    Some(error) if fallback => self.fallbacks.push(SpanEvent {
                        name: "model.fallback".into(),
                        time_ms: now,
                        attributes: vec![
                            ("gen_ai.request.model", AttrValue::Str(generation.requested)),
                            ("error.message", AttrValue::Str(error)),
                        ],
                    }),
                    error => {
                        self.close_generation(generation, model, usage, finish, error, now);
                    }
                }
            }
        }
    }

    fn close_generation(
        &mut self,
        generation: OpenGeneration,
        model: Option<&str>,
        usage: &Usage,
        finish: Option<FinishReason>,
        error: Option<String>,
        now: i64,
    ) {
        self.step_start_ms = None;
        let OpenGeneration {
            mut span,
            requested,
            first_token_ms,
            output,
        } = generation;
        span.end_ms = now.max(span.start_ms);
        span.events = std::mem::take(&mut self.fallbacks);
        if !self.capture.spans {
            return;
        }
        let model = model.unwrap_or(&requested).to_owned();
        span.name = format!("chat {model}");
        span.text("langfuse.observation.model.name", model.clone());
        span.text("gen_ai.response.model", model);
        if let Some(first) = first_token_ms {
            span.text("langfuse.observation.completion_start_time", iso_ms(first));
        }
        span.text(
            "langfuse.observation.usage_details",
            json!({
                "input": usage.input_tokens,
                "output": usage.output_tokens,
                "total": usage.input_tokens + usage.output_tokens,
            })
            .to_string(),
        );
        span.int("gen_ai.usage.input_tokens", usage.input_tokens as i64);
        span.int("gen_ai.usage.output_tokens", usage.output_tokens as i64);
        if usage.cost > 0.0 {
            span.text(
                "langfuse.observation.cost_details",
                json!({ "total": usage.cost }).to_string(),
            );
        }
        if let Some(finish) = finish {
            span.text("gen_ai.response.finish_reasons", finish.as_str());
        }
        if !output.is_empty() {
            if let Some(output) = self.content(&output) {
                span.text("langfuse.observation.output", output);
            }
        }
        if let Some(error) = error {
            span.text("langfuse.observation.level", "ERROR");
            span.text("langfuse.observation.status_message", error.clone());
            span.status = SpanStatus::Error(error);
        } else if !span.events.is_empty() {
            span.text("langfuse.observation.level", "WARNING");
        }
        self.spans.push(span);
    }

    /// Records a knowledge retrieval that ran from `start_ms` to now.
    pub fn retrieval(&mut self, query: &str, hits: &[RetrievalHit], start_ms: i64) {
        if !self.capture.spans {
            return;
        }
        let now = self.now();
        let mut span = self.child("retrieval", SpanKind::Internal, start_ms.min(now));
        span.end_ms = now;
        span.text("langfuse.observation.type", "retriever");
        span.int("retrieval.hits", hits.len() as i64);
        if let Some(query) = self.content(query) {
            span.text("langfuse.observation.input", query);
        }
        let hits: Vec<Value> = hits
            .iter()
            .map(|h| {
                let mut hit = json!({ "source": h.source, "score": h.score });
                if let (Some(text), true) = (&h.text, self.capture.content) {
                    hit["text"] = json!(truncated(text));
                }
                hit
            })
            .collect();
        span.text(
            "langfuse.observation.output",
            self.redactor.clean(&Value::Array(hits).to_string()),
        );
        self.spans.push(span);
    }

    /// Ends the turn: its trace (when sampled) and its summary.
    pub fn finish(mut self, end: &TurnEnd, usage: &Usage) -> (Option<Trace>, TurnSummary) {
        let now = self.now();
        // Calls cut short by the end of the turn (the visitor left mid-tool).
        for OpenTool { mut span, .. } in std::mem::take(&mut self.tools) {
            span.end_ms = now.max(span.start_ms);
            span.text("langfuse.observation.level", "WARNING");
            span.text("langfuse.observation.status_message", "not finished");
            if self.capture.spans {
                self.spans.push(span);
            }
        }
        if let Some(generation) = self.generation.take() {
            self.close_generation(generation, None, &Usage::default(), None, None, now);
        }
        if !self.fallbacks.is_empty() {
            // Every model of the chain failed: one generation holds all the attempts.
            let start = self.step_start_ms.unwrap_or(now);
            let span = self.child("chat.completion", SpanKind::Client, start);
            let last = self
                .fallbacks
                .last()
                .and_then(|e| match &e.attributes[..] {
                    [(_, AttrValue::Str(model)), (_, AttrValue::Str(error))] => {
                        Some((model.clone(), error.clone()))
                    }
                    _ => None,
                })
                .unwrap_or_default();
            let generation = OpenGeneration {
                span,
                requested: last.0,
                first_token_ms: None,
                output: String::new(),
            };
            let mut generation = generation;
            generation
                .span
                .text("langfuse.observation.type", "generation");
            self.close_generation(generation, None, &Usage::default(), None, Some(last.1), now);
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.total_ms = now - self.start_ms;
        summary.first_token_ms = self.first_token_ms.map(|t| t - self.start_ms);
        summary.input_tokens = usage.input_tokens;
        summary.output_tokens = usage.output_tokens;
        summary.cost = usage.cost;
        if !self.capture.spans {
            return (None, summary);
        }
        summary.trace_id = Some(self.trace_id());
        let root = self.root(end, usage, now);
        let mut spans = Vec::with_capacity(self.spans.len() + 1);
        spans.push(root);
        let mut children = std::mem::take(&mut self.spans);
        // A handful of spans, nearly in order already: an insertion sort by start keeps the
        // wasm free of the standard library's general sort.
        for i in 1..children.len() {
            let mut j = i;
            while j > 0 && children[j - 1].start_ms > children[j].start_ms {
                children.swap(j - 1, j);
                j -= 1;
            }
        }
        spans.extend(children);
        let trace = Trace {
            trace_id: self.trace_id,
            spans,
        };
        (Some(trace), summary)
    }

    fn root(&self, end: &TurnEnd, usage: &Usage, now: i64) -> Span {
        let meta = &self.meta;
        let mut root = Span {
            span_id: self.root_id,
            parent: None,
            name: format!("{} turn", meta.surface),
            kind: SpanKind::Internal,
            start_ms: self.start_ms,
            end_ms: now.max(self.start_ms),
            attributes: Vec::new(),
            events: Vec::new(),
            status: SpanStatus::Ok,
        };
        root.text("langfuse.observation.type", "agent");
        root.text("langfuse.trace.name", format!("{} turn", meta.surface));
        if let Some(user) = &meta.user_id {
            root.text("user.id", user.clone());
        }
        if let Some(conversation) = &meta.conversation_id {
            root.text("session.id", conversation.clone());
        }
        root.text("langfuse.trace.metadata.surface", meta.surface.clone());
        if let Some(channel) = &meta.channel {
            root.text("langfuse.trace.metadata.channel", channel.clone());
        }
        root.text("langfuse.trace.metadata.tenantId", meta.tenant_id.clone());
        root.text("langfuse.trace.metadata.agentId", meta.agent_id.clone());
        root.text("langfuse.trace.metadata.messageId", meta.message_id.clone());
        root.text(
            "langfuse.trace.tags",
            json!([format!("surface:{}", meta.surface)]).to_string(),
        );
        if let Some(environment) = &meta.environment {
            root.text("langfuse.environment", environment.clone());
        }
        if let Some(input) = meta.input.as_deref().and_then(|i| self.content(i)) {
            root.text("langfuse.trace.input", input.clone());
            root.text("langfuse.observation.input", input);
        }
        if !self.output.is_empty() {
            if let Some(output) = self.content(&self.output) {
                root.text("langfuse.trace.output", output.clone());
                root.text("langfuse.observation.output", output);
            }
        }
        root.int("gen_ai.usage.input_tokens", usage.input_tokens as i64);
        root.int("gen_ai.usage.output_tokens", usage.output_tokens as i64);
        let (outcome, status) = match end {
            TurnEnd::Finished(reason) => (reason.as_str().to_owned(), None),
            TurnEnd::Failed(message) => ("error".to_owned(), Some(message.clone())),
            TurnEnd::Aborted => ("aborted".to_owned(), None),
        };
        root.text("langfuse.trace.metadata.outcome", outcome);
        match (end, status.or_else(|| self.error.clone())) {
            (_, Some(message)) => {
                let message = self.redactor.clean(&message);
                root.text("langfuse.observation.level", "ERROR");
                root.text("langfuse.observation.status_message", message.clone());
                root.status = SpanStatus::Error(message);
            }
            (TurnEnd::Aborted, None) => {
                root.text("langfuse.observation.level", "WARNING");
                root.text(
                    "langfuse.observation.status_message",
                    "the visitor left before the answer ended",
                );
            }
            _ => {}
        }
        root
    }
}

/// Wraps a surface's sink: every event goes to it unchanged and is noted for the trace.
pub struct TracedSink<S> {
    inner: S,
    recorder: TurnRecorder,
}

impl<S: EventSink> TracedSink<S> {
    /// Traces the events `inner` receives with `recorder`.
    pub fn new(inner: S, recorder: TurnRecorder) -> Self {
        Self { inner, recorder }
    }

    /// The wrapped sink.
    pub fn inner(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The recorder, to add spans the engine does not see (a retrieval).
    pub fn recorder(&mut self) -> &mut TurnRecorder {
        &mut self.recorder
    }

    /// The wrapped sink and the recorder, once the turn is over.
    pub fn into_parts(self) -> (S, TurnRecorder) {
        (self.inner, self.recorder)
    }
}

impl<S: EventSink> EventSink for TracedSink<S> {
    fn send(&mut self, event: &AgentEvent) {
        self.recorder.on_event(event);
        self.inner.send(event);
    }

    fn flush(&mut self) -> bool {
        self.inner.flush()
    }

    fn observe(&mut self, observation: Observation<'_>) {
        self.recorder.observe(observation);
        self.inner.observe(observation);
    }
}

#[cfg(test)]
mod tests;
