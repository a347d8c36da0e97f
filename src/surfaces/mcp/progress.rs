//! A streamed `ask` (the client sent `params._meta.progressToken`): the answer's text as
//! `notifications/progress` events of a `text/event-stream` body, then the JSON-RPC response
//! as its last event.
//!
//! `progress` counts the answer's characters (Unicode scalar values) so far and rises by one
//! for each status step ("Searching knowledge", "Calling tool lookup"), so it increases with
//! every notification as the specification requires. A text notification's `message` is the
//! new text (its `progress` rose by exactly the message's length); a status step's `message`
//! names the step (its `progress` rose by one).

use serde_json::{Map, Value};

use crate::agent::AgentEvent;

/// The progress token of a request: `params._meta.progressToken`, a string or an integer.
pub fn token(params: &Map<String, Value>) -> Option<&Value> {
    let token = params.get("_meta")?.get("progressToken")?;
    match token {
        Value::String(_) => Some(token),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(token),
        _ => None,
    }
}

/// Appends one SSE event carrying a JSON-RPC message.
pub fn event(message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Encodes a turn's events as progress notifications for one token.
pub struct Progress {
    /// The token, already serialized.
    token: String,
    /// The value of the last notification.
    progress: u64,
}

impl Progress {
    /// Progress for `token` (a string or an integer).
    pub fn new(token: &Value) -> Self {
        Self {
            token: token.to_string(),
            progress: 0,
        }
    }

    /// A status step: `message` names it.
    pub fn status(&mut self, message: &str, out: &mut Vec<u8>) {
        self.notify(1, message, out);
    }

    /// The notification of one engine event, if it makes one: new text, or a tool call.
    pub fn event(&mut self, event: &AgentEvent, out: &mut Vec<u8>) {
        match event {
            AgentEvent::TextDelta { delta, .. } if !delta.is_empty() => {
                self.notify(delta.chars().count() as u64, delta, out);
            }
            AgentEvent::ToolInputAvailable { name, .. } => {
                let mut message = String::with_capacity(13 + name.len());
                message.push_str("Calling tool ");
                message.push_str(name);
                self.status(&message, out);
            }
            _ => {}
        }
    }

    fn notify(&mut self, rise: u64, message: &str, out: &mut Vec<u8>) {
        self.progress += rise;
        out.extend_from_slice(
            b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":",
        );
        out.extend_from_slice(self.token.as_bytes());
        out.extend_from_slice(b",\"progress\":");
        out.extend_from_slice(self.progress.to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, message);
        out.extend_from_slice(b"}}\n\n");
    }
}

#[cfg(target_arch = "wasm32")]
impl crate::http::output::Encode for Progress {
    fn encode(&mut self, event: &AgentEvent, out: &mut Vec<u8>) {
        self.event(event, out);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The JSON-RPC messages of an SSE body.
    fn messages(body: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(body).expect("utf-8");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e
                    .strip_prefix("event: message\ndata: ")
                    .expect("a message event");
                serde_json::from_str(data).expect("json")
            })
            .collect()
    }

    #[test]
    fn reads_string_and_integer_tokens_only() {
        let params = |meta: Value| json!({ "_meta": meta }).as_object().cloned().expect("map");
        assert_eq!(
            token(&params(json!({"progressToken": "t1"}))),
            Some(&json!("t1"))
        );
        assert_eq!(token(&params(json!({"progressToken": 7}))), Some(&json!(7)));
        assert_eq!(token(&params(json!({"progressToken": 1.5}))), None);
        assert_eq!(token(&params(json!({"progressToken": null}))), None);
        assert_eq!(token(&params(json!({}))), None);
        assert_eq!(token(&Map::new()), None);
    }

    #[test]
    fn text_and_steps_become_rising_progress() {
        let mut progress = Progress::new(&json!(3));
        let mut out = Vec::new();
        progress.status("Searching knowledge", &mut out);
        let delta = |d: &str| AgentEvent::TextDelta {
            id: "t".into(),
            delta: d.into(),
        };
        progress.event(&delta("Héllo \"you\""), &mut out);
        progress.event(&delta(""), &mut out);
        progress.event(&AgentEvent::StepFinish, &mut out);
        progress.event(
            &AgentEvent::ToolInputAvailable {
                call_id: "c".into(),
                name: "lookup".into(),
                input: json!({}),
            },
            &mut out,
        );
        progress.event(&delta("\n!"), &mut out);
        let sent = messages(&out);
        let values: Vec<(u64, &str)> = sent
            .iter()
            .map(|m| {
                assert_eq!(m["jsonrpc"], "2.0");
                assert_eq!(m["method"], "notifications/progress");
                assert_eq!(m["params"]["progressToken"], 3);
                (
                    m["params"]["progress"].as_u64().expect("progress"),
                    m["params"]["message"].as_str().expect("message"),
                )
            })
            .collect();
        assert_eq!(
            values,
            [
                (1, "Searching knowledge"),
                (12, "Héllo \"you\""),
                (13, "Calling tool lookup"),
                (15, "\n!"),
            ]
        );
    }

    #[test]
    fn the_response_is_the_last_event() {
        let mut out = Vec::new();
        event(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#, &mut out);
        assert_eq!(
            messages(&out),
            [json!({"jsonrpc":"2.0","id":1,"result":{}})]
        );
    }
}
