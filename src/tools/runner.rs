//! Runs an agent's tools inside the worker: built-ins locally, webhooks over `fetch`.

use serde_json::Value;
use wasm_bindgen::prelude::*;
use worker::console_error;

use super::builtin::{
    current_time_result, timezone_argument, unknown_timezone, Builtin, LocalTime,
};
use super::webhook::{build_request, read_response};
use super::{mcp, mcp_client, LocalTools, Registry, Tool, ToolNotes, ToolRunner};
use crate::agent::{AgentConfig, McpServer, WebhookTool};
use crate::app::knowledge::tool::{self as knowledge_tool, KnowledgeTool};
use crate::auth::signature;
use crate::knowledge::client::HttpEmbedder;
use crate::llm::ToolSpec;
use crate::outbound::fetch::{send, Outbound, OutboundError};
use crate::outbound::{check_header, Policy};
use crate::platform::now_ms;
use crate::store::any::AnyStore;
use crate::store::Agent;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Intl)]
    type DateTimeFormat;

    #[wasm_bindgen(catch, constructor, js_namespace = Intl)]
    fn new(locale: &str, options: &js_sys::Object) -> Result<DateTimeFormat, JsValue>;

    #[wasm_bindgen(method, js_name = formatToParts)]
    fn format_to_parts(this: &DateTimeFormat, date: &js_sys::Date) -> js_sys::Array;
}

/// The tool runner for one agent.
pub struct WorkerTools<'a> {
    registry: Registry<'a>,
    outbound: &'a Policy,
    signing_secret: Option<&'a str>,
    local: Option<&'a dyn LocalTools>,
    knowledge: Option<KnowledgeTool<'a, AnyStore, HttpEmbedder>>,
    servers: &'a [McpServer],
    remote: Vec<RemoteEntry>,
    /// The agent whose servers these are (the key of the per-isolate session cache).
    agent_id: String,
}

/// A remote MCP server's tool as the model is offered it.
struct RemoteEntry {
    /// The name the model calls it by (`server__tool`).
    exposed: String,
    /// Index into the agent's `mcpServers`.
    server: usize,
    /// The server's own name for it.
    tool: String,
    spec: ToolSpec,
}

impl<'a> WorkerTools<'a> {
    /// Resolves the agent's tools; `outbound` is the policy every webhook call passes,
    /// `signing_secret` the tenant's webhook signing secret.
    pub fn new(
        config: &'a AgentConfig,
        outbound: &'a Policy,
        signing_secret: Option<&'a str>,
    ) -> Self {
        Self {
            registry: Registry::for_agent(config),
            outbound,
            signing_secret,
            servers: &config.mcp_servers,
            remote: Vec::new(),
            agent_id: String::new(),
            local: None,
            knowledge: None,
        }
    }

    /// Adds `search_knowledge` when the agent's knowledge is in tool mode (in auto mode the
    /// surface grounds the turn before it instead): every surface's one way to offer it.
    pub fn with_knowledge(
        mut self,
        store: &'a AnyStore,
        embedder: &'a HttpEmbedder,
        agent: &'a Agent,
    ) -> Self {
        self.knowledge = KnowledgeTool::for_agent(store, embedder, agent, now_ms);
        self
    }

    /// Adds a surface's own tools (asked first).
    pub fn with_local(mut self, local: &'a dyn LocalTools) -> Self {
        self.local = Some(local);
        self
    }

    /// Adds the tools of the agent's MCP servers (listed in parallel, or from this isolate's
    /// cache); a server that cannot be reached is left out of this turn and logged.
    pub async fn with_remote_tools(mut self, agent_id: &str) -> Self {
        if self.servers.is_empty() {
            return self;
        }
        agent_id.clone_into(&mut self.agent_id);
        let outbound = self.outbound;
        let listings = futures::future::join_all(
            self.servers
                .iter()
                .map(|server| mcp_client::tools(outbound, agent_id, server, false)),
        )
        .await;
        for (index, (server, listing)) in self.servers.iter().zip(listings).enumerate() {
            let tools = match listing {
                Ok(tools) => tools,
                Err(error) => {
                    console_error!("MCP server {} left out of this turn: {error}", server.name);
                    continue;
                }
            };
            for tool in tools {
                if !mcp::is_allowed(server.allowed_tools.as_deref(), &tool.name) {
                    continue;
                }
                let exposed = mcp::exposed_name(&server.name, &tool.name);
                if self.registry.get(&exposed).is_some()
                    || self.remote.iter().any(|r| r.exposed == exposed)
                {
                    continue;
                }
                self.remote.push(RemoteEntry {
                    spec: ToolSpec::function(&exposed, &tool.description, tool.input_schema),
                    exposed,
                    server: index,
                    tool: tool.name,
                });
            }
        }
        self
    }

    /// What the model is offered.
    pub fn specs(&self) -> Vec<ToolSpec> {
        let mut specs = self.registry.specs();
        if self.knowledge.is_some() {
            specs.push(knowledge_tool::spec());
        }
        specs.extend(self.remote.iter().map(|r| r.spec.clone()));
        if let Some(local) = self.local {
            specs.extend(local.specs());
        }
        specs
    }
}

impl ToolRunner for WorkerTools<'_> {
    async fn call(&self, name: &str, input: &Value) -> Result<Value, String> {
        if let Some(answer) = self.local.and_then(|local| local.call(name, input)) {
            return answer;
        }
        if let Some(knowledge) = self
            .knowledge
            .as_ref()
            .filter(|_| name == knowledge_tool::NAME)
        {
            return knowledge.call(input).await;
        }
        match self.registry.get(name) {
            None => match self.remote.iter().find(|r| r.exposed == name) {
                Some(remote) => {
                    let server = &self.servers[remote.server];
                    mcp_client::call(self.outbound, &self.agent_id, server, &remote.tool, input)
                        .await
                }
                None => Err(format!("There is no tool named {name}.")),
            },
            Some(Tool::Builtin(Builtin::CurrentTime)) => current_time(input),
            Some(Tool::Webhook(tool)) => {
                call_webhook(tool, input, self.outbound, self.signing_secret).await
            }
        }
    }

    fn take_notes(&self) -> ToolNotes {
        self.knowledge
            .as_ref()
            .map(KnowledgeTool::take_notes)
            .unwrap_or_default()
    }
}

/// The weekday (English name) and `HH:MM:SS` time now in an IANA time zone.
pub fn local_weekday_and_time(timezone: &str) -> Option<(String, String)> {
    let now = current_time(&serde_json::json!({ "timezone": timezone })).ok()?;
    let text = |name: &str| now.get(name)?.as_str().map(str::to_owned);
    Some((text("weekday")?, text("time")?))
}

fn current_time(input: &Value) -> Result<Value, String> {
    let tz = timezone_argument(input)?;
    let options = js_sys::Object::new();
    for (key, value) in [
        ("timeZone", tz.as_str()),
        ("hourCycle", "h23"),
        ("year", "numeric"),
        ("month", "2-digit"),
        ("day", "2-digit"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("second", "2-digit"),
        ("weekday", "long"),
        ("timeZoneName", "longOffset"),
    ] {
        js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value))
            .map_err(|_| unknown_timezone(&tz))?;
    }
    let format = DateTimeFormat::new("en-US", &options).map_err(|_| unknown_timezone(&tz))?;
    let mut local = LocalTime::default();
    for part in format.format_to_parts(&js_sys::Date::new_0()).iter() {
        let field = |name: &str| {
            js_sys::Reflect::get(&part, &JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        let value = field("value");
        match field("type").as_str() {
            "year" => local.year = value,
            "month" => local.month = value,
            "day" => local.day = value,
            "hour" => local.hour = value,
            "minute" => local.minute = value,
            "second" => local.second = value,
            "weekday" => local.weekday = value,
            "timeZoneName" => local.offset = value,
            _ => {}
        }
    }
    Ok(current_time_result(&tz, &local))
}

async fn call_webhook(
    tool: &WebhookTool,
    input: &Value,
    policy: &Policy,
    signing_secret: Option<&str>,
) -> Result<Value, String> {
    let call = build_request(tool, input)?;
    // Configs saved before headers were checked at save time are checked again here.
    for (name, value) in &call.headers {
        check_header(name, value).map_err(|e| format!("Tool {}: {e}", tool.name))?;
    }
    let (headers, mut credentials): (Vec<_>, Vec<_>) = call
        .headers
        .iter()
        .cloned()
        .partition(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    if let Some(secret) = signing_secret {
        let value = signature::sign(secret, now_ms() / 1000, call.signed_payload());
        credentials.push((signature::HEADER.to_owned(), value));
    }
    let request = Outbound {
        method: &call.method,
        url: &call.url,
        headers,
        credentials,
        body: call.body.as_deref(),
        timeout_ms: call.timeout_ms,
    };
    match send(policy, request).await {
        Ok((status, text)) => read_response(status, &text),
        Err(OutboundError::Timeout(ms)) => Err(format!("The tool did not answer within {ms} ms.")),
        Err(OutboundError::Unreachable(e)) => {
            Err(format!("Could not reach the tool's endpoint: {e}"))
        }
        Err(OutboundError::Refused(reason)) => {
            Err(format!("The tool's endpoint was not called: {reason}"))
        }
    }
}
