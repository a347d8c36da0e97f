//! The model side of a chat turn: an OpenAI-compatible streaming client and its wire format.
//!
//! Everything except `client` is plain Rust over bytes and structs, tested on the host.

pub mod feed;
pub mod openai;
pub mod sse;
pub mod tool_calls;

#[cfg(target_arch = "wasm32")]
pub mod client;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use openai::{ChatMessage, FunctionCall, ToolCall, ToolChoice, ToolSpec};

/// One thing the model said, decoded from a streamed chunk.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    /// The model that actually answers (providers may route to a fallback).
    Model(String),
    /// A piece of the visible answer.
    Text(String),
    /// A piece of the model's reasoning, when the provider streams it.
    Reasoning(String),
    /// A fragment of a tool call, in OpenAI delta form.
    ToolCall(ToolCallFragment),
    /// A web page the answer cites (OpenRouter `url_citation` annotations).
    Source {
        /// Address of the page.
        url: String,
        /// Its title, when known.
        title: Option<String>,
    },
    /// Token usage and cost; the last one seen wins.
    Usage(Usage),
    /// Why the model stopped.
    Finish(FinishReason),
    /// The provider reported an error inside a 200 stream.
    Error(String),
    /// The `[DONE]` sentinel.
    Done,
}

/// A streamed piece of a tool call; see `tool_calls` for how pieces are joined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCallFragment {
    /// Position of the call in the assistant message, when the provider sends it.
    pub index: Option<u32>,
    /// Provider call id, usually only on the first fragment.
    pub id: Option<String>,
    /// Function name, usually only on the first fragment.
    pub name: Option<String>,
    /// A piece of the JSON arguments text.
    pub arguments: String,
}

/// Token counts and cost of one or more model calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Completion tokens (including reasoning).
    #[serde(default)]
    pub output_tokens: u64,
    /// Cost in the provider's currency (USD for OpenRouter); 0 when not reported.
    #[serde(default)]
    pub cost: f64,
    /// Tokens the turn's knowledge searches spent embedding their queries: not the model's,
    /// so the store counts them under `knowledge:embeddings`, in the same write as the rest.
    #[serde(skip)]
    pub embedding_tokens: u64,
}

impl Usage {
    /// Adds another call's usage to this one.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost += other.cost;
        self.embedding_tokens += other.embedding_tokens;
    }
}

/// Why a model step ended, in AI SDK vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// The token limit cut the answer.
    Length,
    /// The model asked for tools.
    ToolCalls,
    /// A content filter stopped the answer.
    ContentFilter,
    /// The provider failed.
    Error,
    /// Anything else.
    Other,
}

impl FinishReason {
    /// Maps an OpenAI/OpenRouter `finish_reason` string.
    pub fn from_openai(reason: &str) -> Self {
        match reason {
            "stop" | "end_turn" => Self::Stop,
            "length" | "max_tokens" => Self::Length,
            "tool_calls" | "function_call" | "tool_use" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            "error" => Self::Error,
            _ => Self::Other,
        }
    }

    /// The AI SDK UI stream spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool-calls",
            Self::ContentFilter => "content-filter",
            Self::Error => "error",
            Self::Other => "other",
        }
    }
}

/// What one model call asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    /// Model id, e.g. `openai/gpt-4o-mini`.
    pub model: String,
    /// Conversation so far, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Whether the model may call tools in this step.
    pub tool_choice: Option<ToolChoice>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Completion token cap.
    pub max_tokens: Option<u32>,
    /// Other sampling settings the caller passed through.
    pub sampling: Sampling,
}

/// Sampling settings an API caller may pass through to the model; `None` (or empty) leaves
/// each to the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// Nucleus sampling mass.
    pub top_p: Option<f32>,
    /// Sequences that end the answer.
    pub stop: Vec<String>,
    /// Seed for repeatable sampling.
    pub seed: Option<i64>,
    /// Penalty for tokens already present.
    pub presence_penalty: Option<f32>,
    /// Penalty by token frequency.
    pub frequency_penalty: Option<f32>,
    /// `{"type":"text"|"json_object"|"json_schema",…}`, as OpenAI takes it.
    pub response_format: Option<Value>,
    /// Whether the model may call several tools at once.
    pub parallel_tool_calls: Option<bool>,
}

/// A failed model call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The provider answered with an HTTP error before streaming.
    #[error("model provider answered {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The request did not reach the provider or the connection broke.
    #[error("model provider unreachable: {0}")]
    Network(String),
    /// No answer, or no progress, within the configured time.
    #[error("model provider timed out")]
    Timeout,
    /// The provider reported an error in the middle of the stream.
    #[error("model provider failed mid-stream: {0}")]
    Stream(String),
    /// The stream ended without `[DONE]` or a finish reason.
    #[error("the model's answer was cut off")]
    Truncated,
    /// The visitor went away, so the call was cancelled.
    #[error("cancelled because the visitor disconnected")]
    Aborted,
}

impl ModelError {
    /// Whether trying the next fallback model can help.
    pub fn allows_fallback(&self) -> bool {
        match self {
            Self::Http { status, .. } => matches!(status, 403 | 404 | 408 | 409 | 429 | 500..=599),
            Self::Network(_) | Self::Timeout => true,
            Self::Stream(_) | Self::Truncated | Self::Aborted => false,
        }
    }

    /// A sentence a visitor can read; provider detail stays in the logs.
    pub fn visitor_message(&self) -> String {
        match self {
            Self::Http { status: 401, .. } => {
                "The AI service rejected this site's API key. The site owner needs to check OPENROUTER_API_KEY.".into()
            }
            Self::Http { status: 402, .. } => {
                "The AI service has no credits left for this site. Please try again later.".into()
            }
            Self::Http { status: 429, .. } => {
                "The AI service is busy right now. Please try again in a moment.".into()
            }
            Self::Http { status: 400, message } => format!("The AI service refused the request: {message}"),
            Self::Http { status: 403, .. } => "The AI service declined to answer this message.".into(),
            Self::Http { .. } | Self::Network(_) => {
                "The AI service is temporarily unavailable. Please try again.".into()
            }
            Self::Timeout => "The AI service took too long to answer. Please try again.".into(),
            Self::Stream(message) => format!("The AI service stopped answering: {message}"),
            Self::Truncated => "The AI service's answer was cut off. Please try again.".into(),
            Self::Aborted => "The answer was stopped.".into(),
        }
    }
}

/// Receives a model call's events synchronously, as they are decoded, in batches (one batch per
/// network read), so the transport can push bytes through without a Rust stream per chunk.
pub trait ModelEventHandler {
    /// Takes one event; `false` asks the transport to stop reading (the visitor left).
    fn on_event(&mut self, event: ModelEvent) -> bool;
    /// Ends a batch; `false` asks the transport to stop reading.
    fn end_batch(&mut self) -> bool;
}

/// Something that can run one streamed model call (OpenAI-compatible HTTP, or a script in tests).
#[allow(async_fn_in_trait)]
pub trait Model {
    /// Runs the call, pushing its events into `handler`, and hands the handler back with the
    /// outcome. `Ok` means the body ended or the handler stopped it; errors before or while
    /// reading (HTTP status, network, timeout, visitor gone, unreadable chunk) are `Err`.
    async fn stream<H: ModelEventHandler + 'static>(
        &self,
        request: &ModelRequest,
        handler: H,
    ) -> (H, Result<(), ModelError>);
}
