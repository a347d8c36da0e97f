//! The one event type every surface encodes (UI message stream today; others later).

use serde_json::Value;

use crate::llm::{FinishReason, ModelError, ModelRequest, Usage};

/// Something that happened during a turn, in the order the visitor should see it.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The assistant message begins.
    Start {
        /// Id of the assistant message being produced.
        message_id: String,
    },
    /// A model call begins.
    StepStart,
    /// A text block begins.
    TextStart {
        /// Block id.
        id: String,
    },
    /// More text.
    TextDelta {
        /// Block id.
        id: String,
        /// The new text.
        delta: String,
    },
    /// A text block ends.
    TextEnd {
        /// Block id.
        id: String,
    },
    /// A reasoning block begins.
    ReasoningStart {
        /// Block id.
        id: String,
    },
    /// More reasoning.
    ReasoningDelta {
        /// Block id.
        id: String,
        /// The new text.
        delta: String,
    },
    /// A reasoning block ends.
    ReasoningEnd {
        /// Block id.
        id: String,
    },
    /// The model started a tool call.
    ToolInputStart {
        /// Call id.
        call_id: String,
        /// Tool name.
        name: String,
    },
    /// More of the call's JSON arguments.
    ToolInputDelta {
        /// Call id.
        call_id: String,
        /// Argument text.
        delta: String,
    },
    /// The call's arguments are complete and valid.
    ToolInputAvailable {
        /// Call id.
        call_id: String,
        /// Tool name.
        name: String,
        /// Parsed arguments.
        input: Value,
    },
    /// The call's arguments could not be used.
    ToolInputError {
        /// Call id.
        call_id: String,
        /// Tool name.
        name: String,
        /// What the model sent (a string when it was not JSON).
        input: Value,
        /// Why it was refused.
        error: String,
    },
    /// The tool returned.
    ToolOutputAvailable {
        /// Call id.
        call_id: String,
        /// Result (capped in size).
        output: Value,
    },
    /// The tool failed.
    ToolOutputError {
        /// Call id.
        call_id: String,
        /// A readable reason.
        error: String,
    },
    /// The answer cites a web page.
    SourceUrl {
        /// Source id, unique in the message.
        source_id: String,
        /// Address of the page.
        url: String,
        /// Its title, when known.
        title: Option<String>,
    },
    /// The answer used a passage of the tenant's knowledge: a web page (`url`) or a document.
    Citation {
        /// Source id, unique in the message.
        source_id: String,
        /// The page, for web sources (a `source-url` part); `None`: a `source-document` part.
        url: Option<String>,
        /// Title of the page or document.
        title: String,
        /// Provider metadata: the passage, its score and chunk (`{"knowledge": {...}}`).
        metadata: Value,
    },
    /// A model call ended.
    StepFinish,
    /// The turn failed; the text is for the visitor.
    Error {
        /// Readable message.
        message: String,
    },
    /// The assistant message is complete.
    Finish {
        /// Why it ended.
        reason: FinishReason,
    },
}

/// One knowledge hit of a retrieval, as a trace shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalHit {
    /// Where it came from (document or chunk id).
    pub source: String,
    /// Similarity score.
    pub score: f64,
    /// The text, exported only when content is captured.
    pub text: Option<String>,
}

/// What the loop notes beside the events the visitor sees, for traces and per-turn timings.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// A tool searched the agent's knowledge (`search_knowledge` in tool mode).
    Retrieval {
        /// What it searched for.
        query: &'a str,
        /// What it found, best first.
        hits: &'a [RetrievalHit],
        /// When the search began, ms since the epoch.
        started_ms: i64,
    },
    /// A model call begins (`attempt` counts every call of the turn, fallbacks included).
    ModelCall {
        /// What is sent; `request.model` is the model asked for.
        request: &'a ModelRequest,
        /// 1 for the turn's first call.
        attempt: u32,
    },
    /// That model call ended.
    ModelCallEnd {
        /// The model the provider said answered, when it said.
        model: Option<&'a str>,
        /// Its usage.
        usage: &'a Usage,
        /// Why it stopped, when it said.
        finish: Option<FinishReason>,
        /// Why it failed, if it did.
        error: Option<&'a ModelError>,
        /// Whether the next model in the chain takes the step over.
        fallback: bool,
    },
}
