//! Builds the assistant's UIMessage parts from the events of a turn, the same parts an AI SDK
//! client assembles from the stream, so stored history and the visitor's screen agree.

use serde_json::{json, Map, Value};

use super::AgentEvent;

/// Text for tool calls a turn left unfinished (visitor left, error, step limit).
pub const INTERRUPTED_TOOL: &str = "The answer was interrupted before this tool finished.";

/// Collects UIMessage parts.
#[derive(Debug, Default)]
pub struct MessageBuilder {
    parts: Vec<Value>,
}

impl MessageBuilder {
    /// Creates an empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::StepStart => self.parts.push(json!({"type": "step-start"})),
            AgentEvent::TextStart { id } => self.open_block("text", id),
            AgentEvent::ReasoningStart { id } => self.open_block("reasoning", id),
            AgentEvent::TextDelta { id, delta } | AgentEvent::ReasoningDelta { id, delta } => {
                if let Some(part) = self.block(id) {
                    if let Some(Value::String(text)) = part.get_mut("text") {
                        text.push_str(delta);
                    }
                }
            }
            AgentEvent::TextEnd { id } | AgentEvent::ReasoningEnd { id } => {
                if let Some(part) = self.block(id) {
                    part.insert("state".into(), json!("done"));
                    part.remove("id");
                }
            }
            AgentEvent::ToolInputStart { call_id, name } => {
                self.parts.push(json!({
                    "type": format!("tool-{name}"),
                    "toolCallId": call_id,
                    "state": "input-streaming",
                }));
            }
            AgentEvent::ToolInputDelta { .. } => {}
            AgentEvent::SourceUrl {
                source_id,
                url,
                title,
            } => {
                let mut part = json!({"type": "source-url", "sourceId": source_id, "url": url});
                if let Some(title) = title {
                    part["title"] = json!(title);
                }
                self.parts.push(part);
            }
            AgentEvent::Citation {
                source_id,
                url,
                title,
                metadata,
            } => {
                let mut part = match url {
                    Some(url) => json!({"type": "source-url", "sourceId": source_id, "url": url}),
                    None => {
                        json!({"type": "source-document", "sourceId": source_id, "mediaType": "text/plain"})
                    }
                };
                part["title"] = json!(title);
                part["providerMetadata"] = metadata.clone();
                self.parts.push(part);
            }
            AgentEvent::ToolInputAvailable { call_id, input, .. } => {
                self.update_tool(call_id, |part| {
                    part.insert("state".into(), json!("input-available"));
                    part.insert("input".into(), input.clone());
                });
            }
            AgentEvent::ToolInputError {
                call_id,
                input,
                error,
                ..
            } => {
                self.update_tool(call_id, |part| {
                    part.insert("state".into(), json!("output-error"));
                    part.insert("input".into(), input.clone());
                    part.insert("errorText".into(), json!(error));
                });
            }
            AgentEvent::ToolOutputAvailable { call_id, output } => {
                self.update_tool(call_id, |part| {
                    part.insert("state".into(), json!("output-available"));
                    part.insert("output".into(), output.clone());
                });
            }
            AgentEvent::ToolOutputError { call_id, error } => {
                self.update_tool(call_id, |part| {
                    part.insert("state".into(), json!("output-error"));
                    part.insert("errorText".into(), json!(error));
                });
            }
            AgentEvent::Start { .. }
            | AgentEvent::StepFinish
            | AgentEvent::Error { .. }
            | AgentEvent::Finish { .. } => {}
        }
    }

    /// Closes whatever is still open and returns the parts.
    pub fn finish(mut self) -> Vec<Value> {
        for part in &mut self.parts {
            let Some(obj) = part.as_object_mut() else {
                continue;
            };
            if obj.get("state") == Some(&json!("streaming")) {
                obj.insert("state".into(), json!("done"));
                obj.remove("id");
            }
            let unfinished = matches!(
                obj.get("state").and_then(Value::as_str),
                Some("input-streaming") | Some("input-available")
            );
            if unfinished {
                obj.insert("state".into(), json!("output-error"));
                obj.entry("input").or_insert_with(|| json!({}));
                obj.insert("errorText".into(), json!(INTERRUPTED_TOOL));
            }
        }
        self.parts
    }

    fn open_block(&mut self, kind: &str, id: &str) {
        self.parts
            .push(json!({"type": kind, "text": "", "state": "streaming", "id": id}));
    }

    fn block(&mut self, id: &str) -> Option<&mut Map<String, Value>> {
        self.parts
            .iter_mut()
            .rev()
            .filter_map(Value::as_object_mut)
            .find(|p| p.get("id").and_then(Value::as_str) == Some(id))
    }

    fn update_tool(&mut self, call_id: &str, change: impl FnOnce(&mut Map<String, Value>)) {
        let part = self
            .parts
            .iter_mut()
            .rev()
            .filter_map(Value::as_object_mut)
            .find(|p| p.get("toolCallId").and_then(Value::as_str) == Some(call_id));
        if let Some(part) = part {
            change(part);
        }
    }
}

/// The plain text of a message's `text` parts.
pub fn text_of(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_parts_like_the_ai_sdk_client() {
        let mut b = MessageBuilder::new();
        for event in [
            AgentEvent::Start {
                message_id: "m".into(),
            },
            AgentEvent::StepStart,
            AgentEvent::ToolInputStart {
                call_id: "c1".into(),
                name: "get_current_time".into(),
            },
            AgentEvent::ToolInputDelta {
                call_id: "c1".into(),
                delta: "{}".into(),
            },
            AgentEvent::ToolInputAvailable {
                call_id: "c1".into(),
                name: "get_current_time".into(),
                input: json!({}),
            },
            AgentEvent::ToolOutputAvailable {
                call_id: "c1".into(),
                output: json!({"iso": "x"}),
            },
            AgentEvent::StepFinish,
            AgentEvent::StepStart,
            AgentEvent::TextStart { id: "t1".into() },
            AgentEvent::TextDelta {
                id: "t1".into(),
                delta: "It is ".into(),
            },
            AgentEvent::TextDelta {
                id: "t1".into(),
                delta: "noon.".into(),
            },
            AgentEvent::TextEnd { id: "t1".into() },
            AgentEvent::StepFinish,
        ] {
            b.apply(&event);
        }
        let parts = b.finish();
        assert_eq!(
            parts,
            vec![
                json!({"type": "step-start"}),
                json!({"type": "tool-get_current_time", "toolCallId": "c1", "state": "output-available", "input": {}, "output": {"iso": "x"}}),
                json!({"type": "step-start"}),
                json!({"type": "text", "text": "It is noon.", "state": "done"}),
            ]
        );
        assert_eq!(text_of(&parts), "It is noon.");
    }

    #[test]
    fn unfinished_blocks_and_tools_are_closed() {
        let mut b = MessageBuilder::new();
        b.apply(&AgentEvent::TextStart { id: "t".into() });
        b.apply(&AgentEvent::TextDelta {
            id: "t".into(),
            delta: "partial".into(),
        });
        b.apply(&AgentEvent::ToolInputStart {
            call_id: "c".into(),
            name: "x".into(),
        });
        let parts = b.finish();
        assert_eq!(
            parts[0],
            json!({"type": "text", "text": "partial", "state": "done"})
        );
        assert_eq!(parts[1]["state"], "output-error");
        assert_eq!(parts[1]["errorText"], INTERRUPTED_TOOL);
    }
}
