//! What `POST /v1/chat/completions` accepts, as OpenAI's API defines it, and what it becomes:
//! the agent asked for (`model`), the caller's conversation, its own tools and the sampling
//! settings that pass through. Fields OpenAI defines that the server cannot honour are refused
//! with a 400 naming them; fields it does not know are ignored, as OpenAI-compatible servers do.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::llm::{ChatMessage, Sampling, ToolCall, ToolChoice, ToolSpec};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most messages in one request.
pub const MAX_MESSAGES: usize = 1_000;
/// Most tools a caller may offer (OpenAI's own limit).
pub const MAX_TOOLS: usize = 128;
/// Most stop sequences (OpenAI's own limit).
pub const MAX_STOP: usize = 4;
/// Longest `user` label.
pub const MAX_USER_CHARS: usize = 256;
/// The optional prefix of a model id (`agent:support` names the agent `support`).
pub const MODEL_PREFIX: &str = "agent:";

/// A parsed chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The `model` as sent (echoed in responses).
    pub model: String,
    /// The agent it names.
    pub agent_id: String,
    /// The caller's conversation.
    pub messages: Vec<ChatMessage>,
    /// Server-sent events, or one JSON answer.
    pub stream: bool,
    /// `stream_options.include_usage`: a last chunk with the usage.
    pub include_usage: bool,
    /// The caller's own tools (it runs them).
    pub tools: Vec<ToolSpec>,
    /// What the caller asked of tools.
    pub tool_choice: Option<ToolChoice>,
    /// Sampling temperature (0 to 2).
    pub temperature: Option<f32>,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u32>,
    /// The rest of the sampling settings.
    pub sampling: Sampling,
    /// The end user (`user`, else `metadata.user_id`).
    pub user: Option<String>,
    /// `store: true`: keep the exchange as a conversation.
    pub store: bool,
}

/// The body's fields, read from one parsed JSON object (a typed struct per object shape would
/// compile a deserializer each into the wasm; the `Value` reader is there anyway).
struct Fields(Map<String, Value>);

impl Fields {
    /// The field, absent when missing or `null` (OpenAI's clients send both).
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("{name} must be true or false."),
            )),
        }
    }

    fn number(&mut self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(ApiError::invalid(name, format!("{name} must be a number."))),
        }
    }

    fn integer(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("{name} must be an integer."),
            )),
        }
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(name, format!("{name} must be a string."))),
        }
    }

    fn array(&mut self, name: &str) -> Result<Option<Vec<Value>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::invalid(name, format!("{name} must be an array."))),
        }
    }
}

/// An object's fields, or the 400 naming it.
fn object(field: &str, value: Value) -> Result<Fields, ApiError> {
    match value {
        Value::Object(map) => Ok(Fields(map)),
        _ => Err(ApiError::invalid(
            field,
            format!("{field} must be an object."),
        )),
    }
}

/// Parses and checks a request body.
pub fn parse(body: &[u8]) -> Result<CompletionRequest, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("The body is not valid JSON: it is not UTF-8.".into()))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    };
    into_request(Fields(map))
}

fn into_request(mut wire: Fields) -> Result<CompletionRequest, ApiError> {
    let model = match wire.take("model") {
        Some(Value::String(model)) if !model.trim().is_empty() => model,
        Some(_) => return Err(ApiError::invalid("model", "model must be an agent id.")),
        None => {
            return Err(ApiError::invalid(
                "model",
                "Send the agent's id as the model (see GET /v1/models).",
            ))
        }
    };
    let agent_id = model
        .strip_prefix(MODEL_PREFIX)
        .unwrap_or(&model)
        .trim()
        .to_owned();
    if wire.integer("n")?.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid(
            "n",
            "Only one choice (n = 1) is supported.",
        ));
    }
    if wire.boolean("logprobs")? == Some(true) {
        return Err(ApiError::invalid("logprobs", "logprobs are not supported."));
    }
    if wire.take("functions").is_some() {
        return Err(ApiError::invalid(
            "functions",
            "functions is deprecated: send tools instead.",
        ));
    }
    if wire.take("audio").is_some() {
        return Err(ApiError::invalid("audio", "Audio output is not supported."));
    }
    let messages = wire
        .array("messages")?
        .ok_or_else(|| ApiError::invalid("messages", "Send the conversation as messages."))?;
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(ApiError::invalid(
            "messages",
            format!("Send 1 to {MAX_MESSAGES} messages."),
        ));
    }
    let messages = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let tools = wire.array("tools")?.unwrap_or_default();
    if tools.len() > MAX_TOOLS {
        return Err(ApiError::invalid(
            "tools",
            format!("Offer at most {MAX_TOOLS} tools."),
        ));
    }
    let tools = tools
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, spec) in tools.iter().enumerate() {
        if tools[..i].iter().any(|t| t.name() == spec.name()) {
            return Err(ApiError::invalid(
                format!("tools[{i}].function.name"),
                format!("The tool {} is offered twice.", spec.name()),
            ));
        }
    }
    let tool_choice = wire.take("tool_choice").map(tool_choice).transpose()?;
    let metadata_user = match wire.take("metadata") {
        Some(Value::Object(metadata)) => match metadata.get("user_id") {
            Some(Value::String(user)) => Some(user.clone()),
            _ => None,
        },
        Some(_) => return Err(ApiError::invalid("metadata", "metadata must be an object.")),
        None => None,
    };
    let user = wire.string("user")?.or(metadata_user);
    if let Some(user) = &user {
        if user.is_empty()
            || user.chars().count() > MAX_USER_CHARS
            || user.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(
                "user",
                format!(
                    "user must have 1 to {MAX_USER_CHARS} characters and no control characters."
                ),
            ));
        }
    }
    let max_completion_tokens = wire.integer("max_completion_tokens")?;
    let max_tokens = match max_completion_tokens.or(wire.integer("max_tokens")?) {
        Some(n) if n < 1 => {
            return Err(ApiError::invalid(
                "max_tokens",
                "max_tokens must be at least 1.",
            ))
        }
        Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        None => None,
    };
    let include_usage = match wire.take("stream_options") {
        Some(options) => object("stream_options", options)?
            .boolean("include_usage")
            .map_err(|_| {
                ApiError::invalid(
                    "stream_options.include_usage",
                    "include_usage must be true or false.",
                )
            })?
            .unwrap_or(false),
        None => false,
    };
    let sampling = Sampling {
        top_p: ranged("top_p", wire.number("top_p")?, 0.0, 1.0)?,
        stop: stop(wire.take("stop"))?,
        seed: wire.integer("seed")?,
        presence_penalty: ranged(
            "presence_penalty",
            wire.number("presence_penalty")?,
            -2.0,
            2.0,
        )?,
        frequency_penalty: ranged(
            "frequency_penalty",
            wire.number("frequency_penalty")?,
            -2.0,
            2.0,
        )?,
        response_format: wire
            .take("response_format")
            .map(response_format)
            .transpose()?,
        parallel_tool_calls: wire.boolean("parallel_tool_calls")?,
    };
    Ok(CompletionRequest {
        model,
        agent_id,
        messages,
        stream: wire.boolean("stream")?.unwrap_or(false),
        include_usage,
        tools,
        tool_choice,
        temperature: ranged("temperature", wire.number("temperature")?, 0.0, 2.0)?,
        max_tokens,
        sampling,
        user,
        store: wire.boolean("store")?.unwrap_or(false),
    })
}

fn ranged(field: &str, value: Option<f64>, min: f64, max: f64) -> Result<Option<f32>, ApiError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(ApiError::invalid(
            field,
            format!("{field} must be between {min} and {max}."),
        )),
        other => Ok(other.map(|v| v as f32)),
    }
}

/// The text of a message's content: a string, or an array of text parts.
fn text(field: &str, content: Option<Value>, nullable: bool) -> Result<Option<String>, ApiError> {
    match content {
        Some(Value::String(text)) => Ok(Some(text)),
        None | Some(Value::Null) if nullable => Ok(None),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match (part.get("type").and_then(Value::as_str), part.get("text")) {
                    (Some("text"), Some(Value::String(piece))) => text.push_str(piece),
                    (Some(kind), _) if kind != "text" => {
                        return Err(ApiError::invalid(
                            format!("{field}[{j}].type"),
                            format!("Content parts of type {kind} are not supported; send text."),
                        ))
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            format!("{field}[{j}]"),
                            "A content part must be {\"type\":\"text\",\"text\":\"…\"}.",
                        ))
                    }
                }
            }
            Ok(Some(text))
        }
        _ => Err(ApiError::invalid(
            field,
            "content must be a string or an array of text parts.",
        )),
    }
}

fn message(i: usize, value: Value) -> Result<ChatMessage, ApiError> {
    let mut wire = object(&format!("messages[{i}]"), value)?;
    let field = format!("messages[{i}].content");
    let role = match wire.take("role") {
        Some(Value::String(role)) => role,
        _ => String::new(),
    };
    let content = wire.take("content");
    match role.as_str() {
        "system" | "developer" => Ok(ChatMessage::System {
            content: text(&field, content, false)?.unwrap_or_default(),
        }),
        "user" => Ok(ChatMessage::User {
            content: text(&field, content, false)?.unwrap_or_default(),
        }),
        "assistant" => {
            let content = text(&field, content, true)?;
            let calls = match wire.take("tool_calls") {
                None => Vec::new(),
                Some(Value::Array(calls)) => calls,
                Some(_) => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].tool_calls"),
                        "tool_calls must be an array.",
                    ))
                }
            };
            let tool_calls = calls
                .into_iter()
                .enumerate()
                .map(|(j, call)| tool_call(i, j, call))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ChatMessage::Assistant {
                content,
                tool_calls,
            })
        }
        "tool" => Ok(ChatMessage::Tool {
            tool_call_id: match wire.take("tool_call_id") {
                Some(Value::String(id)) if !id.is_empty() => id,
                _ => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].tool_call_id"),
                        "A tool message names the call it answers in tool_call_id.",
                    ))
                }
            },
            content: text(&field, content, false)?.unwrap_or_default(),
        }),
        _ => Err(ApiError::invalid(
            format!("messages[{i}].role"),
            "role must be system, developer, user, assistant or tool.",
        )),
    }
}

/// A string field of a JSON object, if it is one.
fn str_of<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

fn tool_call(i: usize, j: usize, call: Value) -> Result<ToolCall, ApiError> {
    let field = format!("messages[{i}].tool_calls[{j}]");
    let function = call
        .get("function")
        .filter(|f| f.is_object())
        .filter(|_| str_of(&call, "type").is_none_or(|k| k == "function"))
        .ok_or_else(|| ApiError::invalid(&field, "A tool call must be a function call."))?;
    match (
        str_of(&call, "id").filter(|id| !id.is_empty()),
        str_of(function, "name"),
    ) {
        (Some(id), Some(name)) if is_tool_name(name) => Ok(ToolCall::function(
            id,
            name,
            str_of(function, "arguments").unwrap_or_default(),
        )),
        _ => Err(ApiError::invalid(
            field,
            "A tool call needs an id and a function name.",
        )),
    }
}

/// OpenAI's rule for function names: 1-64 of `a-z A-Z 0-9 _ -`.
fn is_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn tool(i: usize, wire: Value) -> Result<ToolSpec, ApiError> {
    let field = format!("tools[{i}]");
    let function = wire
        .get("function")
        .filter(|f| f.is_object())
        .filter(|_| str_of(&wire, "type") == Some("function"))
        .ok_or_else(|| {
            ApiError::invalid(
                &field,
                "A tool must be {\"type\":\"function\",\"function\":{…}}.",
            )
        })?;
    let name = str_of(function, "name")
        .filter(|n| is_tool_name(n))
        .ok_or_else(|| {
            ApiError::invalid(
                format!("{field}.function.name"),
                "A tool name has 1 to 64 letters, digits, _ or -.",
            )
        })?;
    let parameters = match function.get("parameters") {
        None | Some(Value::Null) => serde_json::json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{field}.function.parameters"),
                "parameters must be a JSON schema object.",
            ))
        }
    };
    let description = match function.get("description") {
        None | Some(Value::Null) => "",
        Some(Value::String(d)) => d,
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{field}.function.description"),
                "description must be a string.",
            ))
        }
    };
    Ok(ToolSpec::function(name, description, parameters))
}

fn tool_choice(value: Value) -> Result<ToolChoice, ApiError> {
    let refused = || {
        ApiError::invalid(
            "tool_choice",
            "tool_choice must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\"}}.",
        )
    };
    match value {
        Value::String(choice) => match choice.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(refused()),
        },
        Value::Object(choice) => {
            let name = choice
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| is_tool_name(n))
                .ok_or_else(refused)?;
            Ok(ToolChoice::Function(name.to_owned()))
        }
        _ => Err(refused()),
    }
}

fn stop(value: Option<Value>) -> Result<Vec<String>, ApiError> {
    let refused = || {
        ApiError::invalid(
            "stop",
            format!("stop must be a string or an array of at most {MAX_STOP} strings."),
        )
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one]),
        Some(Value::Array(many)) if many.len() <= MAX_STOP => many
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(refused()),
            })
            .collect(),
        Some(_) => Err(refused()),
    }
}

fn response_format(value: Value) -> Result<Value, ApiError> {
    match value.get("type").and_then(Value::as_str) {
        Some("text" | "json_object") => Ok(value),
        Some("json_schema") if value.get("json_schema").is_some_and(Value::is_object) => Ok(value),
        _ => Err(ApiError::invalid(
            "response_format",
            "response_format must be {\"type\":\"text\"}, {\"type\":\"json_object\"} or {\"type\":\"json_schema\",\"json_schema\":{…}}.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(body: Value) -> Result<CompletionRequest, ApiError> {
        parse(body.to_string().as_bytes())
    }

    fn refused_field(body: Value) -> String {
        match parsed(body) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn what_the_official_sdks_send_is_understood() {
        let request = parsed(json!({
            "model": "agent:support",
            "messages": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "open_ticket", "arguments": "{\"t\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"ticket\":7}"}
            ],
            "stream": true, "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "open_ticket", "description": "Opens a ticket",
                "parameters": {"type": "object", "properties": {"t": {"type": "number"}}}}}],
            "tool_choice": {"type": "function", "function": {"name": "open_ticket"}},
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "max_completion_tokens": 40,
            "stop": "END", "seed": 1, "presence_penalty": 0.5, "frequency_penalty": 0,
            "response_format": {"type": "json_object"}, "parallel_tool_calls": false,
            "user": "user-42", "store": true, "n": 1, "logprobs": false,
            "an_extension_we_do_not_know": {"x": 1}
        }))
        .expect("parses");
        assert_eq!(request.agent_id, "support");
        assert_eq!(request.model, "agent:support");
        assert_eq!(
            request.messages,
            vec![
                ChatMessage::System {
                    content: "Answer in French.".into()
                },
                ChatMessage::User {
                    content: "Hello".into()
                },
                ChatMessage::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall::function("call_1", "open_ticket", "{\"t\":1}")]
                },
                ChatMessage::Tool {
                    tool_call_id: "call_1".into(),
                    content: "{\"ticket\":7}".into()
                },
            ]
        );
        assert!(request.stream && request.include_usage && request.store);
        assert_eq!(request.tools[0].name(), "open_ticket");
        assert_eq!(
            request.tool_choice,
            Some(ToolChoice::Function("open_ticket".into()))
        );
        assert_eq!(request.temperature, Some(0.2));
        assert_eq!(request.max_tokens, Some(40), "max_completion_tokens wins");
        assert_eq!(request.sampling.stop, ["END"]);
        assert_eq!(request.sampling.seed, Some(1));
        assert_eq!(request.sampling.parallel_tool_calls, Some(false));
        assert_eq!(request.user.as_deref(), Some("user-42"));
    }

    #[test]
    fn a_plain_request_takes_the_defaults() {
        let request = parsed(
            json!({"model": "support", "messages": [{"role": "user", "content": "Hi"}],
            "temperature": null, "metadata": {"user_id": "u-7"}}),
        )
        .expect("parses");
        assert!(!request.stream && !request.include_usage && !request.store);
        assert!(request.tools.is_empty());
        assert_eq!(request.temperature, None);
        assert_eq!(request.sampling, Sampling::default());
        assert_eq!(request.user.as_deref(), Some("u-7"));
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let user = json!([{"role": "user", "content": "Hi"}]);
        let with = |extra: Value| {
            let mut body = json!({"model": "a", "messages": user});
            for (k, v) in extra.as_object().expect("object") {
                body[k] = v.clone();
            }
            refused_field(body)
        };
        assert_eq!(refused_field(json!({"messages": user})), "model");
        assert_eq!(
            refused_field(json!({"model": 3, "messages": user})),
            "model"
        );
        assert_eq!(refused_field(json!({"model": "a"})), "messages");
        assert_eq!(
            refused_field(json!({"model": "a", "messages": []})),
            "messages"
        );
        assert_eq!(with(json!({"n": 2})), "n");
        assert_eq!(with(json!({"logprobs": true})), "logprobs");
        assert_eq!(with(json!({"temperature": 2.5})), "temperature");
        assert_eq!(with(json!({"top_p": -1})), "top_p");
        assert_eq!(with(json!({"max_tokens": 0})), "max_tokens");
        assert_eq!(with(json!({"stop": ["a", "b", "c", "d", "e"]})), "stop");
        assert_eq!(with(json!({"stop": 5})), "stop");
        assert_eq!(
            with(json!({"response_format": {"type": "yaml"}})),
            "response_format"
        );
        assert_eq!(with(json!({"tool_choice": "sometimes"})), "tool_choice");
        assert_eq!(with(json!({"user": ""})), "user");
        assert_eq!(with(json!({"functions": []})), "functions");
        assert_eq!(with(json!({"tools": [{"type": "web_search"}]})), "tools[0]");
        assert_eq!(
            with(json!({"tools": [{"type": "function", "function": {"name": "has space"}}]})),
            "tools[0].function.name"
        );
        let twice = json!({"type": "function", "function": {"name": "t"}});
        assert_eq!(
            with(json!({"tools": [twice, twice]})),
            "tools[1].function.name"
        );
        let message = |m: Value| refused_field(json!({"model": "a", "messages": [m]}));
        assert_eq!(
            message(json!({"role": "function", "content": "x"})),
            "messages[0].role"
        );
        assert_eq!(message(json!({"content": "x"})), "messages[0].role");
        assert_eq!(
            message(json!({"role": "user", "content": 7})),
            "messages[0].content"
        );
        assert_eq!(message(json!({"role": "user"})), "messages[0].content");
        assert_eq!(
            message(
                json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]})
            ),
            "messages[0].content[0].type"
        );
        assert_eq!(
            message(json!({"role": "tool", "content": "x"})),
            "messages[0].tool_call_id"
        );
        assert_eq!(
            message(
                json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {}}]})
            ),
            "messages[0].tool_calls[0]"
        );
    }

    #[test]
    fn malformed_bodies_are_400s_and_huge_ones_413s() {
        for body in [&b"not json"[..], b"[1,2]", b"{\"model\":", b"\xff\xfe"] {
            assert!(
                matches!(parse(body), Err(ApiError::BadRequest(_))),
                "{body:?}"
            );
        }
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(parse(&huge), Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES)));
    }
}
