//! SQL for the SQLite-family stores (D1) and the mapping between rows and records.
//!
//! Statements take positional parameters only; values are always bound, never spliced in.

use serde::Deserialize;
use serde_json::Value;

use super::{Agent, Conversation, MessageStatus, StoreError, StoredMessage};
use crate::agent::context::Role;
use crate::agent::AgentConfig;
use crate::llm::Usage;

/// Loads an agent with its tenant's status. `?1` agent id.
pub const SELECT_AGENT: &str =
    "SELECT a.id, a.tenant_id, a.config, a.enabled, t.status AS tenant_status \
     FROM agents a JOIN tenants t ON t.id = a.tenant_id WHERE a.id = ?1";

/// Loads a conversation. `?1` id.
pub const SELECT_CONVERSATION: &str =
    "SELECT id, tenant_id, agent_id, created_at, updated_at FROM conversations WHERE id = ?1";

/// Creates a conversation. `?1` id, `?2` tenant, `?3` agent, `?4` created/updated time.
pub const INSERT_CONVERSATION: &str =
    "INSERT INTO conversations (id, tenant_id, agent_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)";

/// A conversation's messages in order. `?1` conversation id.
pub const SELECT_MESSAGES: &str = "SELECT id, conversation_id, tenant_id, seq, role, parts, status, model, finish_reason, \
     input_tokens, output_tokens, cost, error, created_at FROM messages WHERE conversation_id = ?1 ORDER BY seq";

/// Appends a message with the next `seq`, atomically. Parameters in `message_params` order.
pub const INSERT_MESSAGE: &str =
    "INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, status, model, \
     finish_reason, input_tokens, output_tokens, cost, error, created_at) \
     SELECT ?1, ?2, ?3, COALESCE(MAX(seq), 0) + 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 \
     FROM messages WHERE conversation_id = ?2";

/// Marks activity on a conversation. `?1` id, `?2` time.
pub const TOUCH_CONVERSATION: &str = "UPDATE conversations SET updated_at = ?2 WHERE id = ?1";

/// Drops the messages after a point. `?1` conversation id, `?2` seq.
pub const DELETE_MESSAGES_AFTER: &str =
    "DELETE FROM messages WHERE conversation_id = ?1 AND seq > ?2";

/// A parameter value, independent of the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// SQL NULL.
    Null,
    /// TEXT.
    Text(String),
    /// INTEGER (sent as a JS number; safe up to 2^53).
    Int(i64),
    /// REAL.
    Real(f64),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_owned())
    }
}

impl From<Option<&str>> for Param {
    fn from(s: Option<&str>) -> Self {
        s.map_or(Param::Null, Param::from)
    }
}

/// Parameters of `INSERT_MESSAGE`.
pub fn message_params(m: &StoredMessage) -> Vec<Param> {
    vec![
        m.id.as_str().into(),
        m.conversation_id.as_str().into(),
        m.tenant_id.as_str().into(),
        m.role.as_str().into(),
        Param::Text(Value::Array(m.parts.clone()).to_string()),
        m.status.as_str().into(),
        m.model.as_deref().into(),
        m.finish_reason.as_deref().into(),
        Param::Int(m.usage.input_tokens as i64),
        Param::Int(m.usage.output_tokens as i64),
        Param::Real(m.usage.cost),
        m.error.as_deref().into(),
        Param::Int(m.created_at),
    ]
}

/// Parameters of `INSERT_CONVERSATION`.
pub fn conversation_params(c: &Conversation) -> Vec<Param> {
    vec![
        c.id.as_str().into(),
        c.tenant_id.as_str().into(),
        c.agent_id.as_str().into(),
        Param::Int(c.created_at),
    ]
}

/// A row of `SELECT_AGENT`.
#[derive(Debug, Deserialize)]
pub struct AgentRow {
    id: String,
    tenant_id: String,
    config: String,
    enabled: f64,
    tenant_status: String,
}

impl AgentRow {
    /// Converts to a record; a config that is not valid JSON is reported, not ignored.
    pub fn into_agent(self) -> Result<Agent, StoreError> {
        let config: AgentConfig = serde_json::from_str(&self.config)
            .map_err(|e| StoreError::Corrupt(format!("agent {} config: {e}", self.id)))?;
        Ok(Agent {
            id: self.id,
            tenant_id: self.tenant_id,
            config,
            enabled: self.enabled != 0.0,
            tenant_active: self.tenant_status == "active",
        })
    }
}

/// A row of `SELECT_CONVERSATION`.
#[derive(Debug, Deserialize)]
pub struct ConversationRow {
    id: String,
    tenant_id: String,
    agent_id: String,
    created_at: f64,
    updated_at: f64,
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Conversation {
            id: row.id,
            tenant_id: row.tenant_id,
            agent_id: row.agent_id,
            created_at: row.created_at as i64,
            updated_at: row.updated_at as i64,
        }
    }
}

/// A row of `SELECT_MESSAGES`.
#[derive(Debug, Deserialize)]
pub struct MessageRow {
    id: String,
    conversation_id: String,
    tenant_id: String,
    seq: f64,
    role: String,
    parts: String,
    status: String,
    model: Option<String>,
    finish_reason: Option<String>,
    input_tokens: f64,
    output_tokens: f64,
    cost: f64,
    error: Option<String>,
    created_at: f64,
}

impl MessageRow {
    /// Converts to a record.
    pub fn into_message(self) -> Result<StoredMessage, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("message {} {what}", self.id));
        let role = match self.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => return Err(corrupt("role")),
        };
        let status = match self.status.as_str() {
            "complete" => MessageStatus::Complete,
            "aborted" => MessageStatus::Aborted,
            "error" => MessageStatus::Error,
            _ => return Err(corrupt("status")),
        };
        let parts: Vec<Value> = serde_json::from_str(&self.parts).map_err(|_| corrupt("parts"))?;
        Ok(StoredMessage {
            id: self.id,
            conversation_id: self.conversation_id,
            tenant_id: self.tenant_id,
            seq: self.seq as i64,
            role,
            parts,
            status,
            model: self.model,
            finish_reason: self.finish_reason,
            usage: Usage {
                input_tokens: self.input_tokens as u64,
                output_tokens: self.output_tokens as u64,
                cost: self.cost,
            },
            error: self.error,
            created_at: self.created_at as i64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(role: &str, parts: &str) -> MessageRow {
        serde_json::from_value(json!({
            "id": "m1", "conversation_id": "c1", "tenant_id": "t1", "seq": 3, "role": role, "parts": parts,
            "status": "aborted", "model": "a/b", "finish_reason": null, "input_tokens": 5, "output_tokens": 7,
            "cost": 0.5, "error": null, "created_at": 1_700_000_000_000_i64
        }))
        .expect("row")
    }

    #[test]
    fn message_round_trip_through_params_and_rows() {
        let message = row("assistant", r#"[{"type":"text","text":"hi"}]"#)
            .into_message()
            .expect("valid");
        assert_eq!(message.seq, 3);
        assert_eq!(message.status, MessageStatus::Aborted);
        assert_eq!(message.usage.output_tokens, 7);
        let params = message_params(&message);
        assert_eq!(params.len(), 13);
        assert!(INSERT_MESSAGE.contains("?13") && !INSERT_MESSAGE.contains("?14"));
        assert_eq!(
            params[4],
            Param::Text(r#"[{"text":"hi","type":"text"}]"#.into())
        );
        let ui = message.to_ui_message();
        assert_eq!(ui["metadata"]["status"], "aborted");
        assert_eq!(ui["metadata"]["usage"]["outputTokens"], 7);
    }

    #[test]
    fn corrupt_rows_are_reported() {
        assert!(row("system", "[]").into_message().is_err());
        assert!(row("user", "not json").into_message().is_err());
        let agent: AgentRow = serde_json::from_value(json!({"id": "a", "tenant_id": "t", "config": "{", "enabled": 1, "tenant_status": "active"})).expect("row");
        assert!(matches!(agent.into_agent(), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn agent_rows_carry_standing() {
        let agent: AgentRow = serde_json::from_value(json!({"id": "a", "tenant_id": "t", "config": "{\"name\":\"N\"}", "enabled": 0, "tenant_status": "suspended"})).expect("row");
        let agent = agent.into_agent().expect("valid");
        assert!(!agent.enabled && !agent.tenant_active);
        assert_eq!(agent.config.name, "N");
    }
}
