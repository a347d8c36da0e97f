//! Agent configuration as tenants write it and stores keep it (JSON, camelCase).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default number of tool rounds before the model must answer in text.
pub const DEFAULT_MAX_STEPS: u32 = 5;

/// Everything that defines how an agent behaves and looks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentConfig {
    /// Display name.
    pub name: String,
    /// System prompt.
    pub system_prompt: String,
    /// Primary model id.
    pub model: String,
    /// Fallback models, tried in order when the primary fails before answering.
    pub models: Vec<String>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Completion token cap per model call.
    pub max_tokens: Option<u32>,
    /// Tool rounds allowed per turn; the round after the last must be text.
    pub max_steps: u32,
    /// Tools the agent may call.
    pub tools: ToolsConfig,
    /// Remote MCP servers whose tools the agent may call.
    pub mcp_servers: Vec<McpServer>,
    /// Look of the chat surface.
    pub branding: Branding,
    /// First message shown to a visitor.
    pub welcome_message: Option<String>,
    /// Suggested first questions.
    pub starter_prompts: Vec<String>,
    /// Web origins whose pages may use the widget endpoints (`https://*.example.com` allowed).
    pub allowed_origins: Vec<String>,
    /// Only verified end users (signed by the tenant's backend) may chat.
    pub require_verified_user: bool,
    /// Abuse and spend limits.
    pub limits: Limits,
    /// Language of the widget's own texts (`en`, `es`, `fr`, `de`, `ar`); the browser's when unset.
    pub locale: Option<String>,
    /// Whether the widget sends the page's URL and title (and `setContext` data) with each message.
    pub send_page_context: bool,
    /// The knowledge bases it answers from, and how.
    pub knowledge: crate::knowledge::KnowledgeConfig,
    /// Whether every OpenAI-compatible API call is stored as a conversation (channel `api`), as
    /// if the caller sent `store: true`.
    pub store_api_conversations: bool,
    /// How the agent answers phone calls.
    pub phone: super::phone::PhoneConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            name: "Assistant".into(),
            system_prompt: String::new(),
            model: "openai/gpt-4o-mini".into(),
            models: Vec::new(),
            temperature: None,
            max_tokens: None,
            max_steps: DEFAULT_MAX_STEPS,
            tools: ToolsConfig::default(),
            mcp_servers: Vec::new(),
            branding: Branding::default(),
            welcome_message: None,
            starter_prompts: Vec::new(),
            allowed_origins: Vec::new(),
            require_verified_user: false,
            limits: Limits::default(),
            locale: None,
            send_page_context: true,
            knowledge: crate::knowledge::KnowledgeConfig::default(),
            store_api_conversations: false,
            phone: super::phone::PhoneConfig::default(),
        }
    }
}

impl AgentConfig {
    /// Tool rounds allowed, bounded by `MAX_STEPS_CEILING`.
    pub fn step_limit(&self) -> u32 {
        self.max_steps.min(MAX_STEPS_CEILING)
    }

    /// The primary model followed by the fallbacks, without duplicates or blanks.
    pub fn model_chain(&self) -> Vec<String> {
        let mut chain: Vec<String> = Vec::new();
        for model in std::iter::once(&self.model).chain(&self.models) {
            let model = model.trim();
            if !model.is_empty() && !chain.iter().any(|m| m == model) {
                chain.push(model.to_owned());
            }
        }
        chain
    }
}

/// Most tool rounds any agent may take in one turn, whatever its config says.
pub const MAX_STEPS_CEILING: u32 = 10;

/// Rate, size and spend limits of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// Chat requests a minute per visitor.
    pub visitor_per_minute: u32,
    /// Requests a minute per client IP, on every widget endpoint.
    pub ip_per_minute: u32,
    /// Chat requests a minute for the whole tenant through this agent.
    pub tenant_per_minute: u32,
    /// Longest user message, in characters.
    pub max_message_chars: u32,
    /// Most messages (user and assistant) in one conversation.
    pub max_messages_per_conversation: u32,
    /// Spend allowed per calendar month (UTC), in the provider's currency (USD on OpenRouter).
    pub monthly_spend_cap: Option<f64>,
    /// Model used once a spend cap is reached, instead of refusing to answer.
    pub spend_cap_model: Option<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            visitor_per_minute: 20,
            ip_per_minute: 60,
            tenant_per_minute: 600,
            max_message_chars: 4_000,
            max_messages_per_conversation: 200,
            monthly_spend_cap: None,
            spend_cap_model: None,
        }
    }
}

/// Which tools an agent has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ToolsConfig {
    /// Names of enabled built-in tools.
    pub builtin: Vec<String>,
    /// Tenant-defined HTTP tools.
    pub webhooks: Vec<WebhookTool>,
}

/// A tool that calls the tenant's HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTool {
    /// Tool name the model sees.
    pub name: String,
    /// What the tool does, for the model.
    #[serde(default)]
    pub description: String,
    /// JSON schema of the arguments.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
    /// Endpoint to call.
    pub url: String,
    /// HTTP method; arguments go in the JSON body, or the query string for GET.
    #[serde(default = "default_method")]
    pub method: String,
    /// Headers sent with every call; values are secrets and never leave the server.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-call timeout in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

fn default_method() -> String {
    "POST".into()
}

/// A remote MCP server (Streamable HTTP) whose tools the agent may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServer {
    /// Short name, also the prefix of its tools' names (`name__tool`).
    pub name: String,
    /// The server's MCP endpoint.
    pub url: String,
    /// Headers sent with every request (such as `Authorization`); values are secrets and never
    /// leave the server.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The server's tools the model may use, by the server's names; absent means all of them.
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    /// Per-request timeout in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
}

/// Colours, texts and images of the chat surface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Branding {
    /// Panel title.
    pub title: Option<String>,
    /// Accent colour (CSS colour).
    pub primary_color: Option<String>,
    /// `light`, `dark` or `auto`.
    pub theme: Option<String>,
    /// `bottom-right` or `bottom-left`.
    pub position: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Launcher icon URL.
    pub launcher_icon_url: Option<String>,
    /// Input placeholder text.
    pub placeholder: Option<String>,
    /// Show the "powered by" line.
    pub show_powered_by: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults() {
        let config: AgentConfig =
            serde_json::from_str(r#"{"name":"Support","model":"a/b"}"#).expect("parses");
        assert_eq!(config.max_steps, DEFAULT_MAX_STEPS);
        assert!(config.tools.builtin.is_empty());
    }

    #[test]
    fn model_chain_dedupes_and_skips_blanks() {
        let config = AgentConfig {
            model: "a".into(),
            models: vec!["b".into(), "a".into(), " ".into(), "c".into()],
            ..AgentConfig::default()
        };
        assert_eq!(config.model_chain(), vec!["a", "b", "c"]);
    }

    #[test]
    fn webhook_defaults() {
        let tool: WebhookTool =
            serde_json::from_str(r#"{"name":"lookup","url":"https://x.test/h"}"#).expect("parses");
        assert_eq!(tool.method, "POST");
        assert_eq!(tool.parameters["type"], "object");
    }
}
