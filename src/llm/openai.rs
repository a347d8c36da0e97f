//! OpenAI chat-completions wire format (as OpenRouter speaks it): request bodies, streamed
//! chunks and error bodies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FinishReason, ModelEvent, ModelRequest, ToolCallFragment, Usage};

/// A message in the model's context.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// Instructions from the agent's configuration.
    System {
        /// Prompt text.
        content: String,
    },
    /// What the visitor wrote.
    User {
        /// Message text.
        content: String,
    },
    /// What the model answered, possibly with tool calls.
    Assistant {
        /// Text, or `null` when the step only called tools.
        content: Option<String>,
        /// Tool calls, in the order the model made them.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result, answering one call.
    Tool {
        /// The call this answers.
        tool_call_id: String,
        /// Result text (JSON or plain text).
        content: String,
    },
}

/// A complete tool call in an assistant message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    /// Call id, echoed by the tool message.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: FunctionCall,
}

/// Function name and JSON-encoded arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionCall {
    /// Tool name.
    pub name: String,
    /// Arguments as a JSON text.
    pub arguments: String,
}

impl ToolCall {
    /// Builds a function tool call.
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            kind: "function",
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name, description and JSON-schema parameters.
    pub function: FunctionSpec,
}

/// The function part of a tool offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionSpec {
    /// Tool name.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: Value,
}

impl ToolSpec {
    /// Builds a function tool offer.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Self {
            kind: "function",
            function: FunctionSpec {
                name: name.into(),
                description: description.into(),
                parameters,
            },
        }
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.function.name
    }
}

/// Whether the model may call tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model must answer in text.
    None,
    /// The model must call a tool.
    Required,
    /// The model must call this tool.
    Function(String),
}

impl Serialize for ToolChoice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Auto => serializer.serialize_str("auto"),
            ToolChoice::None => serializer.serialize_str("none"),
            ToolChoice::Required => serializer.serialize_str("required"),
            ToolChoice::Function(name) => serde_json::json!({
                "type": "function", "function": { "name": name }
            })
            .serialize(serializer),
        }
    }
}

#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "<[ToolSpec]>::is_empty")]
    tools: &'a [ToolSpec],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// Serializes a streaming chat-completions request body.
pub fn request_body(request: &ModelRequest) -> String {
    let body = RequestBody {
        model: &request.model,
        messages: &request.messages,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        tools: &request.tools,
        tool_choice: if request.tools.is_empty() {
            None
        } else {
            request.tool_choice.as_ref()
        },
        parallel_tool_calls: request
            .sampling
            .parallel_tool_calls
            .filter(|_| !request.tools.is_empty()),
        temperature: request.temperature,
        max_tokens: request.max_tokens,
        top_p: request.sampling.top_p,
        stop: &request.sampling.stop,
        seed: request.sampling.seed,
        presence_penalty: request.sampling.presence_penalty,
        frequency_penalty: request.sampling.frequency_penalty,
        response_format: request.sampling.response_format.as_ref(),
    };
    // Serializing plain structs of strings and numbers cannot fail; an empty body would be
    // rejected upstream with a clear 400 anyway.
    serde_json::to_string(&body).unwrap_or_default()
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default)]
    annotations: Option<Vec<WireAnnotation>>,
}

/// `{"type":"url_citation","url_citation":{"url","title",…}}`; other kinds are ignored.
#[derive(Deserialize)]
struct WireAnnotation {
    #[serde(default)]
    url_citation: Option<WireCitation>,
}

#[derive(Deserialize)]
struct WireCitation {
    url: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    cost: Option<f64>,
}

/// Decodes one SSE `data:` payload into model events.
///
/// Returns an error message for payloads that are not JSON; unknown fields are ignored.
pub fn parse_chunk(data: &str, out: &mut Vec<ModelEvent>) -> Result<(), String> {
    if data == "[DONE]" {
        out.push(ModelEvent::Done);
        return Ok(());
    }
    let chunk: Chunk = serde_json::from_str(data)
        .map_err(|e| format!("unreadable chunk from the model provider: {e}"))?;
    if let Some(model) = chunk.model.filter(|m| !m.is_empty()) {
        out.push(ModelEvent::Model(model));
    }
    if let Some(error) = chunk.error {
        out.push(ModelEvent::Error(error_message(&error)));
        return Ok(());
    }
    for choice in chunk.choices {
        if let Some(delta) = choice.delta {
            if let Some(reasoning) = delta
                .reasoning
                .or(delta.reasoning_content)
                .filter(|r| !r.is_empty())
            {
                out.push(ModelEvent::Reasoning(reasoning));
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                out.push(ModelEvent::Text(text));
            }
            for annotation in delta.annotations.unwrap_or_default() {
                // Only web pages: a citation is shown to visitors as a link.
                let web = |url: &str| {
                    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
                    lower.starts_with("https://") || lower.starts_with("http://")
                };
                if let Some(citation) = annotation.url_citation.filter(|c| web(&c.url)) {
                    out.push(ModelEvent::Source {
                        url: citation.url,
                        title: citation.title.filter(|t| !t.is_empty()),
                    });
                }
            }
            for call in delta.tool_calls.unwrap_or_default() {
                let (name, arguments) = match call.function {
                    Some(f) => (f.name, f.arguments.unwrap_or_default()),
                    None => (None, String::new()),
                };
                out.push(ModelEvent::ToolCall(ToolCallFragment {
                    index: call.index,
                    id: call.id,
                    name,
                    arguments,
                }));
            }
        }
        if let Some(reason) = choice.finish_reason {
            out.push(ModelEvent::Finish(FinishReason::from_openai(&reason)));
        }
    }
    if let Some(usage) = chunk.usage {
        out.push(ModelEvent::Usage(Usage {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            cost: usage.cost.unwrap_or(0.0),
            embedding_tokens: 0,
        }));
    }
    Ok(())
}

/// Decodes a stream's chunks, reporting the answering model once rather than on every chunk.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    model: Option<String>,
}

impl ChunkDecoder {
    /// Like `parse_chunk`, minus repeated `Model` events.
    pub fn decode(&mut self, data: &str, out: &mut Vec<ModelEvent>) -> Result<(), String> {
        let start = out.len();
        parse_chunk(data, out)?;
        let model_at = out[start..]
            .iter()
            .position(|e| matches!(e, ModelEvent::Model(_)));
        if let Some(index) = model_at.map(|i| start + i) {
            if let ModelEvent::Model(name) = &out[index] {
                if self.model.as_deref() == Some(name.as_str()) {
                    out.remove(index);
                } else {
                    self.model = Some(name.clone());
                }
            }
        }
        Ok(())
    }
}

/// Extracts a readable message from an `error` value (object with `message`, or a string).
pub fn error_message(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        Value::Object(map) => {
            let message = map
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            let raw = map
                .get("metadata")
                .and_then(|m| m.get("raw"))
                .and_then(Value::as_str)
                .filter(|raw| !raw.is_empty() && raw.len() < 300);
            match raw {
                Some(raw) => format!("{message} ({raw})"),
                None => message.to_owned(),
            }
        }
        other => other.to_string(),
    }
}

/// Extracts the message from a non-2xx response body (`{"error":{...}}`, or plain text).
pub fn error_body_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(value) => match value.get("error") {
            Some(error) => error_message(error),
            None => truncate(body, 300),
        },
        Err(_) => truncate(body.trim(), 300),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Sampling;
    use serde_json::json;

    fn events(data: &str) -> Vec<ModelEvent> {
        let mut out = Vec::new();
        parse_chunk(data, &mut out).expect("parses");
        out
    }

    #[test]
    fn url_citations_become_sources() {
        let mut out = Vec::new();
        parse_chunk(
            r#"{"id":"g","model":"m","choices":[{"index":0,"delta":{"content":"","annotations":[{"type":"url_citation","url_citation":{"url":"https://docs.example/a","title":"Doc A","start_index":0,"end_index":5}},{"type":"url_citation","url_citation":{"url":"javascript:alert(1)"}},{"type":"file"}]}}]}"#,
            &mut out,
        )
        .expect("valid");
        let sources: Vec<_> = out
            .iter()
            .filter(|e| matches!(e, ModelEvent::Source { .. }))
            .collect();
        assert_eq!(
            sources,
            vec![&ModelEvent::Source {
                url: "https://docs.example/a".into(),
                title: Some("Doc A".into())
            }]
        );
    }

    #[test]
    fn text_delta_and_model() {
        let got = events(
            r#"{"id":"gen-1","model":"openai/gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}"#,
        );
        assert_eq!(
            got,
            vec![
                ModelEvent::Model("openai/gpt-4o".into()),
                ModelEvent::Text("Hel".into())
            ]
        );
    }

    #[test]
    fn usage_in_last_chunk_with_empty_choices() {
        let got = events(
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,"cost":0.00014}}"#,
        );
        assert_eq!(
            got,
            vec![ModelEvent::Usage(Usage {
                input_tokens: 10,
                output_tokens: 4,
                cost: 0.00014,
                embedding_tokens: 0,
            })]
        );
    }

    #[test]
    fn usage_alongside_final_choice() {
        let got = events(
            r#"{"choices":[{"delta":{"content":"!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
        );
        assert_eq!(
            got,
            vec![
                ModelEvent::Text("!".into()),
                ModelEvent::Finish(FinishReason::Stop),
                ModelEvent::Usage(Usage {
                    input_tokens: 1,
                    output_tokens: 2,
                    cost: 0.0,
                    embedding_tokens: 0,
                }),
            ]
        );
    }

    #[test]
    fn mid_stream_error_with_string_code() {
        let got = events(
            r#"{"model":"m","error":{"code":"server_error","message":"Provider disconnected unexpectedly"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#,
        );
        assert_eq!(
            got,
            vec![
                ModelEvent::Model("m".into()),
                ModelEvent::Error("Provider disconnected unexpectedly".into())
            ]
        );
    }

    #[test]
    fn tool_call_fragments_keep_index_id_and_name() {
        let got = events(
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
        );
        assert_eq!(
            got,
            vec![ModelEvent::ToolCall(ToolCallFragment {
                index: Some(0),
                id: Some("call_abc".into()),
                name: Some("get_weather".into()),
                arguments: String::new(),
            })]
        );
    }

    #[test]
    fn decoder_reports_the_model_once() {
        let mut decoder = ChunkDecoder::default();
        let mut out = Vec::new();
        let chunk = r#"{"model":"m","choices":[{"delta":{"content":"a"}}]}"#;
        decoder.decode(chunk, &mut out).expect("parses");
        decoder.decode(chunk, &mut out).expect("parses");
        assert_eq!(
            out,
            vec![
                ModelEvent::Model("m".into()),
                ModelEvent::Text("a".into()),
                ModelEvent::Text("a".into())
            ]
        );
    }

    #[test]
    fn done_sentinel_and_garbage() {
        assert_eq!(events("[DONE]"), vec![ModelEvent::Done]);
        assert!(parse_chunk("not json", &mut Vec::new()).is_err());
    }

    #[test]
    fn finish_reasons_map_to_ui_spelling() {
        assert_eq!(
            FinishReason::from_openai("tool_calls").as_str(),
            "tool-calls"
        );
        assert_eq!(
            FinishReason::from_openai("content_filter").as_str(),
            "content-filter"
        );
        assert_eq!(FinishReason::from_openai("weird").as_str(), "other");
    }

    #[test]
    fn error_bodies_are_readable() {
        assert_eq!(
            error_body_message(r#"{"error":{"code":402,"message":"Insufficient credits"}}"#),
            "Insufficient credits"
        );
        assert_eq!(
            error_body_message(
                r#"{"error":{"code":502,"message":"Upstream","metadata":{"raw":"overloaded"}}}"#
            ),
            "Upstream (overloaded)"
        );
        assert_eq!(error_body_message("Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn request_body_has_stream_tools_and_messages() {
        let request = ModelRequest {
            model: "m".into(),
            messages: vec![
                ChatMessage::System {
                    content: "be nice".into(),
                },
                ChatMessage::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall::function("c1", "t", "{}")],
                },
                ChatMessage::Tool {
                    tool_call_id: "c1".into(),
                    content: "42".into(),
                },
            ],
            tools: vec![ToolSpec::function("t", "d", json!({"type":"object"}))],
            tool_choice: Some(ToolChoice::Auto),
            temperature: Some(0.5),
            max_tokens: None,
            sampling: Sampling::default(),
        };
        let body: Value = serde_json::from_str(&request_body(&request)).expect("json");
        assert_eq!(body["stream"], json!(true));
        for absent in [
            "top_p",
            "stop",
            "seed",
            "response_format",
            "parallel_tool_calls",
        ] {
            assert!(body.get(absent).is_none(), "{absent}");
        }
        assert_eq!(body["tool_choice"], json!("auto"));
        assert_eq!(
            body["messages"][1],
            json!({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"t","arguments":"{}"}}]})
        );
        assert_eq!(
            body["messages"][2],
            json!({"role":"tool","tool_call_id":"c1","content":"42"})
        );
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn no_tools_means_no_tool_choice() {
        let request = ModelRequest {
            model: "m".into(),
            messages: vec![],
            tools: vec![],
            tool_choice: Some(ToolChoice::None),
            temperature: None,
            max_tokens: Some(10),
            sampling: Sampling {
                parallel_tool_calls: Some(false),
                ..Sampling::default()
            },
        };
        let body: Value = serde_json::from_str(&request_body(&request)).expect("json");
        assert!(body.get("tools").is_none());
        assert!(body.get("tool_choice").is_none());
        assert!(body.get("parallel_tool_calls").is_none());
        assert_eq!(body["max_tokens"], json!(10));
    }

    #[test]
    fn sampling_settings_and_forced_tools_pass_through() {
        let request = ModelRequest {
            model: "m".into(),
            messages: vec![],
            tools: vec![ToolSpec::function("t", "d", json!({"type":"object"}))],
            tool_choice: Some(ToolChoice::Function("t".into())),
            temperature: None,
            max_tokens: None,
            sampling: Sampling {
                top_p: Some(0.5),
                stop: vec!["END".into()],
                seed: Some(7),
                presence_penalty: Some(0.25),
                frequency_penalty: Some(-0.5),
                response_format: Some(json!({"type": "json_object"})),
                parallel_tool_calls: Some(false),
            },
        };
        let body: Value = serde_json::from_str(&request_body(&request)).expect("json");
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "t"}})
        );
        assert_eq!(body["top_p"], json!(0.5));
        assert_eq!(body["stop"], json!(["END"]));
        assert_eq!(body["seed"], json!(7));
        assert_eq!(body["presence_penalty"], json!(0.25));
        assert_eq!(body["frequency_penalty"], json!(-0.5));
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["parallel_tool_calls"], json!(false));
        let required = ModelRequest {
            tool_choice: Some(ToolChoice::Required),
            ..request
        };
        let body: Value = serde_json::from_str(&request_body(&required)).expect("json");
        assert_eq!(body["tool_choice"], json!("required"));
    }
}
