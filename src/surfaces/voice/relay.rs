//! The ConversationRelay WebSocket's JSON text frames: what Twilio sends (`setup`, `prompt`,
//! `interrupt`, `dtmf`, `error`; anything else is ignored, as Twilio adds types over time) and
//! what the agent sends back (`text` tokens and `end`).

use serde_json::{json, Value};

/// A frame from Twilio.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// The session starts.
    Setup(Setup),
    /// What the caller said; act only when `last` (partials come only with `partialPrompts`).
    Prompt {
        /// The transcript.
        text: String,
        /// Whether this is the whole utterance.
        last: bool,
    },
    /// The caller spoke over the agent.
    Interrupt {
        /// What the caller heard of the answer before cutting in.
        heard: String,
        /// How long the answer had been playing, in ms.
        duration_ms: Option<u64>,
    },
    /// The caller pressed a key.
    Dtmf {
        /// `0`-`9`, `*` or `#`.
        digit: String,
    },
    /// Twilio reports a problem with something the agent sent.
    Error {
        /// Twilio's description.
        description: String,
    },
    /// A frame the agent does not act on (unknown type, or not JSON).
    Ignored,
}

/// The `setup` frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Setup {
    /// Twilio's session id.
    pub session_id: String,
    /// The call SID.
    pub call_sid: String,
    /// The account the call belongs to.
    pub account_sid: String,
    /// Caller.
    pub from: String,
    /// Called number.
    pub to: String,
    /// The `<Parameter>`s of the TwiML, by name.
    pub parameters: Vec<(String, String)>,
}

impl Setup {
    /// One custom parameter.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one text frame.
pub fn parse(frame: &str) -> Inbound {
    let Ok(value) = serde_json::from_str::<Value>(frame) else {
        return Inbound::Ignored;
    };
    let text = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match value.get("type").and_then(Value::as_str) {
        Some("setup") => {
            let parameters = value
                .get("customParameters")
                .and_then(Value::as_object)
                .map(|object| {
                    object
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            Inbound::Setup(Setup {
                session_id: text("sessionId"),
                call_sid: text("callSid"),
                account_sid: text("accountSid"),
                from: text("from"),
                to: text("to"),
                parameters,
            })
        }
        Some("prompt") => Inbound::Prompt {
            text: text("voicePrompt"),
            // Absent means whole: Twilio sends partials only when asked to.
            last: value.get("last").and_then(Value::as_bool).unwrap_or(true),
        },
        Some("interrupt") => Inbound::Interrupt {
            heard: text("utteranceUntilInterrupt"),
            duration_ms: value
                .get("durationUntilInterruptMs")
                .and_then(Value::as_u64),
        },
        Some("dtmf") => Inbound::Dtmf {
            digit: text("digit"),
        },
        Some("error") => Inbound::Error {
            description: text("description"),
        },
        _ => Inbound::Ignored,
    }
}

/// A `text` frame: one token of speech; `last` ends the answer.
pub fn text(token: &str, last: bool) -> String {
    json!({ "type": "text", "token": token, "last": last }).to_string()
}

/// An `end` frame: Twilio ends the session and posts `handoff_data` to the `<Connect action>`.
pub fn end(handoff_data: &Value) -> String {
    json!({ "type": "end", "handoffData": handoff_data.to_string() }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_twilios_frames() {
        let setup = parse(
            r#"{"type":"setup","sessionId":"VX1","accountSid":"AC1","parentCallSid":"","callSid":"CA1","from":"+18005550100","to":"+18005550101","forwardedFrom":"","callType":"PSTN","callerName":"","direction":"inbound","callStatus":"RINGING","customParameters":{"token":"v1.x","n":5}}"#,
        );
        let Inbound::Setup(setup) = setup else {
            panic!("a setup")
        };
        assert_eq!(setup.call_sid, "CA1");
        assert_eq!(setup.from, "+18005550100");
        assert_eq!(setup.parameter("token"), Some("v1.x"));
        assert_eq!(setup.parameter("n"), None);
        assert_eq!(
            parse(
                r#"{"type":"prompt","voicePrompt":"I need to reschedule","lang":"en-US","last":true}"#
            ),
            Inbound::Prompt {
                text: "I need to reschedule".into(),
                last: true
            }
        );
        assert_eq!(
            parse(
                r#"{"type":"interrupt","utteranceUntilInterrupt":"Sure, I can","durationUntilInterruptMs":1820}"#
            ),
            Inbound::Interrupt {
                heard: "Sure, I can".into(),
                duration_ms: Some(1820)
            }
        );
        assert_eq!(
            parse(r#"{"type":"dtmf","digit":"1"}"#),
            Inbound::Dtmf { digit: "1".into() }
        );
        assert_eq!(
            parse(r#"{"type":"error","description":"Invalid message"}"#),
            Inbound::Error {
                description: "Invalid message".into()
            }
        );
    }

    #[test]
    fn unknown_and_broken_frames_are_ignored() {
        assert_eq!(parse(r#"{"type":"info","x":1}"#), Inbound::Ignored);
        assert_eq!(parse("not json"), Inbound::Ignored);
        assert_eq!(parse("[]"), Inbound::Ignored);
        assert_eq!(
            parse(r#"{"type":"prompt","voicePrompt":7}"#),
            Inbound::Prompt {
                text: String::new(),
                last: true
            }
        );
    }

    #[test]
    fn writes_text_and_end() {
        assert_eq!(
            text("Hi \"you\"", false),
            r#"{"last":false,"token":"Hi \"you\"","type":"text"}"#
        );
        let end = end(&json!({"reason": "live-agent"}));
        let value: Value = serde_json::from_str(&end).expect("json");
        assert_eq!(value["type"], "end");
        assert_eq!(value["handoffData"], r#"{"reason":"live-agent"}"#);
    }
}
