//! Persistence: the `Store` trait every backend implements, and the records it keeps.

pub mod cache;
pub mod rows;

#[cfg(target_arch = "wasm32")]
pub mod d1;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::agent::context::Role;
use crate::agent::AgentConfig;
use crate::llm::Usage;

/// A store failure; the message is for logs, never for visitors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

/// An agent with its owner's standing.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Agent id (used in URLs).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Behaviour and look.
    pub config: AgentConfig,
    /// Whether the tenant has switched the agent on.
    pub enabled: bool,
    /// Whether the tenant is in good standing.
    pub tenant_active: bool,
}

/// A conversation between a visitor and an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Conversation id (the AI SDK chat id).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The agent answering.
    pub agent_id: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last activity, ms since the epoch.
    pub updated_at: i64,
}

/// How an assistant message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Complete (every user message, and answers that finished).
    Complete,
    /// The visitor left mid-answer; the parts hold what was said until then.
    Aborted,
    /// The model or a tool failed; the parts hold what was said until then.
    Error,
}

impl MessageStatus {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Aborted => "aborted",
            MessageStatus::Error => "error",
        }
    }
}

/// A stored message in UIMessage form, with what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Message id, unique within its conversation.
    pub id: String,
    /// Conversation it belongs to.
    pub conversation_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Position in the conversation, from 1; assigned by the store.
    pub seq: i64,
    /// Author.
    pub role: Role,
    /// UIMessage parts.
    pub parts: Vec<Value>,
    /// How it ended.
    pub status: MessageStatus,
    /// Model that answered (assistant only).
    pub model: Option<String>,
    /// AI SDK finish reason (assistant only).
    pub finish_reason: Option<String>,
    /// Tokens and cost (assistant only).
    pub usage: Usage,
    /// Error shown to the visitor, when the answer failed.
    pub error: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
}

impl StoredMessage {
    /// The UIMessage a client renders: id, role, parts, and metadata.
    pub fn to_ui_message(&self) -> Value {
        let mut metadata = json!({ "createdAt": self.created_at, "status": self.status.as_str() });
        if self.role == Role::Assistant {
            metadata["model"] = json!(self.model);
            metadata["finishReason"] = json!(self.finish_reason);
            metadata["usage"] = json!(self.usage);
            if let Some(error) = &self.error {
                metadata["error"] = json!(error);
            }
        }
        json!({ "id": self.id, "role": self.role.as_str(), "parts": self.parts, "metadata": metadata })
    }
}

/// What a chat turn writes before the model is called, in one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnStart {
    /// The conversation.
    pub conversation: Conversation,
    /// Whether the conversation is new and must be created.
    pub create: bool,
    /// Drop the messages after this `seq` first (a regenerated answer replaces them).
    pub replace_after: Option<i64>,
    /// The new user message, unless the turn answers a stored one again.
    pub user_message: Option<StoredMessage>,
}

/// Everything the chat surfaces need from a backend (D1 today, Convex next).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Loads an agent by id.
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError>;
    /// Loads a conversation with its messages, oldest first.
    async fn conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError>;
    /// Creates the conversation if new, replaces regenerated messages, stores the user message.
    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError>;
    /// Appends a message at the end of its conversation.
    async fn append_message(&self, message: &StoredMessage) -> Result<(), StoreError>;
}
