//! Records of a tenant's integrations (settings for an outside service, by name) and of phone
//! calls (kept next to the conversation each call is).

use serde_json::Value;

/// A tenant's settings for one outside service: `twilio` today, `langfuse` and `otlp` next.
/// The public part may be shown back; the secret part never leaves the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Owning tenant.
    pub tenant_id: String,
    /// Which service (`app::integrations` knows each name's fields).
    pub name: String,
    /// Settings that may be shown back (a JSON object).
    pub settings: Value,
    /// Secret settings (a JSON object): never returned by the API, only masked.
    pub secrets: Value,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
}

/// A phone call: the conversation it is, who called, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The conversation holding the transcript (`call_<CallSid>`).
    pub conversation_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The agent that answered.
    pub agent_id: String,
    /// Twilio's call SID.
    pub call_sid: String,
    /// The caller's number (masked in lists).
    pub caller: String,
    /// The number that was called.
    pub callee: String,
    /// When the relay session started, ms since the epoch.
    pub started_at: i64,
    /// When it ended, ms since the epoch.
    pub ended_at: Option<i64>,
    /// How it ended: `completed`, `hangup`, `handoff`, `message`, `time-limit`, `refused`, `error`.
    pub outcome: Option<String>,
    /// The rest as a JSON object: `handoff` {reason, summary}, `message` {text, name,
    /// callbackNumber}, `interruptions`, `durationSecs`, `sessionStatus`, `errors`.
    pub details: Value,
}
