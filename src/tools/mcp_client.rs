//! Talks to remote MCP servers over `fetch` (Streamable HTTP): the handshake, tool listing and
//! calls, with the session and tool list kept per isolate for a short while so a chat turn
//! usually costs no extra round trip before the model is called.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::Value;
use worker::console_error;

use super::mcp::{self, ids, McpError, RemoteTool};
use crate::agent::McpServer;
use crate::outbound::fetch::{exchange, Outbound};
use crate::outbound::Policy;
use crate::platform::now_ms;

/// How long a server's tool list (and session) is reused before it is listed again.
const TOOLS_TTL_MS: i64 = 60_000;

/// Servers kept per isolate; the oldest is dropped past this.
const MAX_CACHED: usize = 256;

/// A negotiated connection: the revision and the session id the server issued, if any.
#[derive(Debug, Clone)]
struct Link {
    version: String,
    session: Option<String>,
}

struct Cached {
    link: Link,
    tools: Vec<RemoteTool>,
    at: i64,
}

thread_local! {
    static SERVERS: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// The cache key: the agent, and the server as configured (a changed URL is another server).
fn key(agent_id: &str, server: &McpServer) -> String {
    format!("{agent_id}\n{}\n{}", server.name, server.url.trim())
}

fn timeout(server: &McpServer) -> u32 {
    server
        .timeout_ms
        .unwrap_or(mcp::DEFAULT_TIMEOUT_MS)
        .clamp(1, mcp::MAX_TIMEOUT_MS)
}

/// One POST of a JSON-RPC message; the status, content type, session header and body.
async fn post(
    policy: &Policy,
    server: &McpServer,
    body: &str,
    link: Option<&Link>,
) -> Result<(u16, Option<String>, Option<String>, String), McpError> {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            "accept".to_owned(),
            "application/json, text/event-stream".to_owned(),
        ),
    ];
    if let Some(link) = link {
        headers.push(("mcp-protocol-version".into(), link.version.clone()));
        if let Some(session) = &link.session {
            headers.push(("mcp-session-id".into(), session.clone()));
        }
    }
    let request = Outbound {
        method: "POST",
        url: server.url.trim(),
        headers,
        credentials: server
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: Some(body),
        timeout_ms: timeout(server),
    };
    let answer = exchange(policy, request, &["content-type", "mcp-session-id"])
        .await
        .map_err(|e| McpError::Transport(e.to_string()))?;
    let mut headers = answer.headers.into_iter();
    let content_type = headers.next().flatten();
    let session = headers.next().flatten();
    Ok((answer.status, content_type, session, answer.text))
}

/// The handshake: `initialize`, then `notifications/initialized`.
async fn connect(policy: &Policy, server: &McpServer) -> Result<Link, McpError> {
    let (status, content_type, session, text) =
        post(policy, server, &mcp::initialize(), None).await?;
    let result = mcp::read_answer(
        status,
        content_type.as_deref(),
        &text,
        ids::INITIALIZE,
        false,
    )?;
    let link = Link {
        version: mcp::negotiated_version(&result)?,
        session: session.filter(|s| !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))),
    };
    let (status, _, _, text) = post(policy, server, &mcp::initialized(), Some(&link)).await?;
    if !(200..300).contains(&status) {
        return Err(McpError::Http {
            status,
            message: text.chars().take(200).collect(),
        });
    }
    Ok(link)
}

/// Sends one request on `link`; an expired session is re-initialised once.
async fn request(
    policy: &Policy,
    server: &McpServer,
    link: &mut Link,
    body: &str,
    id: u64,
) -> Result<Value, McpError> {
    let (status, content_type, _, text) = post(policy, server, body, Some(link)).await?;
    let had_session = link.session.is_some();
    match mcp::read_answer(status, content_type.as_deref(), &text, id, had_session) {
        Err(McpError::SessionExpired) => {
            *link = connect(policy, server).await?;
            let (status, content_type, _, text) = post(policy, server, body, Some(link)).await?;
            mcp::read_answer(status, content_type.as_deref(), &text, id, false)
        }
        other => other,
    }
}

/// Every tool the server lists (at most `MAX_TOOL_PAGES` pages and `MAX_TOOLS_PER_SERVER`).
async fn list_all(
    policy: &Policy,
    server: &McpServer,
    link: &mut Link,
) -> Result<Vec<RemoteTool>, McpError> {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..mcp::MAX_TOOL_PAGES {
        let result = request(
            policy,
            server,
            link,
            &mcp::list_tools(cursor.as_deref()),
            ids::LIST,
        )
        .await?;
        let (page, next) = mcp::read_tools(&result)?;
        tools.extend(page);
        match next {
            Some(next) if tools.len() < mcp::MAX_TOOLS_PER_SERVER => cursor = Some(next),
            _ => break,
        }
    }
    tools.truncate(mcp::MAX_TOOLS_PER_SERVER);
    Ok(tools)
}

fn cached(key: &str, fresh_since: i64) -> Option<(Link, Vec<RemoteTool>)> {
    SERVERS.with(|s| {
        s.borrow()
            .get(key)
            .filter(|c| c.at >= fresh_since)
            .map(|c| (c.link.clone(), c.tools.clone()))
    })
}

fn remember(key: String, link: Link, tools: Vec<RemoteTool>) {
    SERVERS.with(|s| {
        let mut servers = s.borrow_mut();
        if servers.len() >= MAX_CACHED && !servers.contains_key(&key) {
            if let Some(oldest) = servers
                .iter()
                .min_by_key(|(_, c)| c.at)
                .map(|(k, _)| k.clone())
            {
                servers.remove(&oldest);
            }
        }
        servers.insert(
            key,
            Cached {
                link,
                tools,
                at: now_ms(),
            },
        );
    });
}

/// The server's tools, from this isolate's cache while fresh (`fresh: false` lists again).
pub async fn tools(
    policy: &Policy,
    agent_id: &str,
    server: &McpServer,
    fresh: bool,
) -> Result<Vec<RemoteTool>, McpError> {
    let key = key(agent_id, server);
    if !fresh {
        if let Some((_, tools)) = cached(&key, now_ms() - TOOLS_TTL_MS) {
            return Ok(tools);
        }
    }
    let mut link = connect(policy, server).await?;
    let tools = list_all(policy, server, &mut link).await?;
    remember(key, link, tools.clone());
    Ok(tools)
}

/// Calls the server's tool `name`; the result as the model reads it, or a sentence saying why
/// there is none.
pub async fn call(
    policy: &Policy,
    agent_id: &str,
    server: &McpServer,
    name: &str,
    arguments: &Value,
) -> Result<Value, String> {
    let key = key(agent_id, server);
    let known = cached(&key, i64::MIN).map(|(link, _)| link);
    let outcome = async {
        let mut link = match known {
            Some(link) => link,
            None => connect(policy, server).await?,
        };
        let result = request(
            policy,
            server,
            &mut link,
            &mcp::call_tool(name, arguments),
            ids::CALL,
        )
        .await;
        // A re-initialised session is kept for the next call; the tool list keeps its age.
        SERVERS.with(|s| {
            if let Some(entry) = s.borrow_mut().get_mut(&key) {
                entry.link = link;
            }
        });
        result
    }
    .await;
    match outcome {
        Ok(result) => mcp::tool_output(&result),
        Err(error) => {
            console_error!("MCP server {}: {error}", server.name);
            Err(format!("The tool could not be called: {error}."))
        }
    }
}
