use serde_json::{json, Value};

use super::*;

fn request(body: &str) -> (Value, String, Map<String, Value>) {
    match read(body.as_bytes()) {
        Ok(Incoming::Request { id, method, params }) => (id, method, params),
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn reads_requests_notifications_and_responses() {
    let (id, method, params) =
        request(r#"{"jsonrpc":"2.0","id":"a1","method":"tools/list","params":{"cursor":"x"}}"#);
    assert_eq!((id, method.as_str()), (json!("a1"), "tools/list"));
    assert_eq!(params["cursor"], "x");
    let (id, _, params) = request(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    assert_eq!(id, json!(7));
    assert!(params.is_empty());
    assert_eq!(
        read(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        Ok(Incoming::Accepted)
    );
    assert_eq!(
        read(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
        Ok(Incoming::Accepted)
    );
}

#[test]
fn refuses_what_is_not_one_json_rpc_message() {
    let code_of = |body: &str| read(body.as_bytes()).map_err(|e| e.code);
    assert_eq!(code_of("{not json"), Err(code::PARSE_ERROR));
    assert_eq!(code_of("[]"), Err(code::INVALID_REQUEST));
    assert_eq!(
        code_of(r#"{"id":1,"method":"x"}"#),
        Err(code::INVALID_REQUEST)
    );
    assert_eq!(
        code_of(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#),
        Err(code::INVALID_REQUEST)
    );
    assert_eq!(
        code_of(r#"{"jsonrpc":"2.0","id":2.5e-42,"method":"x"}"#),
        Err(code::INVALID_REQUEST)
    );
    assert_eq!(
        code_of(r#"{"jsonrpc":"2.0","id":1,"method":5}"#),
        Err(code::INVALID_REQUEST)
    );
    assert_eq!(
        code_of(r#"{"jsonrpc":"2.0","id":1}"#),
        Err(code::INVALID_REQUEST)
    );
    assert_eq!(
        code_of(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#),
        Err(code::INVALID_PARAMS)
    );
}

#[test]
fn versions() {
    assert_eq!(header_version(None), Some(DEFAULT_VERSION));
    assert_eq!(header_version(Some("2025-06-18")), Some("2025-06-18"));
    assert_eq!(header_version(Some("2024-11-05")), None);
    assert_eq!(header_version(Some("garbage")), None);
    let asked = |v: &str| {
        let mut params = Map::new();
        params.insert("protocolVersion".into(), json!(v));
        negotiate(&params)
    };
    assert_eq!(asked("2025-06-18"), "2025-06-18");
    assert_eq!(asked("2099-01-01"), SUPPORTED_VERSIONS[0]);
    assert_eq!(negotiate(&Map::new()), SUPPORTED_VERSIONS[0]);
}

#[test]
fn answers_are_json_rpc() {
    let ok: Value = serde_json::from_str(&result(&json!(1), json!({"a": 1}))).expect("json");
    assert_eq!(ok, json!({"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}));
    let failed: Value =
        serde_json::from_str(&error(None, &RpcError::new(code::PARSE_ERROR, "bad"))).expect("json");
    assert_eq!(failed["id"], Value::Null);
    assert_eq!(failed["error"]["code"], code::PARSE_ERROR);
}

fn names(list: &Value) -> Vec<&str> {
    list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect()
}

#[test]
fn one_agent_gets_ask_and_search_when_it_has_knowledge() {
    let plain = Scope::Agent {
        id: "a1".into(),
        name: "Support".into(),
        has_knowledge: false,
    };
    assert_eq!(names(&tools(&plain)), vec!["ask"]);
    let ask = &tools(&plain)["tools"][0];
    assert_eq!(ask["inputSchema"]["required"], json!(["message"]));
    assert!(ask["outputSchema"]["properties"]["conversationId"].is_object());
    assert_eq!(ask["annotations"]["openWorldHint"], true);
    let knowing = Scope::Agent {
        id: "a1".into(),
        name: "Support".into(),
        has_knowledge: true,
    };
    assert_eq!(names(&tools(&knowing)), vec!["ask", "search_knowledge"]);
    assert_eq!(
        tools(&knowing)["tools"][1]["annotations"]["readOnlyHint"],
        true
    );
}

#[test]
fn a_tenant_wide_key_names_its_agents_in_an_enum() {
    let scope = Scope::Tenant {
        agents: vec![
            ("a1".into(), "Support".into()),
            ("a2".into(), "Sales".into()),
        ],
        has_knowledge: true,
    };
    let list = tools(&scope);
    assert_eq!(
        names(&list),
        vec![
            "ask",
            "list_agents",
            "list_conversations",
            "get_conversation",
            "search_knowledge"
        ]
    );
    assert_eq!(
        list["tools"][0]["inputSchema"]["properties"]["agent"]["enum"],
        json!(["a1", "a2"])
    );
    assert_eq!(
        list["tools"][4]["inputSchema"]["required"],
        json!(["query", "agent"])
    );
}

#[test]
fn tool_calls_and_arguments() {
    let params: Map<String, Value> =
        serde_json::from_value(json!({"name": "ask", "arguments": {"message": "  hi  "}}))
            .expect("map");
    let (name, arguments) = tool_call(&params).expect("call");
    assert_eq!(name, "ask");
    assert_eq!(text_argument(arguments, "message", true), Ok(Some("hi")));
    assert_eq!(text_argument(arguments, "conversationId", false), Ok(None));
    assert!(text_argument(arguments, "agent", true).is_err());
    let no_arguments: Map<String, Value> =
        serde_json::from_value(json!({"name": "list_agents"})).expect("map");
    assert!(tool_call(&no_arguments).expect("call").1.is_empty());
    let bad: Map<String, Value> =
        serde_json::from_value(json!({"name": "ask", "arguments": "x"})).expect("map");
    assert_eq!(
        tool_call(&bad).map_err(|e| e.code),
        Err(code::INVALID_PARAMS)
    );
    assert_eq!(
        tool_call(&Map::new()).map_err(|e| e.code),
        Err(code::INVALID_PARAMS)
    );
    let empty: Map<String, Value> = serde_json::from_value(json!({"message": "   "})).expect("map");
    assert!(text_argument(&empty, "message", true).is_err());
}

#[test]
fn results_and_auth_metadata() {
    let done = tool_result("hi", json!({"answer": "hi"}));
    assert_eq!(done["isError"], false);
    assert_eq!(done["structuredContent"]["answer"], "hi");
    assert_eq!(tool_failure("no")["isError"], true);
    // A failed answer still names its conversation, so the caller can ask again in it.
    let failed = answer_failure("The AI service is busy.", "chat_1");
    assert_eq!(failed["isError"], true);
    assert_eq!(failed["content"][0]["text"], "The AI service is busy.");
    assert_eq!(failed["structuredContent"]["conversationId"], "chat_1");
    let metadata = resource_metadata("https://chat.example/mcp");
    assert_eq!(metadata["resource"], "https://chat.example/mcp");
    assert_eq!(
        www_authenticate("https://chat.example/.well-known/oauth-protected-resource/mcp"),
        "Bearer resource_metadata=\"https://chat.example/.well-known/oauth-protected-resource/mcp\""
    );
}
