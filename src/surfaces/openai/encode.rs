//! A turn's events as OpenAI answers: `chat.completion.chunk` server-sent events exactly as
//! OpenAI streams them (the role in the first delta, `finish_reason` in the last, an optional
//! usage chunk with no choices, then `[DONE]`), or one `chat.completion` object.
//!
//! Only what the caller can use leaves: text, reasoning, citations and the calls of the
//! caller's own tools. The agent's server tools run inside the request and stay unseen.

use serde_json::{json, Value};

use crate::agent::AgentEvent;
use crate::error::ApiError;
use crate::llm::{FinishReason, Usage};

/// Response headers of a stream.
pub const STREAM_HEADERS: [(&str, &str); 4] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
    ("x-accel-buffering", "no"),
];

/// The stream's terminator.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// The fields every chunk and the completion share.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// `chatcmpl-…`.
    pub id: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// The model as the caller named it.
    pub model: String,
}

/// One call of a caller's tool, as the answer returns it.
#[derive(Debug, Clone, PartialEq)]
struct ClientCall {
    id: String,
    name: String,
    arguments: String,
}

/// Encodes one turn's events; in stream mode into SSE bytes as they come, else into the
/// completion built at the end.
#[derive(Debug)]
pub struct Encoder {
    meta: Meta,
    /// `data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,`
    head: Vec<u8>,
    stream: bool,
    include_usage: bool,
    client_tools: Vec<String>,
    calls: Vec<ClientCall>,
    content: String,
    reasoning: String,
    annotations: Vec<Value>,
    /// Whether text was said: a later text block is set apart by a blank line.
    said: bool,
    separate: bool,
    finish: Option<&'static str>,
    failure: Option<String>,
}

impl Encoder {
    /// An encoder for a stream (`include_usage`: end with a usage chunk) or a completion.
    pub fn new(meta: Meta, stream: bool, include_usage: bool, client_tools: Vec<String>) -> Self {
        let mut head = b"data: {\"id\":".to_vec();
        push_str(&mut head, &meta.id);
        head.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        head.extend_from_slice(meta.created.to_string().as_bytes());
        head.extend_from_slice(b",\"model\":");
        push_str(&mut head, &meta.model);
        head.push(b',');
        Self {
            meta,
            head,
            stream,
            include_usage,
            client_tools,
            calls: Vec::new(),
            content: String::new(),
            reasoning: String::new(),
            annotations: Vec::new(),
            said: false,
            separate: false,
            finish: None,
            failure: None,
        }
    }

    /// The first chunk: the assistant's role, as OpenAI sends it before any content.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.stream {
            self.chunk(out, b"{\"role\":\"assistant\",\"content\":\"\"}", None);
        }
    }

    /// Encodes one event of the turn.
    pub fn event(&mut self, event: &AgentEvent, out: &mut Vec<u8>) {
        if self.failure.is_some() {
            return;
        }
        match event {
            AgentEvent::TextStart { .. } => self.separate = self.said,
            AgentEvent::TextDelta { delta, .. } => {
                let delta = if std::mem::take(&mut self.separate) {
                    format!("\n\n{delta}")
                } else {
                    delta.clone()
                };
                self.said = true;
                if self.stream {
                    let mut body = b"{\"content\":".to_vec();
                    push_str(&mut body, &delta);
                    body.push(b'}');
                    self.chunk(out, &body, None);
                } else {
                    self.content.push_str(&delta);
                }
            }
            AgentEvent::ReasoningDelta { delta, .. } => {
                if self.stream {
                    let mut body = b"{\"reasoning_content\":".to_vec();
                    push_str(&mut body, delta);
                    body.push(b'}');
                    self.chunk(out, &body, None);
                } else {
                    self.reasoning.push_str(delta);
                }
            }
            AgentEvent::SourceUrl { url, title, .. } => {
                let annotation = json!({ "type": "url_citation",
                    "url_citation": { "url": url, "title": title } });
                if self.stream {
                    let body = json!({ "annotations": [annotation] }).to_string();
                    self.chunk(out, body.as_bytes(), None);
                } else {
                    self.annotations.push(annotation);
                }
            }
            AgentEvent::ToolInputStart { call_id, name } if self.is_client(name) => {
                let index = self.calls.len();
                self.calls.push(ClientCall {
                    id: call_id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
                if self.stream {
                    let body = json!({ "tool_calls": [{ "index": index, "id": call_id,
                        "type": "function", "function": { "name": name, "arguments": "" } }] })
                    .to_string();
                    self.chunk(out, body.as_bytes(), None);
                }
            }
            AgentEvent::ToolInputDelta { call_id, delta } => {
                self.arguments(call_id, delta, out);
            }
            // A call with no arguments at all still hands its caller a JSON object.
            AgentEvent::ToolInputAvailable { call_id, .. }
                if self
                    .calls
                    .iter()
                    .any(|c| &c.id == call_id && c.arguments.is_empty()) =>
            {
                self.arguments(call_id, "{}", out);
            }
            AgentEvent::Finish { reason } => {
                let reason = finish_reason(*reason, !self.calls.is_empty());
                self.finish = Some(reason);
                if self.stream {
                    self.chunk(out, b"{}", Some(reason));
                }
            }
            AgentEvent::Error { message } => {
                self.failure = Some(message.clone());
                if self.stream {
                    // What OpenAI sends when a stream fails: an error event, and no [DONE].
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(stream_error(message).as_bytes());
                    out.extend_from_slice(b"\n\n");
                }
            }
            _ => {}
        }
    }

    /// Ends a stream that could not run (the turn was refused after it started) with the
    /// refusal as its error event, in OpenAI's error shape.
    pub fn refuse(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        self.failure = Some(error.to_string());
        if self.stream {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(error.openai_body().as_bytes());
            out.extend_from_slice(b"\n\n");
        }
    }

    /// Ends a stream: the usage chunk when asked for, then `[DONE]` (after a failure, nothing).
    pub fn end(&mut self, usage: &Usage, out: &mut Vec<u8>) {
        if self.failure.is_some() || !self.stream {
            return;
        }
        if self.include_usage {
            out.extend_from_slice(&self.head);
            out.extend_from_slice(b"\"choices\":[],\"usage\":");
            out.extend_from_slice(usage_json(usage).to_string().as_bytes());
            out.extend_from_slice(b"}\n\n");
        }
        out.extend_from_slice(DONE);
    }

    /// Why the turn failed, if it did (for a completion, the error to answer with).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The `chat.completion` object of a turn that did not fail.
    pub fn completion(&self, usage: &Usage) -> Value {
        let tool_calls: Vec<Value> = self
            .calls
            .iter()
            .map(|c| {
                json!({ "id": c.id, "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments } })
            })
            .collect();
        let content = (!self.content.is_empty() || tool_calls.is_empty()).then_some(&self.content);
        let mut message = json!({
            "role": "assistant", "content": content, "refusal": null,
            "annotations": self.annotations,
        });
        if !tool_calls.is_empty() {
            message["tool_calls"] = json!(tool_calls);
        }
        if !self.reasoning.is_empty() {
            message["reasoning_content"] = json!(self.reasoning);
        }
        json!({
            "id": self.meta.id,
            "object": "chat.completion",
            "created": self.meta.created,
            "model": self.meta.model,
            "choices": [{ "index": 0, "message": message, "logprobs": null,
                "finish_reason": self.finish.unwrap_or("stop") }],
            "usage": usage_json(usage),
            "system_fingerprint": null,
        })
    }

    fn is_client(&self, name: &str) -> bool {
        self.client_tools.iter().any(|t| t == name)
    }

    fn arguments(&mut self, call_id: &str, delta: &str, out: &mut Vec<u8>) {
        let Some(index) = self.calls.iter().position(|c| c.id == call_id) else {
            return;
        };
        self.calls[index].arguments.push_str(delta);
        if self.stream {
            let body = json!({ "tool_calls": [{ "index": index,
                "function": { "arguments": delta } }] })
            .to_string();
            self.chunk(out, body.as_bytes(), None);
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, delta: &[u8], finish: Option<&str>) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"\"choices\":[{\"index\":0,\"delta\":");
        out.extend_from_slice(delta);
        out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(reason) => push_str(out, reason),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}]");
        if self.include_usage {
            out.extend_from_slice(b",\"usage\":null");
        }
        out.extend_from_slice(b"}\n\n");
    }
}

#[cfg(target_arch = "wasm32")]
impl crate::http::output::Encode for Encoder {
    fn encode(&mut self, event: &AgentEvent, out: &mut Vec<u8>) {
        self.event(event, out);
    }
}

/// OpenAI's `finish_reason` for how the turn ended (`tool_calls` only when the caller's own
/// tools were called: it must run them and send their results).
fn finish_reason(reason: FinishReason, returned_calls: bool) -> &'static str {
    match reason {
        _ if returned_calls => "tool_calls",
        FinishReason::Length => "length",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Stop
        | FinishReason::ToolCalls
        | FinishReason::Error
        | FinishReason::Other => "stop",
    }
}

/// `usage`: prompt, completion and total tokens, and the cost (an extension, as OpenRouter's).
pub fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "cost": usage.cost,
    })
}

/// The error event of a stream that failed after it started.
fn stream_error(message: &str) -> String {
    json!({ "error": { "message": message, "type": "server_error", "code": "model_error",
        "param": null } })
    .to_string()
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            id: "chatcmpl-1".into(),
            created: 1_700_000_000,
            model: "support".into(),
        }
    }

    fn text(id: &str, delta: &str) -> AgentEvent {
        AgentEvent::TextDelta {
            id: id.into(),
            delta: delta.into(),
        }
    }

    /// The `data:` payloads of a stream, parsed (`[DONE]` as a string).
    fn payloads(bytes: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(bytes).expect("utf-8");
        assert!(text.ends_with("\n\n"), "events end with a blank line");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.strip_prefix("data: ").expect("a data line");
                serde_json::from_str(data).unwrap_or(Value::String(data.into()))
            })
            .collect()
    }

    fn run(encoder: &mut Encoder, events: &[AgentEvent], usage: &Usage) -> Vec<u8> {
        let mut out = Vec::new();
        encoder.start(&mut out);
        for event in events {
            encoder.event(event, &mut out);
        }
        encoder.end(usage, &mut out);
        out
    }

    fn answer() -> Vec<AgentEvent> {
        vec![
            AgentEvent::StepStart,
            AgentEvent::TextStart { id: "txt_1".into() },
            text("txt_1", "Hel"),
            text("txt_1", "lo \"there\""),
            AgentEvent::TextEnd { id: "txt_1".into() },
            AgentEvent::StepFinish,
            AgentEvent::Finish {
                reason: FinishReason::Stop,
            },
        ]
    }

    fn usage() -> Usage {
        Usage {
            input_tokens: 12,
            output_tokens: 5,
            cost: 0.00042,
            embedding_tokens: 0,
        }
    }

    #[test]
    fn a_stream_is_shaped_as_openai_sends_it() {
        let mut encoder = Encoder::new(meta(), true, true, vec![]);
        let events = payloads(&run(&mut encoder, &answer(), &usage()));
        assert_eq!(events.len(), 6);
        for chunk in &events[..5] {
            assert_eq!(chunk["id"], "chatcmpl-1");
            assert_eq!(chunk["object"], "chat.completion.chunk");
            assert_eq!(chunk["created"], 1_700_000_000);
            assert_eq!(chunk["model"], "support");
        }
        assert_eq!(
            events[0]["choices"],
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}])
        );
        assert_eq!(events[0]["usage"], Value::Null);
        assert!(
            events[0].get("usage").is_some(),
            "usage: null on every chunk"
        );
        assert_eq!(events[1]["choices"][0]["delta"], json!({"content": "Hel"}));
        assert_eq!(
            events[2]["choices"][0]["delta"],
            json!({"content": "lo \"there\""})
        );
        assert_eq!(events[3]["choices"][0]["delta"], json!({}));
        assert_eq!(events[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(events[4]["choices"], json!([]));
        assert_eq!(
            events[4]["usage"],
            json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, "cost": 0.00042})
        );
        assert_eq!(events[5], "[DONE]");
    }

    #[test]
    fn without_include_usage_no_usage_field_and_no_usage_chunk() {
        let mut encoder = Encoder::new(meta(), true, false, vec![]);
        let events = payloads(&run(&mut encoder, &answer(), &usage()));
        assert_eq!(events.len(), 5);
        assert!(events.iter().take(4).all(|e| e.get("usage").is_none()));
        assert_eq!(events[4], "[DONE]");
    }

    #[test]
    fn the_callers_tool_calls_are_returned_and_the_servers_stay_unseen() {
        let events = vec![
            AgentEvent::StepStart,
            AgentEvent::ToolInputStart {
                call_id: "srv".into(),
                name: "lookup_order".into(),
            },
            AgentEvent::ToolInputDelta {
                call_id: "srv".into(),
                delta: "{}".into(),
            },
            AgentEvent::ToolOutputAvailable {
                call_id: "srv".into(),
                output: json!({"status": "shipped"}),
            },
            AgentEvent::StepFinish,
            AgentEvent::StepStart,
            AgentEvent::TextStart { id: "txt_1".into() },
            text("txt_1", "Checking."),
            AgentEvent::TextEnd { id: "txt_1".into() },
            AgentEvent::ToolInputStart {
                call_id: "c1".into(),
                name: "open_ticket".into(),
            },
            AgentEvent::ToolInputDelta {
                call_id: "c1".into(),
                delta: "{\"topic\":".into(),
            },
            AgentEvent::ToolInputDelta {
                call_id: "c1".into(),
                delta: "\"refund\"}".into(),
            },
            AgentEvent::ToolInputStart {
                call_id: "c2".into(),
                name: "notify".into(),
            },
            AgentEvent::ToolInputAvailable {
                call_id: "c2".into(),
                name: "notify".into(),
                input: json!({}),
            },
            AgentEvent::StepFinish,
            AgentEvent::Finish {
                reason: FinishReason::ToolCalls,
            },
        ];
        let client = vec!["open_ticket".to_string(), "notify".to_string()];
        let mut streamed = Encoder::new(meta(), true, false, client.clone());
        let chunks = payloads(&run(&mut streamed, &events, &usage()));
        let deltas: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c.get("choices").map(|ch| &ch[0]["delta"]))
            .collect();
        assert!(!chunks
            .iter()
            .any(|c| c.to_string().contains("lookup_order")));
        assert_eq!(deltas[1], &json!({"content": "Checking."}));
        assert_eq!(
            deltas[2],
            &json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "open_ticket", "arguments": ""}}]})
        );
        assert_eq!(
            deltas[3],
            &json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"topic\":"}}]})
        );
        assert_eq!(
            deltas[6],
            &json!({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]})
        );
        assert_eq!(
            chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
            "tool_calls"
        );

        let mut whole = Encoder::new(meta(), false, false, client);
        assert!(
            run(&mut whole, &events, &usage()).is_empty(),
            "a completion streams nothing"
        );
        let completion = whole.completion(&usage());
        assert_eq!(completion["object"], "chat.completion");
        let choice = &completion["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Checking.");
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([
                {"id": "c1", "type": "function", "function": {"name": "open_ticket", "arguments": "{\"topic\":\"refund\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "notify", "arguments": "{}"}}
            ])
        );
        assert_eq!(completion["usage"]["total_tokens"], 17);
    }

    #[test]
    fn a_completion_joins_text_blocks_and_keeps_citations() {
        let events = vec![
            AgentEvent::TextStart { id: "txt_1".into() },
            text("txt_1", "One."),
            AgentEvent::TextEnd { id: "txt_1".into() },
            AgentEvent::ReasoningDelta {
                id: "rsn_2".into(),
                delta: "hm".into(),
            },
            AgentEvent::TextStart { id: "txt_3".into() },
            text("txt_3", "Two."),
            AgentEvent::SourceUrl {
                source_id: "src_1".into(),
                url: "https://shop.example/returns".into(),
                title: Some("Returns".into()),
            },
            AgentEvent::Finish {
                reason: FinishReason::Length,
            },
        ];
        let mut whole = Encoder::new(meta(), false, false, vec![]);
        run(&mut whole, &events, &Usage::default());
        let completion = whole.completion(&Usage::default());
        let message = &completion["choices"][0]["message"];
        assert_eq!(message["content"], "One.\n\nTwo.");
        assert_eq!(message["reasoning_content"], "hm");
        assert!(message.get("tool_calls").is_none());
        assert_eq!(
            message["annotations"],
            json!([{"type": "url_citation", "url_citation": {"url": "https://shop.example/returns", "title": "Returns"}}])
        );
        assert_eq!(completion["choices"][0]["finish_reason"], "length");
        assert_eq!(
            completion["usage"],
            json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.0})
        );
    }

    #[test]
    fn a_refused_stream_ends_with_the_refusal() {
        let mut streamed = Encoder::new(meta(), true, false, vec![]);
        let mut out = Vec::new();
        streamed.start(&mut out);
        streamed.refuse(&ApiError::SpendCapReached, &mut out);
        streamed.end(&Usage::default(), &mut out);
        let chunks = payloads(&out);
        assert_eq!(chunks.len(), 2, "no [DONE] after a refusal");
        assert_eq!(chunks[1]["error"]["code"], "insufficient_quota");
    }

    #[test]
    fn a_failure_mid_stream_is_an_error_event_without_done() {
        let events = vec![
            AgentEvent::TextStart { id: "txt_1".into() },
            text("txt_1", "Partial"),
            AgentEvent::Error {
                message: "The AI service stopped answering.".into(),
            },
            AgentEvent::Finish {
                reason: FinishReason::Error,
            },
        ];
        let mut streamed = Encoder::new(meta(), true, true, vec![]);
        let chunks = payloads(&run(&mut streamed, &events, &usage()));
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks[2],
            json!({"error": {"message": "The AI service stopped answering.", "type": "server_error", "code": "model_error", "param": null}})
        );
        assert_eq!(
            streamed.failure(),
            Some("The AI service stopped answering.")
        );
        let mut whole = Encoder::new(meta(), false, false, vec![]);
        run(&mut whole, &events, &usage());
        assert_eq!(whole.failure(), Some("The AI service stopped answering."));
    }
}
