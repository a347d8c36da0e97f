//! The rules of a phone call that do not need the runtime: what the agent is told, the tools a
//! call adds (`transfer_to_human`, `take_message`), how an interrupted answer is stored, and
//! what the `<Connect action>` callback answers.

use std::cell::RefCell;

use serde_json::{json, Value};

use super::twiml;
use crate::agent::phone::PhoneConfig;
use crate::llm::ToolSpec;
use crate::tools::LocalTools;

/// The conversation a call is: one per call SID, so the callback finds it without a lookup.
pub fn conversation_id(call_sid: &str) -> String {
    format!("call_{call_sid}")
}

/// Whether a call SID looks like one (`CA` and 32 hex digits); anything else is refused
/// before it reaches an id.
pub fn is_call_sid(sid: &str) -> bool {
    sid.strip_prefix("CA")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A phone number as lists show it: only its last four digits.
pub fn mask_number(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return "caller".into();
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("+•••{tail}")
}

/// What the agent is told on top of its own prompt: that it is on the phone and how to sound.
pub fn system_prompt(agent_prompt: &str, phone: &PhoneConfig, can_hand_off: bool) -> String {
    let mut prompt = String::from(agent_prompt.trim());
    if !prompt.is_empty() {
        prompt.push_str("\n\n");
    }
    prompt.push_str(
        "You are speaking with a caller on a phone call; everything you write is read aloud. \
         Answer in short spoken sentences. Never use markdown, lists, tables, emoji or links, \
         and never read out a web address.",
    );
    if !phone.greeting.trim().is_empty() {
        prompt.push_str(&format!(
            " You already greeted the caller with: \"{}\"",
            phone.greeting.trim()
        ));
    }
    if can_hand_off {
        prompt.push_str(
            " When the caller asks for a person, or you cannot help, call transfer_to_human \
             with the reason and a one-line summary, and tell the caller you are transferring them.",
        );
    } else {
        prompt.push_str(
            " Nobody can take the call right now: when the caller asks for a person, offer to \
             take a message, and call take_message with it (and their name and number if they \
             give them).",
        );
    }
    prompt
}

/// Name of the handoff tool.
pub const TRANSFER: &str = "transfer_to_human";
/// Name of the message tool.
pub const TAKE_MESSAGE: &str = "take_message";

/// The tools a call adds to the agent's own.
pub fn call_tools(can_hand_off: bool) -> Vec<ToolSpec> {
    if can_hand_off {
        vec![ToolSpec::function(
            TRANSFER,
            "Transfer the caller to a person. Use when the caller asks for a human or you cannot help.",
            json!({"type": "object", "properties": {
                "reason": {"type": "string", "description": "Why the caller needs a person"},
                "summary": {"type": "string", "description": "One line for the person taking the call"}
            }, "required": ["reason", "summary"]}),
        )]
    } else {
        vec![ToolSpec::function(
            TAKE_MESSAGE,
            "Leave a message for the team when nobody can take the call.",
            json!({"type": "object", "properties": {
                "message": {"type": "string"},
                "name": {"type": "string"},
                "callbackNumber": {"type": "string"}
            }, "required": ["message"]}),
        )]
    }
}

/// What the call's tools asked for during a turn.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Requests {
    /// `transfer_to_human` was called: `{reason, summary}`.
    pub handoff: Option<Value>,
    /// `take_message` was called: `{message, name, callbackNumber}`.
    pub message: Option<Value>,
}

fn short(input: &Value, name: &str, max: usize) -> Value {
    let text: String = input
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .chars()
        .take(max)
        .collect();
    json!(text)
}

/// The call's own tools, which only record what they were asked (the worker's runner asks
/// them before the agent's tools).
pub struct CallTools {
    can_hand_off: bool,
    /// What the call's tools asked for (read after the turn).
    pub requests: RefCell<Requests>,
}

impl CallTools {
    /// The call's tools: `transfer_to_human` when a person can take the call, else
    /// `take_message`.
    pub fn new(can_hand_off: bool) -> Self {
        Self {
            can_hand_off,
            requests: RefCell::new(Requests::default()),
        }
    }
}

impl LocalTools for CallTools {
    fn specs(&self) -> Vec<ToolSpec> {
        call_tools(self.can_hand_off)
    }

    fn call(&self, name: &str, input: &Value) -> Option<Result<Value, String>> {
        match name {
            TRANSFER if self.can_hand_off => {
                self.requests.borrow_mut().handoff = Some(json!({
                    "reason": short(input, "reason", 200),
                    "summary": short(input, "summary", 300),
                }));
                Some(Ok(json!(
                    "The transfer starts as soon as you finish speaking."
                )))
            }
            TAKE_MESSAGE if !self.can_hand_off => {
                let message = short(input, "message", 2_000);
                if message.as_str().is_some_and(str::is_empty) {
                    return Some(Err(
                        "The message is empty; ask the caller what to pass on.".into()
                    ));
                }
                self.requests.borrow_mut().message = Some(json!({
                    "message": message,
                    "name": short(input, "name", 200),
                    "callbackNumber": short(input, "callbackNumber", 40),
                }));
                Some(Ok(json!(
                    "Message saved; tell the caller it will be passed on."
                )))
            }
            _ => None,
        }
    }
}

/// An answer's parts cut to what the caller heard: tool parts stay, the text becomes `heard`.
pub fn heard_parts(parts: &[Value], heard: &str) -> Vec<Value> {
    let mut out = Vec::with_capacity(parts.len());
    let mut placed = false;
    for part in parts {
        if part.get("type").and_then(Value::as_str) == Some("text") {
            if !placed && !heard.is_empty() {
                out.push(json!({"type": "text", "text": heard}));
            }
            placed = true;
        } else {
            out.push(part.clone());
        }
    }
    if !placed && !heard.is_empty() {
        out.push(json!({"type": "text", "text": heard}));
    }
    out
}

/// The `handoffData` the relay's `end` carries: why, and a summary for the person.
pub fn handoff_data(reason: &str, summary: &str) -> Value {
    json!({ "reason": reason, "summary": summary })
}

/// What the `<Connect action>` callback answers: `<Dial>` the handoff number when the
/// session ended with a handoff, else `<Hangup/>`.
pub fn after_session(handoff_data: Option<&str>, phone: &PhoneConfig) -> String {
    let asked = handoff_data
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .is_some_and(|data| data.get("reason").is_some());
    match (&phone.handoff_number, asked) {
        (Some(number), true) => twiml::dial(
            number,
            phone.handoff_caller_id.as_deref(),
            "",
            &phone.language,
        ),
        _ => twiml::hang_up(),
    }
}

/// How a call ended, for its record, from the `<Connect action>` callback's fields.
pub fn outcome(
    handoff_data: Option<&str>,
    error_code: Option<&str>,
    recorded: Option<&str>,
) -> String {
    if handoff_data.is_some_and(|d| d.contains("\"reason\"")) {
        return "handoff".into();
    }
    if error_code.is_some_and(|c| !c.is_empty()) {
        return "error".into();
    }
    recorded.unwrap_or("completed").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_masks() {
        assert_eq!(conversation_id("CA1"), "call_CA1");
        assert!(is_call_sid(&format!("CA{}", "a".repeat(32))));
        assert!(!is_call_sid("CA12"));
        assert!(!is_call_sid(&format!("XX{}", "a".repeat(32))));
        assert_eq!(mask_number("+18005550100"), "+•••0100");
        assert_eq!(mask_number("anonymous"), "caller");
    }

    #[test]
    fn the_agent_is_told_it_is_on_the_phone() {
        let phone = PhoneConfig::default();
        let prompt = system_prompt("Be kind.", &phone, true);
        assert!(prompt.starts_with("Be kind.\n\n"));
        assert!(prompt.contains("phone call") && prompt.contains("markdown"));
        assert!(prompt.contains(TRANSFER));
        assert!(system_prompt("", &phone, false).contains(TAKE_MESSAGE));
    }

    #[test]
    fn call_tools_record_what_they_are_asked_and_pass_the_rest_on() {
        let tools = CallTools::new(true);
        let said = tools.call(
            TRANSFER,
            &json!({"reason": "billing", "summary": "Wants a refund"}),
        );
        assert!(matches!(said, Some(Ok(_))));
        assert_eq!(
            tools.requests.borrow().handoff,
            Some(json!({"reason": "billing", "summary": "Wants a refund"}))
        );
        assert_eq!(tools.call("lookup", &json!({})), None);
        // No message tool when a person can take the call.
        assert_eq!(tools.call(TAKE_MESSAGE, &json!({})), None);
        assert_eq!(tools.specs()[0].name(), TRANSFER);
        let tools = CallTools::new(false);
        assert!(matches!(
            tools.call(TAKE_MESSAGE, &json!({"message": " "})),
            Some(Err(_))
        ));
        assert!(matches!(
            tools.call(TAKE_MESSAGE, &json!({"message": "Call me", "name": "Ann"})),
            Some(Ok(_))
        ));
        assert_eq!(
            tools.requests.borrow().message,
            Some(json!({"message": "Call me", "name": "Ann", "callbackNumber": ""}))
        );
        assert_eq!(tools.call(TRANSFER, &json!({})), None);
        assert_eq!(tools.specs()[0].name(), TAKE_MESSAGE);
    }

    #[test]
    fn an_interrupted_answer_keeps_what_was_heard() {
        let parts = vec![
            json!({"type": "step-start"}),
            json!({"type": "text", "text": "Sure, I can help you with that today."}),
            json!({"type": "tool-x", "input": {}}),
            json!({"type": "text", "text": " More."}),
        ];
        assert_eq!(
            heard_parts(&parts, "Sure, I can"),
            vec![
                json!({"type": "step-start"}),
                json!({"type": "text", "text": "Sure, I can"}),
                json!({"type": "tool-x", "input": {}}),
            ]
        );
        assert_eq!(
            heard_parts(&parts[..1], ""),
            vec![json!({"type": "step-start"})]
        );
    }

    #[test]
    fn the_callback_dials_only_for_a_handoff_with_a_number() {
        let phone = PhoneConfig {
            handoff_number: Some("+15551234567".into()),
            handoff_caller_id: Some("+15550000000".into()),
            ..PhoneConfig::default()
        };
        let data = handoff_data("billing", "Refund").to_string();
        assert!(after_session(Some(&data), &phone)
            .contains("<Dial callerId=\"+15550000000\">+15551234567</Dial>"));
        assert!(after_session(None, &phone).contains("<Hangup/>"));
        assert!(after_session(Some("not json"), &phone).contains("<Hangup/>"));
        assert!(after_session(Some(&data), &PhoneConfig::default()).contains("<Hangup/>"));
        assert_eq!(outcome(Some(&data), None, None), "handoff");
        assert_eq!(outcome(None, Some("64107"), None), "error");
        assert_eq!(outcome(None, None, Some("message")), "message");
        assert_eq!(outcome(None, Some(""), None), "completed");
    }
}
