//! The AI SDK UI message stream (protocol `v1`): one SSE `data:` line of JSON per event.

use serde::Serialize;
use serde_json::Value;

use crate::agent::AgentEvent;

/// Response headers the AI SDK's own server helpers set.
pub const HEADERS: [(&str, &str); 5] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
    ("x-vercel-ai-ui-message-stream", "v1"),
    ("x-accel-buffering", "no"),
];

/// The stream's terminator.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Serialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
enum Chunk<'a> {
    Start {
        message_id: &'a str,
    },
    StartStep,
    TextStart {
        id: &'a str,
    },
    TextDelta {
        id: &'a str,
        delta: &'a str,
    },
    TextEnd {
        id: &'a str,
    },
    ReasoningStart {
        id: &'a str,
    },
    ReasoningDelta {
        id: &'a str,
        delta: &'a str,
    },
    ReasoningEnd {
        id: &'a str,
    },
    ToolInputStart {
        tool_call_id: &'a str,
        tool_name: &'a str,
    },
    ToolInputDelta {
        tool_call_id: &'a str,
        input_text_delta: &'a str,
    },
    ToolInputAvailable {
        tool_call_id: &'a str,
        tool_name: &'a str,
        input: &'a Value,
    },
    ToolInputError {
        tool_call_id: &'a str,
        tool_name: &'a str,
        input: &'a Value,
        error_text: &'a str,
    },
    ToolOutputAvailable {
        tool_call_id: &'a str,
        output: &'a Value,
    },
    ToolOutputError {
        tool_call_id: &'a str,
        error_text: &'a str,
    },
    SourceUrl {
        source_id: &'a str,
        url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
    },
    SourceDocument {
        source_id: &'a str,
        media_type: &'a str,
        title: &'a str,
        provider_metadata: &'a Value,
    },
    #[serde(rename = "source-url")]
    CitedUrl {
        source_id: &'a str,
        url: &'a str,
        title: &'a str,
        provider_metadata: &'a Value,
    },
    FinishStep,
    Error {
        error_text: &'a str,
    },
    Finish {
        finish_reason: &'a str,
    },
}

/// Appends the SSE line for `event` to `out`.
pub fn encode(event: &AgentEvent, out: &mut Vec<u8>) {
    let chunk = match event {
        AgentEvent::Start { message_id } => Chunk::Start { message_id },
        AgentEvent::StepStart => Chunk::StartStep,
        AgentEvent::TextStart { id } => Chunk::TextStart { id },
        AgentEvent::TextDelta { id, delta } => Chunk::TextDelta { id, delta },
        AgentEvent::TextEnd { id } => Chunk::TextEnd { id },
        AgentEvent::ReasoningStart { id } => Chunk::ReasoningStart { id },
        AgentEvent::ReasoningDelta { id, delta } => Chunk::ReasoningDelta { id, delta },
        AgentEvent::ReasoningEnd { id } => Chunk::ReasoningEnd { id },
        AgentEvent::ToolInputStart { call_id, name } => Chunk::ToolInputStart {
            tool_call_id: call_id,
            tool_name: name,
        },
        AgentEvent::ToolInputDelta { call_id, delta } => Chunk::ToolInputDelta {
            tool_call_id: call_id,
            input_text_delta: delta,
        },
        AgentEvent::ToolInputAvailable {
            call_id,
            name,
            input,
        } => Chunk::ToolInputAvailable {
            tool_call_id: call_id,
            tool_name: name,
            input,
        },
        AgentEvent::ToolInputError {
            call_id,
            name,
            input,
            error,
        } => Chunk::ToolInputError {
            tool_call_id: call_id,
            tool_name: name,
            input,
            error_text: error,
        },
        AgentEvent::ToolOutputAvailable { call_id, output } => Chunk::ToolOutputAvailable {
            tool_call_id: call_id,
            output,
        },
        AgentEvent::ToolOutputError { call_id, error } => Chunk::ToolOutputError {
            tool_call_id: call_id,
            error_text: error,
        },
        AgentEvent::SourceUrl {
            source_id,
            url,
            title,
        } => Chunk::SourceUrl {
            source_id,
            url,
            title: title.as_deref(),
        },
        AgentEvent::Citation {
            source_id,
            url,
            title,
            metadata,
        } => match url {
            Some(url) => Chunk::CitedUrl {
                source_id,
                url,
                title,
                provider_metadata: metadata,
            },
            None => Chunk::SourceDocument {
                source_id,
                media_type: "text/plain",
                title,
                provider_metadata: metadata,
            },
        },
        AgentEvent::StepFinish => Chunk::FinishStep,
        AgentEvent::Error { message } => Chunk::Error {
            error_text: message,
        },
        AgentEvent::Finish { reason } => Chunk::Finish {
            finish_reason: reason.as_str(),
        },
    };
    out.extend_from_slice(b"data: ");
    // Writing borrowed strings and JSON values into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &chunk);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::FinishReason;
    use serde_json::json;

    fn line(event: AgentEvent) -> String {
        let mut out = Vec::new();
        encode(&event, &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn encodes_the_canonical_chunks() {
        assert_eq!(
            line(AgentEvent::Start {
                message_id: "msg_3".into()
            }),
            "data: {\"type\":\"start\",\"messageId\":\"msg_3\"}\n\n"
        );
        assert_eq!(
            line(AgentEvent::StepStart),
            "data: {\"type\":\"start-step\"}\n\n"
        );
        assert_eq!(
            line(AgentEvent::StepFinish),
            "data: {\"type\":\"finish-step\"}\n\n"
        );
        assert_eq!(
            line(AgentEvent::ToolInputDelta { call_id: "call_1".into(), delta: "{\"city\":\"Pa".into() }),
            "data: {\"type\":\"tool-input-delta\",\"toolCallId\":\"call_1\",\"inputTextDelta\":\"{\\\"city\\\":\\\"Pa\"}\n\n"
        );
        assert_eq!(
            line(AgentEvent::ToolInputAvailable { call_id: "call_1".into(), name: "get_weather".into(), input: json!({"city": "Paris"}) }),
            "data: {\"type\":\"tool-input-available\",\"toolCallId\":\"call_1\",\"toolName\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}\n\n"
        );
        assert_eq!(
            line(AgentEvent::ToolOutputError {
                call_id: "c".into(),
                error: "e".into()
            }),
            "data: {\"type\":\"tool-output-error\",\"toolCallId\":\"c\",\"errorText\":\"e\"}\n\n"
        );
        assert_eq!(
            line(AgentEvent::Finish {
                reason: FinishReason::ToolCalls
            }),
            "data: {\"type\":\"finish\",\"finishReason\":\"tool-calls\"}\n\n"
        );
    }

    #[test]
    fn newlines_in_text_stay_on_one_data_line() {
        let out = line(AgentEvent::TextDelta {
            id: "t".into(),
            delta: "a\nb\r\n\n".into(),
        });
        assert_eq!(
            out.matches('\n').count(),
            2,
            "only the SSE terminator may contain newlines: {out}"
        );
    }
}
