//! Tools an agent can call: the registry that resolves names, built-ins and webhooks.

pub mod builtin;
pub mod mcp;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
pub mod mcp_client;
#[cfg(target_arch = "wasm32")]
pub mod runner;

use serde_json::Value;

use crate::agent::events::RetrievalHit;
use crate::agent::{AgentConfig, AgentEvent, WebhookTool};
use crate::llm::ToolSpec;
use builtin::Builtin;

/// Largest tool result, in bytes of JSON text, that reaches the model and the stream.
pub const MAX_TOOL_OUTPUT_BYTES: usize = 16 * 1024;

/// Runs a tool by name; the agent loop knows nothing else about tools.
#[allow(async_fn_in_trait)]
pub trait ToolRunner {
    /// Calls the tool; an error is a sentence the model (and visitor) can read.
    async fn call(&self, name: &str, input: &Value) -> Result<Value, String>;

    /// What the calls so far left for the answer besides their results, taken once: the
    /// loop streams and stores the citations and traces the retrievals.
    fn take_notes(&self) -> ToolNotes {
        ToolNotes::default()
    }
}

/// What tool calls add to an answer besides their results (a knowledge search's hits).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNotes {
    /// Citation events, for the stream and the stored answer.
    pub citations: Vec<AgentEvent>,
    /// Searches to record as retrieval spans.
    pub retrievals: Vec<Retrieved>,
    /// Tokens the searches spent embedding their queries (the turn's usage).
    pub embedding_tokens: u64,
}

/// One search a tool ran, for the turn's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved {
    /// What it searched for.
    pub query: String,
    /// What it found.
    pub hits: Vec<RetrievalHit>,
    /// When it began, ms since the epoch.
    pub started_ms: i64,
}

/// Tools a surface adds for one turn that answer at once, without I/O (the phone's
/// `transfer_to_human`); the worker's runner asks them first.
pub trait LocalTools {
    /// What the model is offered besides the agent's own tools.
    fn specs(&self) -> Vec<ToolSpec>;
    /// Answers the call when the tool is one of these; `None` passes it on.
    fn call(&self, name: &str, input: &Value) -> Option<Result<Value, String>>;
}

/// A tool the registry resolved.
#[derive(Debug, Clone, Copy)]
pub enum Tool<'a> {
    /// Runs inside the worker.
    Builtin(Builtin),
    /// Calls the tenant's endpoint.
    Webhook(&'a WebhookTool),
}

/// The tools one agent has, resolved from its configuration.
#[derive(Debug)]
pub struct Registry<'a> {
    builtins: Vec<Builtin>,
    webhooks: &'a [WebhookTool],
}

impl<'a> Registry<'a> {
    /// Resolves the agent's tool list; unknown built-in names are ignored.
    pub fn for_agent(config: &'a AgentConfig) -> Self {
        let builtins = config
            .tools
            .builtin
            .iter()
            .filter_map(|n| Builtin::from_name(n))
            .collect();
        Self {
            builtins,
            webhooks: &config.tools.webhooks,
        }
    }

    /// What the model is offered.
    pub fn specs(&self) -> Vec<ToolSpec> {
        let builtins = self.builtins.iter().map(|b| b.spec());
        let webhooks = self
            .webhooks
            .iter()
            .map(|w| ToolSpec::function(&w.name, &w.description, w.parameters.clone()));
        builtins.chain(webhooks).collect()
    }

    /// Finds a tool by the name the model used.
    pub fn get(&self, name: &str) -> Option<Tool<'a>> {
        if let Some(builtin) = self.builtins.iter().find(|b| b.name() == name) {
            return Some(Tool::Builtin(*builtin));
        }
        self.webhooks
            .iter()
            .find(|w| w.name == name)
            .map(Tool::Webhook)
    }
}

/// Caps a tool result: the value shown to the visitor and the text given to the model.
pub fn cap_output(value: Value, max_bytes: usize) -> (Value, String) {
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.len() <= max_bytes {
        return (value, text);
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let capped = format!("{}\n…[truncated {} bytes]", &text[..end], text.len() - end);
    (Value::String(capped.clone()), capped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_results_pass_unchanged() {
        let (shown, text) = cap_output(json!({"a": 1}), 100);
        assert_eq!(shown, json!({"a": 1}));
        assert_eq!(text, r#"{"a":1}"#);
    }

    #[test]
    fn large_results_are_cut_at_a_char_boundary() {
        let big = "é".repeat(100);
        let (shown, text) = cap_output(json!(big), 51);
        assert!(text.starts_with(&"é".repeat(25)));
        assert!(text.contains("[truncated 150 bytes]"));
        assert_eq!(shown, json!(text));
    }

    #[test]
    fn registry_offers_enabled_tools_only() {
        let config: AgentConfig = serde_json::from_value(json!({
            "tools": {
                "builtin": ["get_current_time", "no_such_tool"],
                "webhooks": [{"name": "lookup_order", "url": "https://shop.test/orders"}]
            }
        }))
        .expect("config");
        let registry = Registry::for_agent(&config);
        let names: Vec<String> = registry
            .specs()
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        assert_eq!(names, vec!["get_current_time", "lookup_order"]);
        assert!(matches!(
            registry.get("lookup_order"),
            Some(Tool::Webhook(_))
        ));
        assert!(registry.get("no_such_tool").is_none());
    }
}
