//! The per-turn summary kept with the answer: where the time went, tokens, cost, models tried.

use serde::{Deserialize, Serialize};

/// One model call of the turn, fallbacks included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelAttempt {
    /// The model asked for.
    pub model: String,
    /// Start, ms after the turn began.
    pub start_ms: i64,
    /// Duration in ms.
    pub ms: i64,
    /// Time to its first token in ms, when one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<i64>,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One tool call of the turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolTiming {
    /// Tool name.
    pub name: String,
    /// Start, ms after the turn began.
    pub start_ms: i64,
    /// Duration in ms.
    pub ms: i64,
    /// Whether it failed.
    #[serde(default)]
    pub error: bool,
}

/// Timings, tokens and cost of one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSummary {
    /// The trace this turn was exported as, when it was sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Whole turn, ms.
    pub total_ms: i64,
    /// From the turn's start to the first token the visitor saw, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<i64>,
    /// Time spent in model calls, ms.
    pub model_ms: i64,
    /// Time spent in tool calls (wall clock of each, summed), ms.
    pub tool_ms: i64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost (USD for OpenRouter).
    pub cost: f64,
    /// Every model call in order.
    pub models: Vec<ModelAttempt>,
    /// Every tool call in order.
    pub tools: Vec<ToolTiming>,
}
