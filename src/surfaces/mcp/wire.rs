//! The MCP server's wire format (Streamable HTTP, revisions 2025-03-26 to 2025-11-25): reading
//! one JSON-RPC message per POST, version negotiation, the tools each endpoint offers with their
//! schemas, and the answers, all as plain data.

use serde_json::{json, Map, Value};

/// Revisions the server speaks, newest first; `initialize` answers with the client's when it is
/// one of them, else the newest.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// What a request without `MCP-Protocol-Version` is taken to speak (the specification's rule).
pub const DEFAULT_VERSION: &str = "2025-03-26";

/// JSON-RPC error codes.
pub mod code {
    /// The body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters (an unknown tool, arguments that do not fit its schema).
    pub const INVALID_PARAMS: i64 = -32602;
    /// The server failed.
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// A JSON-RPC error to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// One of `code`.
    pub code: i64,
    /// For the client's developer.
    pub message: String,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// One message a client POSTed.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: answered with a result or an error.
    Request {
        /// The client's id (a string or a number), echoed back.
        id: Value,
        /// The method.
        method: String,
        /// Its params (an empty object when absent).
        params: Map<String, Value>,
    },
    /// A notification, or the client's answer to a request: `202 Accepted`, no body.
    Accepted,
}

/// Reads the POSTed body; `Err` carries the error to answer with (id null).
pub fn read(body: &[u8]) -> Result<Incoming, RpcError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| RpcError::new(code::PARSE_ERROR, format!("The body is not JSON: {e}")))?;
    let Value::Object(mut message) = value else {
        return Err(RpcError::new(
            code::INVALID_REQUEST,
            "Send one JSON-RPC message per request (batches are not supported).",
        ));
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::new(
            code::INVALID_REQUEST,
            "The message must have \"jsonrpc\": \"2.0\".",
        ));
    }
    let method = match message.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_REQUEST,
                "method must be a string.",
            ))
        }
        // A response to a request of ours (we send none): accepted and dropped.
        None if message.contains_key("result") || message.contains_key("error") => {
            return Ok(Incoming::Accepted)
        }
        None => {
            return Err(RpcError::new(
                code::INVALID_REQUEST,
                "The message has no method.",
            ))
        }
    };
    let id = match message.remove("id") {
        None => return Ok(Incoming::Accepted),
        Some(id @ Value::String(_)) => id,
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_REQUEST,
                "id must be a string or an integer.",
            ))
        }
    };
    let params = match message.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_PARAMS,
                "params must be an object.",
            ))
        }
    };
    Ok(Incoming::Request { id, method, params })
}

/// The revision of a request's `MCP-Protocol-Version` header, or `None` when the server does
/// not speak it (answer 400).
pub fn header_version(header: Option<&str>) -> Option<&'static str> {
    match header.map(str::trim) {
        None | Some("") => Some(DEFAULT_VERSION),
        Some(asked) => SUPPORTED_VERSIONS.iter().copied().find(|v| *v == asked),
    }
}

/// The revision to answer `initialize` with.
pub fn negotiate(params: &Map<String, Value>) -> &'static str {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    SUPPORTED_VERSIONS
        .iter()
        .copied()
        .find(|v| Some(*v) == asked)
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

/// A result message.
pub fn result(id: &Value, result: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "result": result }).to_string()
}

/// An error message (`id` null when the request could not be read).
pub fn error(id: Option<&Value>, error: &RpcError) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": { "code": error.code, "message": error.message },
    })
    .to_string()
}

/// What `initialize` answers: the revision, tools as the only capability, who we are.
pub fn initialize_result(version: &str, server_name: &str, instructions: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": server_name, "version": env!("CARGO_PKG_VERSION") },
        "instructions": instructions,
    })
}

/// Which agents an endpoint and key reach: one agent (`/mcp/{agentId}`, or a key scoped to
/// one), or several (`/mcp` with a tenant-wide key, which also lists conversations).
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// One agent: `ask` needs no `agent` argument.
    Agent {
        /// Its id.
        id: String,
        /// Its name, for descriptions.
        name: String,
        /// Whether it has knowledge (then `search_knowledge` is offered).
        has_knowledge: bool,
    },
    /// The tenant's agents the key may call, by (id, name).
    Tenant {
        /// Agents `ask` may name.
        agents: Vec<(String, String)>,
        /// Whether any of them has knowledge.
        has_knowledge: bool,
    },
}

/// The tools' definitions (schemas, annotations) as JSON text: parsed when a client lists
/// them, which costs the wasm a fraction of building each schema in code.
const TOOL_DEFINITIONS: &str = include_str!("tools.json");

/// The tools of `tools/list` for a scope.
pub fn tools(scope: &Scope) -> Value {
    let mut all: Value = serde_json::from_str(TOOL_DEFINITIONS).unwrap_or_default();
    let mut take = |name: &str| all.get_mut(name).map(Value::take).unwrap_or_default();
    let mut list = Vec::new();
    let has_knowledge = match scope {
        Scope::Agent {
            name,
            has_knowledge,
            ..
        } => {
            let mut ask = take("askAgent");
            ask["title"] = json!(format!("Ask {name}"));
            ask["description"] = json!(format!("Sends a message to the agent {name} and returns its answer with the sources it cited. Pass the conversationId of an answer to continue that conversation."));
            list.push(ask);
            *has_knowledge
        }
        Scope::Tenant {
            agents,
            has_knowledge,
        } => {
            let names: Vec<String> = agents
                .iter()
                .map(|(id, name)| format!("{id} ({name})"))
                .collect();
            let mut ask = take("askTenant");
            ask["description"] = json!(format!("Sends a message to one of the tenant's agents and returns its answer with the sources it cited. Agents: {}.", names.join(", ")));
            ask["inputSchema"]["properties"]["agent"]["enum"] = agent_ids(agents);
            list.push(ask);
            for name in ["list_agents", "list_conversations", "get_conversation"] {
                list.push(take(name));
            }
            *has_knowledge
        }
    };
    if has_knowledge {
        let mut search = take("search_knowledge");
        if let Scope::Tenant { agents, .. } = scope {
            let schema = &mut search["inputSchema"];
            schema["properties"]["agent"] = json!({
                "type": "string", "enum": agent_ids(agents), "description": "Whose knowledge to search.",
            });
            if let Some(required) = schema["required"].as_array_mut() {
                required.push(json!("agent"));
            }
        }
        list.push(search);
    }
    json!({ "tools": list })
}

fn agent_ids(agents: &[(String, String)]) -> Value {
    Value::Array(agents.iter().map(|(id, _)| json!(id)).collect())
}

/// A `tools/call`: the tool's name and its arguments (an object).
pub fn tool_call(params: &Map<String, Value>) -> Result<(&str, &Map<String, Value>), RpcError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::new(code::INVALID_PARAMS, "tools/call needs a tool name."))?;
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => EMPTY.get_or_init(Map::new),
        Some(Value::Object(arguments)) => arguments,
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_PARAMS,
                "arguments must be an object.",
            ))
        }
    };
    Ok((name, arguments))
}

/// A string argument, trimmed; `Err` names it when it is missing or not a string.
pub fn text_argument<'a>(
    arguments: &'a Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<&'a str>, RpcError> {
    match arguments.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.trim())),
        _ => Err(RpcError::new(
            code::INVALID_PARAMS,
            format!("The argument {name} must be a non-empty string."),
        )),
    }
}

/// A tool's answer: the text for the model, and the same data as `structuredContent`.
pub fn tool_result(text: &str, structured: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": text }],
        "structuredContent": structured,
        "isError": false,
    })
}

/// An `ask` whose answer failed: the error to read (`isError`), and the conversation the
/// question was stored in, so the caller can ask again in it.
pub fn answer_failure(message: &str, conversation_id: &str) -> Value {
    json!({
        "content": [{ "type": "text", "text": message }],
        "structuredContent": { "answer": "", "conversationId": conversation_id, "sources": [] },
        "isError": true,
    })
}

/// A tool that ran and failed: a result the calling model can read (`isError`), not a protocol
/// error.
pub fn tool_failure(message: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": message }], "isError": true })
}

/// RFC 9728 protected-resource metadata for the MCP endpoint at `resource`.
pub fn resource_metadata(resource: &str) -> Value {
    json!({
        "resource": resource,
        "bearer_methods_supported": ["header"],
        "resource_name": "Edge Agent Chat MCP server",
    })
}

/// The `WWW-Authenticate` value of a 401, pointing clients at the metadata.
pub fn www_authenticate(metadata_url: &str) -> String {
    format!("Bearer resource_metadata=\"{metadata_url}\"")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod definition_tests {
    use super::*;

    #[test]
    fn every_tool_definition_parses_with_its_schemas_and_annotations() {
        let all: Value = serde_json::from_str(TOOL_DEFINITIONS).expect("tools.json is JSON");
        let names = [
            "askAgent",
            "askTenant",
            "list_agents",
            "list_conversations",
            "get_conversation",
            "search_knowledge",
        ];
        for name in names {
            let tool = &all[name];
            for part in ["inputSchema", "outputSchema", "annotations"] {
                assert!(tool[part].is_object(), "{name} has no {part}");
            }
        }
        let tenant = tools(&Scope::Tenant {
            agents: vec![("a1".into(), "One".into())],
            has_knowledge: true,
        });
        let listed: Vec<&str> = tenant["tools"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(
            listed,
            [
                "ask",
                "list_agents",
                "list_conversations",
                "get_conversation",
                "search_knowledge"
            ]
        );
        let search = &tenant["tools"][4]["inputSchema"];
        assert_eq!(search["required"], json!(["query", "agent"]));
        assert_eq!(search["properties"]["agent"]["enum"], json!(["a1"]));
        assert_eq!(
            tenant["tools"][0]["inputSchema"]["properties"]["agent"]["enum"],
            json!(["a1"])
        );
    }
}
