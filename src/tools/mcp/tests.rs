use serde_json::{json, Value};

use super::*;

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).expect("the worker writes JSON")
}

#[test]
fn initialize_asks_for_the_latest_revision_and_declares_no_capabilities() {
    let message = parsed(&initialize());
    assert_eq!(message["method"], "initialize");
    assert_eq!(message["id"], ids::INITIALIZE);
    assert_eq!(message["params"]["protocolVersion"], PROTOCOL_VERSION);
    assert_eq!(message["params"]["capabilities"], json!({}));
    assert!(parsed(&initialized()).get("id").is_none());
}

#[test]
fn list_and_call_requests() {
    assert_eq!(parsed(&list_tools(None))["params"], json!({}));
    assert_eq!(parsed(&list_tools(Some("p2")))["params"]["cursor"], "p2");
    let call = parsed(&call_tool("get_weather", &json!({"city": "Oslo"})));
    assert_eq!(call["params"]["name"], "get_weather");
    assert_eq!(call["params"]["arguments"]["city"], "Oslo");
    // The model may send something that is not an object: the server gets an empty one.
    assert_eq!(
        parsed(&call_tool("t", &json!("x")))["params"]["arguments"],
        json!({})
    );
}

#[test]
fn json_answers() {
    let body = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#;
    let result = read_answer(200, Some("application/json"), body, 2, false).expect("result");
    assert_eq!(result, json!({"tools": []}));
    // The answer to another request is not this one's.
    let other = r#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
    assert!(matches!(
        read_answer(200, Some("application/json"), other, 2, false),
        Err(McpError::Malformed(_))
    ));
}

#[test]
fn sse_answers_skip_notifications_and_server_requests() {
    let body = concat!(
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n\n",
        ": a comment\n",
        "event: message\nid: e1\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[]}}\n\n",
    );
    let result =
        read_answer(200, Some("text/event-stream; charset=utf-8"), body, 3, true).expect("result");
    assert_eq!(result, json!({"content": []}));
}

#[test]
fn errors() {
    let refused = r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Unknown tool: x"}}"#;
    assert_eq!(
        read_answer(200, Some("application/json"), refused, 3, false),
        Err(McpError::Protocol {
            code: -32602,
            message: "Unknown tool: x".into()
        })
    );
    assert_eq!(
        read_answer(404, None, "", 3, true),
        Err(McpError::SessionExpired)
    );
    assert!(matches!(
        read_answer(404, None, "not found", 3, false),
        Err(McpError::Http { status: 404, .. })
    ));
    assert!(matches!(
        read_answer(401, None, &"x".repeat(10_000), 3, false),
        Err(McpError::Http { status: 401, message }) if message.chars().count() <= 201
    ));
    assert!(matches!(
        read_answer(200, Some("application/json"), "<html>", 3, false),
        Err(McpError::Malformed(_))
    ));
}

#[test]
fn version_negotiation() {
    assert_eq!(
        negotiated_version(&json!({"protocolVersion": "2025-06-18"})),
        Ok("2025-06-18".to_owned())
    );
    assert_eq!(
        negotiated_version(&json!({"protocolVersion": "2024-11-05"})),
        Err(McpError::UnsupportedVersion("2024-11-05".into()))
    );
    assert!(negotiated_version(&json!({})).is_err());
}

#[test]
fn tool_pages() {
    let page = json!({
        "tools": [
            {"name": "get_weather", "description": "Weather", "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "", "description": "nameless"},
            {"name": "ping", "title": "Ping"},
        ],
        "nextCursor": "c2",
    });
    let (tools, next) = read_tools(&page).expect("tools");
    assert_eq!(next.as_deref(), Some("c2"));
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0].name, "get_weather");
    assert_eq!(tools[1].description, "Ping");
    assert_eq!(tools[1].input_schema["type"], "object");
    let (_, last) = read_tools(&json!({"tools": [], "nextCursor": ""})).expect("tools");
    assert_eq!(last, None);
    assert!(read_tools(&json!({})).is_err());
}

#[test]
fn allowed_tools() {
    assert!(is_allowed(None, "anything"));
    let only = vec!["a".to_owned()];
    assert!(is_allowed(Some(&only), "a"));
    assert!(!is_allowed(Some(&only), "b"));
    assert!(!is_allowed(Some(&[]), "a"));
}

#[test]
fn exposed_names_fit_the_providers_pattern_and_stay_apart() {
    let valid = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    assert_eq!(exposed_name("docs", "search"), "docs__search");
    let dotted = exposed_name("docs", "files.read");
    let underscored = exposed_name("docs", "files_read");
    assert!(valid(&dotted) && valid(&underscored));
    assert_ne!(dotted, underscored);
    let long_a = exposed_name("server", &"a".repeat(100));
    let long_b = exposed_name("server", &format!("{}b", "a".repeat(99)));
    assert!(valid(&long_a) && valid(&long_b));
    assert_ne!(long_a, long_b);
    assert!(valid(&exposed_name("s", "ünïcode tool")));
}

#[test]
fn tool_results_for_the_model() {
    let ok = json!({"content": [{"type": "text", "text": "18°C"}, {"type": "image", "data": "…", "mimeType": "image/png"}]});
    assert_eq!(tool_output(&ok), Ok(json!("18°C\n[image image/png]")));
    let structured = json!({"content": [{"type": "text", "text": "{\"t\":18}"}], "structuredContent": {"t": 18}});
    assert_eq!(
        tool_output(&structured),
        Ok(json!({"text": "{\"t\":18}", "structuredContent": {"t": 18}}))
    );
    let failed = json!({"content": [{"type": "text", "text": "city not found"}], "isError": true});
    assert_eq!(tool_output(&failed), Err("city not found".to_owned()));
    assert!(tool_output(&json!({"isError": true})).is_err());
    let resource = json!({"content": [{"type": "resource", "resource": {"uri": "x://a", "text": "inner"}}, {"type": "resource_link", "uri": "x://b"}]});
    assert_eq!(tool_output(&resource), Ok(json!("inner\n[resource x://b]")));
}
