//! Turns stored history (UIMessage parts) into the model's context.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::text_of;
use crate::llm::{ChatMessage, ToolCall};

/// Most history messages sent to the model; older ones are left out.
pub const MAX_HISTORY_MESSAGES: usize = 60;

/// Who wrote a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The visitor.
    User,
    /// The agent.
    Assistant,
}

impl Role {
    /// Lowercase name, as stored and as the AI SDK spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// Builds the model messages: system prompt, then the newest history in order.
pub fn build<'a>(
    system_prompt: &str,
    history: impl IntoIterator<Item = (Role, &'a [Value])>,
) -> Vec<ChatMessage> {
    let history: Vec<(Role, &[Value])> = history.into_iter().collect();
    let skip = history.len().saturating_sub(MAX_HISTORY_MESSAGES);
    let mut messages = Vec::new();
    if !system_prompt.trim().is_empty() {
        messages.push(ChatMessage::System {
            content: system_prompt.to_owned(),
        });
    }
    for (role, parts) in history.into_iter().skip(skip) {
        match role {
            Role::User => {
                let content = text_of(parts);
                if !content.is_empty() {
                    messages.push(ChatMessage::User { content });
                }
            }
            Role::Assistant => assistant_messages(parts, &mut messages),
        }
    }
    messages
}

fn assistant_messages(parts: &[Value], out: &mut Vec<ChatMessage>) {
    for step in parts.split(|p| part_type(p) == "step-start") {
        let text = text_of(step);
        let mut calls = Vec::new();
        let mut results = Vec::new();
        for part in step {
            let Some((name, call_id)) = tool_identity(part) else {
                continue;
            };
            let result = match part.get("state").and_then(Value::as_str) {
                Some("output-available") => match part.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => "null".into(),
                },
                Some("output-error") => {
                    let error = part
                        .get("errorText")
                        .and_then(Value::as_str)
                        .unwrap_or("tool failed");
                    serde_json::json!({ "error": error }).to_string()
                }
                _ => continue,
            };
            let arguments = match part.get("input") {
                Some(Value::Object(map)) => Value::Object(map.clone()).to_string(),
                _ => "{}".to_owned(),
            };
            calls.push(ToolCall::function(call_id, name, arguments));
            results.push(ChatMessage::Tool {
                tool_call_id: call_id.to_owned(),
                content: result,
            });
        }
        if text.is_empty() && calls.is_empty() {
            continue;
        }
        out.push(ChatMessage::Assistant {
            content: (!text.is_empty()).then_some(text),
            tool_calls: calls,
        });
        out.extend(results);
    }
}

fn part_type(part: &Value) -> &str {
    part.get("type").and_then(Value::as_str).unwrap_or("")
}

fn tool_identity(part: &Value) -> Option<(&str, &str)> {
    let kind = part_type(part);
    let name = if kind == "dynamic-tool" {
        part.get("toolName").and_then(Value::as_str)?
    } else {
        kind.strip_prefix("tool-")?
    };
    let call_id = part.get("toolCallId").and_then(Value::as_str)?;
    Some((name, call_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rebuilds_tool_steps_and_text() {
        let user = vec![json!({"type": "text", "text": "What time is it in Paris?"})];
        let assistant = vec![
            json!({"type": "step-start"}),
            json!({"type": "tool-get_current_time", "toolCallId": "c1", "state": "output-available", "input": {"timezone": "Europe/Paris"}, "output": {"iso": "2026"}}),
            json!({"type": "tool-broken", "toolCallId": "c2", "state": "output-error", "input": {}, "errorText": "boom"}),
            json!({"type": "step-start"}),
            json!({"type": "text", "text": "It is 2026.", "state": "done"}),
        ];
        let messages = build(
            "Be brief.",
            [
                (Role::User, user.as_slice()),
                (Role::Assistant, assistant.as_slice()),
            ],
        );
        assert_eq!(
            messages,
            vec![
                ChatMessage::System {
                    content: "Be brief.".into()
                },
                ChatMessage::User {
                    content: "What time is it in Paris?".into()
                },
                ChatMessage::Assistant {
                    content: None,
                    tool_calls: vec![
                        ToolCall::function(
                            "c1",
                            "get_current_time",
                            r#"{"timezone":"Europe/Paris"}"#
                        ),
                        ToolCall::function("c2", "broken", "{}"),
                    ],
                },
                ChatMessage::Tool {
                    tool_call_id: "c1".into(),
                    content: r#"{"iso":"2026"}"#.into()
                },
                ChatMessage::Tool {
                    tool_call_id: "c2".into(),
                    content: r#"{"error":"boom"}"#.into()
                },
                ChatMessage::Assistant {
                    content: Some("It is 2026.".into()),
                    tool_calls: vec![]
                },
            ]
        );
    }

    #[test]
    fn skips_unfinished_tool_calls_and_empty_messages() {
        let assistant = vec![
            json!({"type": "tool-x", "toolCallId": "c", "state": "input-available", "input": {}}),
        ];
        let empty_user: Vec<Value> = vec![];
        let messages = build(
            "",
            [
                (Role::User, empty_user.as_slice()),
                (Role::Assistant, assistant.as_slice()),
            ],
        );
        assert!(messages.is_empty());
    }

    #[test]
    fn keeps_only_the_newest_history() {
        let parts: Vec<Vec<Value>> = (0..MAX_HISTORY_MESSAGES + 10)
            .map(|i| vec![json!({"type": "text", "text": format!("m{i}")})])
            .collect();
        let messages = build("", parts.iter().map(|p| (Role::User, p.as_slice())));
        assert_eq!(messages.len(), MAX_HISTORY_MESSAGES);
        assert_eq!(
            messages[0],
            ChatMessage::User {
                content: "m10".into()
            }
        );
    }
}
