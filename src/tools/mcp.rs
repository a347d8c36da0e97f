//! Tools from remote MCP servers, client side of the Streamable HTTP transport: the JSON-RPC
//! messages the worker sends, the answers they come back in (one JSON object or an SSE stream),
//! and the names the tools are offered to the model under.

use serde_json::{json, Value};

use crate::llm::sse::{SseEvent, SseParser};

/// The protocol revision the worker asks for; it also speaks the older ones below.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Revisions the worker accepts from a server's `initialize` answer.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// Pages of `tools/list` read per server (a server with more is cut, and the cut is logged).
pub const MAX_TOOL_PAGES: usize = 5;

/// Tools kept per server, whatever it lists.
pub const MAX_TOOLS_PER_SERVER: usize = 64;

/// Timeout of one request to a server when its config sets none.
pub const DEFAULT_TIMEOUT_MS: u32 = 15_000;

/// Longest timeout a server's config may set.
pub const MAX_TIMEOUT_MS: u32 = 30_000;

/// Longest tool name the model providers accept (`^[a-zA-Z0-9_-]{1,64}$`).
const MAX_NAME: usize = 64;

/// The JSON-RPC ids the worker uses: one request per POST, so fixed ids per method suffice.
pub mod ids {
    /// `initialize`.
    pub const INITIALIZE: u64 = 1;
    /// `tools/list`.
    pub const LIST: u64 = 2;
    /// `tools/call`.
    pub const CALL: u64 = 3;
}

/// Why a request to an MCP server gave no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum McpError {
    /// The server answered with an HTTP error status.
    #[error("the MCP server answered HTTP {status}{}", detail(.message))]
    Http {
        /// The status.
        status: u16,
        /// What the body said, shortened.
        message: String,
    },
    /// A JSON-RPC error object.
    #[error("the MCP server refused the request: {message} ({code})")]
    Protocol {
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The session the worker held is gone (404 on a request that carried it).
    #[error("the MCP session expired")]
    SessionExpired,
    /// The server chose a protocol revision the worker does not speak.
    #[error("the MCP server speaks protocol {0}, which is not supported")]
    UnsupportedVersion(String),
    /// The answer was not JSON-RPC, or not the answer to the request.
    #[error("the MCP server sent an unreadable answer: {0}")]
    Malformed(String),
    /// No answer: the outbound policy refused the URL, or the server was unreachable or slow.
    #[error("{0}")]
    Transport(String),
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// The `initialize` request, asking for `PROTOCOL_VERSION` and declaring no client
/// capabilities, so a server has no reason to send the worker requests of its own.
pub fn initialize() -> String {
    json!({
        "jsonrpc": "2.0",
        "id": ids::INITIALIZE,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "edge-agent-chat", "version": env!("CARGO_PKG_VERSION") },
        },
    })
    .to_string()
}

/// The notification that ends the handshake.
pub fn initialized() -> String {
    json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }).to_string()
}

/// One page of `tools/list`.
pub fn list_tools(cursor: Option<&str>) -> String {
    let params = match cursor {
        Some(cursor) => json!({ "cursor": cursor }),
        None => json!({}),
    };
    json!({ "jsonrpc": "2.0", "id": ids::LIST, "method": "tools/list", "params": params })
        .to_string()
}

/// A `tools/call` of the server's own tool name.
pub fn call_tool(name: &str, arguments: &Value) -> String {
    let arguments = match arguments {
        Value::Object(_) => arguments.clone(),
        _ => json!({}),
    };
    json!({
        "jsonrpc": "2.0",
        "id": ids::CALL,
        "method": "tools/call",
        "params": { "name": name, "arguments": arguments },
    })
    .to_string()
}

/// The `result` of the answer to request `id`, from an HTTP answer: a JSON object, or an SSE
/// stream in which notifications and requests from the server come before it (and are skipped).
/// `had_session`: the request carried a session id, so a 404 means it expired.
pub fn read_answer(
    status: u16,
    content_type: Option<&str>,
    body: &str,
    id: u64,
    had_session: bool,
) -> Result<Value, McpError> {
    if status == 404 && had_session {
        return Err(McpError::SessionExpired);
    }
    if !(200..300).contains(&status) {
        return Err(McpError::Http {
            status,
            message: shorten(body.trim(), 200),
        });
    }
    let is_sse = content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
    });
    let messages: Vec<Value> = if is_sse {
        let mut parser = SseParser::new();
        let mut events: Vec<SseEvent> = Vec::new();
        parser.feed(body.as_bytes(), &mut events);
        parser.finish(&mut events);
        events
            .iter()
            .filter(|e| e.event.as_deref().is_none_or(|name| name == "message"))
            .filter_map(|e| serde_json::from_str(&e.data).ok())
            .collect()
    } else {
        match serde_json::from_str(body) {
            Ok(Value::Array(batch)) => batch,
            Ok(single) => vec![single],
            Err(e) => return Err(McpError::Malformed(e.to_string())),
        }
    };
    let answer = messages
        .into_iter()
        .find(|m| {
            m.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
                && m.get("id").and_then(Value::as_u64) == Some(id)
                && m.get("method").is_none()
        })
        .ok_or_else(|| McpError::Malformed(format!("no answer to request {id}")))?;
    if let Some(error) = answer.get("error") {
        return Err(McpError::Protocol {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(-32603),
            message: shorten(
                error.get("message").and_then(Value::as_str).unwrap_or(""),
                200,
            ),
        });
    }
    answer
        .get("result")
        .cloned()
        .ok_or_else(|| McpError::Malformed("an answer without a result".into()))
}

/// The revision the server chose in its `initialize` result, when the worker speaks it.
pub fn negotiated_version(result: &Value) -> Result<String, McpError> {
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| McpError::Malformed("initialize without a protocolVersion".into()))?;
    if SUPPORTED_VERSIONS.contains(&version) {
        Ok(version.to_owned())
    } else {
        Err(McpError::UnsupportedVersion(shorten(version, 40)))
    }
}

/// A tool a server lists.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTool {
    /// The server's name for it.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of its arguments.
    pub input_schema: Value,
}

/// The tools of one `tools/list` page and the cursor of the next page. Tools without a name are
/// skipped; a missing or non-object schema becomes an empty object schema.
pub fn read_tools(result: &Value) -> Result<(Vec<RemoteTool>, Option<String>), McpError> {
    let listed = result
        .get("tools")
        .and_then(Value::as_array)
        .ok_or_else(|| McpError::Malformed("tools/list without tools".into()))?;
    let tools = listed
        .iter()
        .filter_map(|tool| {
            let name = tool.get("name").and_then(Value::as_str)?.trim();
            if name.is_empty() {
                return None;
            }
            let description = tool
                .get("description")
                .or_else(|| tool.get("title"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let input_schema = match tool.get("inputSchema") {
                Some(schema @ Value::Object(_)) => schema.clone(),
                _ => json!({ "type": "object", "properties": {} }),
            };
            Some(RemoteTool {
                name: name.to_owned(),
                description: shorten(description, 1024),
                input_schema,
            })
        })
        .collect();
    let next = result
        .get("nextCursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    Ok((tools, next))
}

/// Whether the agent's config lets the model use `tool` (`None`: every tool of the server).
pub fn is_allowed(allowed: Option<&[String]>, tool: &str) -> bool {
    allowed.is_none_or(|names| names.iter().any(|n| n == tool))
}

/// The name the model sees for `tool` of `server`: `server__tool`, with characters outside
/// `[a-zA-Z0-9_-]` as `_`, and when longer than 64 characters, cut with a hash of the whole
/// name appended so two long names stay apart.
pub fn exposed_name(server: &str, tool: &str) -> String {
    let full = format!("{server}__{tool}");
    let clean: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.len() <= MAX_NAME && clean == full {
        return clean;
    }
    if clean.len() <= MAX_NAME - 9 {
        return format!("{clean}_{:08x}", fnv1a(&full));
    }
    format!("{}_{:08x}", &clean[..MAX_NAME - 9], fnv1a(&full))
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// A `tools/call` result as the model reads it: its text content joined (other content kinds
/// named), with `structuredContent` beside it when the server sent some; `Err` when the server
/// says the tool failed (`isError`), with the text it gave.
pub fn tool_output(result: &Value) -> Result<Value, String> {
    let mut text = String::new();
    for item in result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !text.is_empty() {
            text.push('\n');
        }
        match item.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(item.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("resource_link") => {
                let uri = item.get("uri").and_then(Value::as_str).unwrap_or("");
                text.push_str(&format!("[resource {uri}]"));
            }
            Some("resource") => {
                let resource = item.get("resource");
                match resource.and_then(|r| r.get("text")).and_then(Value::as_str) {
                    Some(inner) => text.push_str(inner),
                    None => text.push_str("[embedded resource]"),
                }
            }
            Some(kind) => {
                let mime = item.get("mimeType").and_then(Value::as_str).unwrap_or("");
                text.push_str(&format!("[{kind} {mime}]"));
            }
            None => {}
        }
    }
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return Err(if text.is_empty() {
            "The tool failed without saying why.".to_owned()
        } else {
            text
        });
    }
    Ok(match result.get("structuredContent") {
        Some(structured) if !structured.is_null() => {
            json!({ "text": text, "structuredContent": structured })
        }
        _ => Value::String(text),
    })
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
