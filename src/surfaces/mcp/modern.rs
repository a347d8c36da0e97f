//! Revision 2026-07-28 of MCP beside the earlier ones: no `initialize`, each request names its
//! revision and the client's capabilities in `params._meta`, the `Mcp-Method` and `Mcp-Name`
//! headers mirror the body and must match it, `server/discover` tells what the server speaks,
//! and every result says `resultType`. A request is served by the revision it names: modern
//! when its `_meta` or its `MCP-Protocol-Version` header says 2026-07-28, else the earlier
//! revision of its header (`initialize` and all).

use serde_json::{json, Map, Value};

use super::wire::{code, DEFAULT_VERSION, SUPPORTED_VERSIONS};
use crate::auth::crypto::from_base64url;

/// The stateless revision.
pub const VERSION: &str = "2026-07-28";

/// Every revision the server speaks, newest first.
pub const ALL_VERSIONS: [&str; 4] = [VERSION, "2025-11-25", "2025-06-18", "2025-03-26"];

/// A header is missing, malformed or does not match the body.
pub const HEADER_MISMATCH: i64 = -32020;

/// The request names a revision the server does not speak.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// How long a client may keep a tool list or a discovery result: the tools change only when
/// the tenant's agents do.
const TTL_MS: u64 = 60_000;

/// The headers of a POST that mirror its body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    /// `MCP-Protocol-Version`.
    pub version: Option<&'a str>,
    /// `Mcp-Method`.
    pub method: Option<&'a str>,
    /// `Mcp-Name`.
    pub name: Option<&'a str>,
}

/// Which revisions' rules a request is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-03-26 to 2025-11-25: `initialize`, `ping`, results without `resultType`.
    Legacy,
    /// 2026-07-28.
    Modern,
}

/// A request refused with `400 Bad Request` and this JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The JSON-RPC error code.
    pub code: i64,
    /// For the client's developer.
    pub message: String,
    /// `data`, when the error has any.
    pub data: Option<Value>,
}

impl Refusal {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The error message to send (`id` null when the request could not be read).
    pub fn body(&self, id: Option<&Value>) -> String {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error })
            .to_string()
    }
}

fn unsupported(requested: &str) -> Refusal {
    Refusal {
        code: UNSUPPORTED_PROTOCOL_VERSION,
        message: "Unsupported protocol version".into(),
        data: Some(json!({ "supported": ALL_VERSIONS, "requested": requested })),
    }
}

fn mismatch(message: impl Into<String>) -> Refusal {
    Refusal::new(HEADER_MISMATCH, message)
}

/// The `MCP-Protocol-Version` header, trimmed; `None` when absent or empty.
fn header_version<'a>(headers: &Headers<'a>) -> Option<&'a str> {
    headers.version.map(str::trim).filter(|v| !v.is_empty())
}

/// Checks the version header alone, before the body is read: a revision the server speaks, or
/// none.
pub fn check_header(headers: &Headers) -> Result<(), Refusal> {
    match header_version(headers) {
        Some(version) if !ALL_VERSIONS.contains(&version) => Err(unsupported(version)),
        _ => Ok(()),
    }
}

/// Which revision serves a request, after the checks its revision asks for.
pub fn check(headers: &Headers, method: &str, params: &Map<String, Value>) -> Result<Era, Refusal> {
    let meta = params.get("_meta").and_then(Value::as_object);
    let meta_version = meta.and_then(|m| m.get(META_VERSION));
    let header = header_version(headers);
    if meta_version.is_none() && header != Some(VERSION) {
        let version = header.unwrap_or(DEFAULT_VERSION);
        return if SUPPORTED_VERSIONS.contains(&version) {
            Ok(Era::Legacy)
        } else {
            Err(unsupported(version))
        };
    }
    let Some(header) = header else {
        return Err(mismatch(
            "Header mismatch: the MCP-Protocol-Version header is required.",
        ));
    };
    let Some(Value::String(version)) = meta_version else {
        return Err(Refusal::new(
            code::INVALID_PARAMS,
            format!("params._meta must carry {META_VERSION}, a string."),
        ));
    };
    if header != version {
        return Err(mismatch(format!(
            "Header mismatch: MCP-Protocol-Version header value '{header}' does not match body value '{version}'."
        )));
    }
    if version != VERSION {
        return if SUPPORTED_VERSIONS.contains(&version.as_str()) {
            Ok(Era::Legacy)
        } else {
            Err(unsupported(version))
        };
    }
    if !meta
        .and_then(|m| m.get(META_CAPABILITIES))
        .is_some_and(Value::is_object)
    {
        return Err(Refusal::new(
            code::INVALID_PARAMS,
            format!("params._meta must carry {META_CAPABILITIES}, an object."),
        ));
    }
    match headers.method {
        None => {
            return Err(mismatch(
                "Header mismatch: the Mcp-Method header is required.",
            ))
        }
        Some(named) if named != method => {
            return Err(mismatch(format!(
                "Header mismatch: Mcp-Method header value '{named}' does not match body value '{method}'."
            )))
        }
        Some(_) => {}
    }
    let body_name = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => return Ok(Era::Modern),
    };
    let Some(header) = headers.name else {
        return Err(mismatch(format!(
            "Header mismatch: {method} needs the Mcp-Name header."
        )));
    };
    let named = decode(header)
        .ok_or_else(|| mismatch("Header mismatch: the Mcp-Name header is not a valid value."))?;
    match body_name.and_then(Value::as_str) {
        Some(body) if body == named => Ok(Era::Modern),
        body => Err(mismatch(format!(
            "Header mismatch: Mcp-Name header value '{named}' does not match body value '{}'.",
            body.unwrap_or("")
        ))),
    }
}

/// A header value as sent: plain visible ASCII, or `=?base64?…?=` (Base64 of its UTF-8).
fn decode(value: &str) -> Option<String> {
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
    {
        return None;
    }
    let Some(encoded) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    if encoded.contains(['-', '_']) {
        return None;
    }
    // Standard Base64 read as its URL-safe form, padding dropped.
    let url_safe: String = encoded
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    String::from_utf8(from_base64url(&url_safe)?).ok()
}

/// Who the server is, for results' `_meta`.
fn server_info() -> Value {
    json!({ "name": "edge-agent-chat", "version": env!("CARGO_PKG_VERSION") })
}

/// Marks a result as the revision asks: `resultType`, the server in `_meta`, and for a tool
/// list how long it may be cached (by this client only: the tools depend on the key).
pub fn complete(result: &mut Value, cacheable: bool) {
    let Some(fields) = result.as_object_mut() else {
        return;
    };
    fields.insert("resultType".into(), json!("complete"));
    let meta = fields
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(META_SERVER_INFO.into(), server_info());
    }
    if cacheable {
        fields.insert("ttlMs".into(), json!(TTL_MS));
        fields.insert("cacheScope".into(), json!("private"));
    }
}

/// What `server/discover` answers.
pub fn discover_result(instructions: &str) -> Value {
    let mut result = json!({
        "supportedVersions": ALL_VERSIONS,
        "capabilities": { "tools": {} },
        "instructions": instructions,
    });
    complete(&mut result, true);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    fn modern_call(name: &str) -> Map<String, Value> {
        params(json!({
            "name": name,
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        }))
    }

    const MODERN: Headers = Headers {
        version: Some("2026-07-28"),
        method: Some("tools/call"),
        name: Some("ask"),
    };

    #[test]
    fn legacy_requests_go_by_their_header() {
        let none = Headers::default();
        assert_eq!(check(&none, "initialize", &Map::new()), Ok(Era::Legacy));
        let old = Headers {
            version: Some("2025-06-18"),
            ..none
        };
        assert_eq!(check(&old, "tools/list", &Map::new()), Ok(Era::Legacy));
        let refused = check(
            &Headers {
                version: Some("2024-01-01"),
                ..none
            },
            "tools/list",
            &Map::new(),
        )
        .expect_err("unsupported");
        assert_eq!(refused.code, UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(
            refused.data,
            Some(json!({"supported": ALL_VERSIONS, "requested": "2024-01-01"}))
        );
        assert_eq!(check_header(&none), Ok(()));
        assert_eq!(check_header(&MODERN), Ok(()));
        assert!(check_header(&Headers {
            version: Some("1900-01-01"),
            ..none
        })
        .is_err());
    }

    #[test]
    fn modern_requests_have_matching_headers_and_meta() {
        assert_eq!(
            check(&MODERN, "tools/call", &modern_call("ask")),
            Ok(Era::Modern)
        );
        let code_of = |headers: Headers, method: &str, params: &Map<String, Value>| {
            check(&headers, method, params).map_err(|r| r.code)
        };
        let call = modern_call("ask");
        // The header and `_meta` disagree, or one is missing.
        let no_version = Headers {
            version: None,
            ..MODERN
        };
        assert_eq!(
            code_of(no_version, "tools/call", &call),
            Err(HEADER_MISMATCH)
        );
        let older = Headers {
            version: Some("2025-11-25"),
            ..MODERN
        };
        assert_eq!(code_of(older, "tools/call", &call), Err(HEADER_MISMATCH));
        let bare = params(json!({"name": "ask"}));
        assert_eq!(
            code_of(MODERN, "tools/call", &bare),
            Err(code::INVALID_PARAMS)
        );
        let mut no_capabilities = call.clone();
        no_capabilities["_meta"]
            .as_object_mut()
            .expect("meta")
            .remove(META_CAPABILITIES);
        assert_eq!(
            code_of(MODERN, "tools/call", &no_capabilities),
            Err(code::INVALID_PARAMS)
        );
        // Mcp-Method and Mcp-Name.
        let wrong_method = Headers {
            method: Some("tools/list"),
            ..MODERN
        };
        assert_eq!(
            code_of(wrong_method, "tools/call", &call),
            Err(HEADER_MISMATCH)
        );
        let no_method = Headers {
            method: None,
            ..MODERN
        };
        assert_eq!(
            code_of(no_method, "tools/call", &call),
            Err(HEADER_MISMATCH)
        );
        let no_name = Headers {
            name: None,
            ..MODERN
        };
        assert_eq!(code_of(no_name, "tools/call", &call), Err(HEADER_MISMATCH));
        let refused = check(&MODERN, "tools/call", &modern_call("search_knowledge"))
            .expect_err("another tool");
        assert_eq!(
            refused.message,
            "Header mismatch: Mcp-Name header value 'ask' does not match body value 'search_knowledge'."
        );
        // A list names nothing.
        let list = Headers {
            method: Some("tools/list"),
            name: None,
            ..MODERN
        };
        assert_eq!(
            check(&list, "tools/list", &modern_call("x")),
            Ok(Era::Modern)
        );
        // A future revision in both places.
        let mut future = call.clone();
        future["_meta"][META_VERSION] = json!("2099-01-01");
        let ahead = Headers {
            version: Some("2099-01-01"),
            ..MODERN
        };
        assert_eq!(
            code_of(ahead, "tools/call", &future),
            Err(UNSUPPORTED_PROTOCOL_VERSION)
        );
    }

    #[test]
    fn names_may_come_base64_encoded() {
        assert_eq!(decode("ask").as_deref(), Some("ask"));
        // The specification's examples.
        assert_eq!(
            decode("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(
            decode("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").as_deref(),
            Some("=?base64?literal?=")
        );
        assert_eq!(decode("bad\nvalue"), None);
        assert_eq!(decode("=?base64?***?="), None);
        let headers = Headers {
            name: Some("=?base64?YXNr?="),
            ..MODERN
        };
        assert_eq!(
            check(&headers, "tools/call", &modern_call("ask")),
            Ok(Era::Modern)
        );
    }

    #[test]
    fn results_say_what_they_are() {
        let mut result = json!({"tools": []});
        complete(&mut result, true);
        assert_eq!(result["resultType"], "complete");
        assert_eq!(result["_meta"][META_SERVER_INFO]["name"], "edge-agent-chat");
        assert_eq!(result["cacheScope"], "private");
        assert!(result["ttlMs"].as_u64().is_some());
        let mut call = json!({"content": [], "isError": false});
        complete(&mut call, false);
        assert!(call.get("ttlMs").is_none());
        let found = discover_result("Ask.");
        assert_eq!(found["supportedVersions"][0], VERSION);
        assert_eq!(found["capabilities"], json!({"tools": {}}));
        assert_eq!(found["instructions"], "Ask.");
        assert_eq!(found["resultType"], "complete");
    }
}
