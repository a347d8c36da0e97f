//! Persistence: the `Store` trait every backend implements, and the records it keeps.

pub mod cache;
pub mod convex_wire;
pub mod integrations;
pub mod knowledge;
pub mod rows;
pub mod scoped;

#[cfg(test)]
pub mod memory;
#[cfg(test)]
mod schema_tests;

#[cfg(target_arch = "wasm32")]
pub mod any;
#[cfg(target_arch = "wasm32")]
pub mod convex;
#[cfg(target_arch = "wasm32")]
pub mod d1;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::agent::context::Role;
use crate::agent::AgentConfig;
use crate::auth::keys::KeyKind;
use crate::llm::Usage;
pub use integrations::{Call, Integration};

/// A store failure; the message is for logs, never for visitors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// The backend ran the operation and refused it (a Convex function that threw).
    #[error("store refused the operation: {0}")]
    Rejected(String),
}

/// An agent with what the chat surfaces need of its tenant. Holds secrets: never serialized.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// The agent's publishable keys that are not revoked.
    pub publishable_keys: Vec<String>,
    /// The tenant's secret for verifying end-user hashes.
    pub identity_secret: Option<String>,
    /// The tenant's secret for signing webhook calls.
    pub signing_secret: Option<String>,
    /// The tenant's monthly spend cap.
    pub tenant_spend_cap: Option<f64>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// The store's count of saves (1 when created): what a stale-edit check compares.
    pub version: i64,
}

/// Whether a tenant may use the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    /// In good standing.
    Active,
    /// Switched off by the operator: every key and agent of the tenant is refused.
    Suspended,
}

impl TenantStatus {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
        }
    }
}

/// A customer of the platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Standing.
    pub status: TenantStatus,
    /// Spend allowed per calendar month across all agents.
    pub monthly_spend_cap: Option<f64>,
    /// Conversations inactive for longer than this many days are deleted; `None`: kept.
    pub retention_days: Option<u32>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
}

/// Which of a tenant's conversations a bulk delete removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection<'a> {
    /// Those whose last activity (`updated_at`) is before this time, ms since the epoch.
    InactiveBefore(i64),
    /// Those of one visitor (`v_…`, or `u:<userId>` for a verified end user).
    Visitor(&'a str),
}

/// What a bulk delete removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Conversations (with their call records).
    pub conversations: u64,
    /// Messages, both roles (with their timing summaries).
    pub messages: u64,
    /// Of those messages, the rated ones.
    pub feedback: u64,
}

impl Deleted {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Deleted) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.feedback += other.feedback;
    }
}

/// Most documents (messages and conversations) one call of a bulk delete removes: one D1 batch
/// or one Convex mutation, far inside their per-statement and per-transaction limits.
pub const BULK_DELETE_BATCH: u32 = 1000;

/// Which tenant secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSecret {
    /// Verifies end-user hashes.
    Identity,
    /// Signs webhook calls.
    Signing,
}

/// What an API key (and, later, an MCP key) may reach; empty for the other kinds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyScope {
    /// The agents the key may call; `None`: every agent of the tenant.
    pub agents: Option<Vec<String>>,
    /// Whether web pages may call with it (CORS on `/v1`).
    pub browser: bool,
    /// Its own rate limit in requests a minute; `None`: the default.
    pub per_minute: Option<u32>,
}

impl KeyScope {
    /// Whether the key may call `agent_id`.
    pub fn allows(&self, agent_id: &str) -> bool {
        self.agents
            .as_ref()
            .is_none_or(|agents| agents.iter().any(|a| a == agent_id))
    }
}

/// A stored API key (never the secret value itself).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The agent a publishable key belongs to.
    pub agent_id: Option<String>,
    /// Secret or publishable.
    pub kind: KeyKind,
    /// The tenant's label.
    pub name: String,
    /// Row lookup (see `auth::keys::NewKey`).
    pub lookup: String,
    /// SHA-256 hex of the key.
    pub hash: String,
    /// Display form.
    pub masked: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
    /// What an API key may reach.
    pub scope: KeyScope,
}

/// Spend recorded in a calendar month (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spend {
    /// Across the tenant's agents.
    pub tenant: f64,
    /// For one agent.
    pub agent: f64,
}

/// What a chat turn asks the store for, in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnQuery<'a> {
    /// The agent's tenant.
    pub tenant_id: &'a str,
    /// The agent answering.
    pub agent_id: &'a str,
    /// The conversation the client named, if any.
    pub conversation_id: Option<&'a str>,
    /// The message id the client sent (a stored one when it regenerates an answer).
    pub resent_message_id: Option<&'a str>,
    /// The UTC month whose spend counts, `YYYY-MM`.
    pub month: &'a str,
    /// How many of the newest messages to return.
    pub history_limit: u32,
}

/// What a chat turn reads before calling the model: a bounded window and two running totals.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnContext {
    /// The conversation the client named.
    pub conversation: ConversationState,
    /// Spend this month.
    pub spend: Spend,
}

impl TurnContext {
    /// The context as it is once `message` is stored: in the window, and its cost spent.
    pub fn with_message(mut self, message: &StoredMessage, limit: usize) -> Self {
        if let ConversationState::Found(window) = self.conversation {
            let known = window.messages.iter().any(|m| m.id == message.id);
            if !known {
                self.spend.tenant += message.usage.cost;
                self.spend.agent += message.usage.cost;
            }
            self.conversation = ConversationState::Found(window.with_message(message, limit));
        }
        self
    }
}

/// What the store knows of the conversation a turn names.
#[derive(Debug, Clone, PartialEq)]
// One value per turn, moved once: boxing the window would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum ConversationState {
    /// No id, or no conversation with that id.
    Missing,
    /// Another tenant's or another agent's conversation: nothing of it is returned.
    Foreign,
    /// The tenant's conversation with this agent.
    Found(ConversationWindow),
}

/// A conversation with the part of its history a turn needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationWindow {
    /// The conversation.
    pub conversation: Conversation,
    /// The newest `history_limit` messages with `seq` up to the anchor, oldest first; the
    /// anchor is the resent message when it is a stored user message, else the last message.
    pub messages: Vec<StoredMessage>,
    /// How many messages the conversation holds (its last `seq`; seqs have no gaps).
    pub message_count: i64,
    /// The resent message's `seq` and role, when the conversation holds it.
    pub resent: Option<(i64, Role)>,
}

impl ConversationWindow {
    /// The window a turn reads from a conversation's whole history (oldest first): the newest
    /// `limit` messages up to the resent user message, or up to the last one. The contract the
    /// stores implement with bounded reads, as one function for those that hold it all.
    pub fn of(
        conversation: Conversation,
        messages: Vec<StoredMessage>,
        resent_id: Option<&str>,
        limit: usize,
    ) -> Self {
        let message_count = messages.last().map_or(0, |m| m.seq);
        let resent = resent_id
            .and_then(|id| messages.iter().find(|m| m.id == id))
            .map(|m| (m.seq, m.role));
        let anchor = match resent {
            Some((seq, Role::User)) => seq,
            _ => message_count,
        };
        let upto: Vec<StoredMessage> = messages.into_iter().filter(|m| m.seq <= anchor).collect();
        let skip = upto.len().saturating_sub(limit);
        ConversationWindow {
            conversation,
            messages: upto.into_iter().skip(skip).collect(),
            message_count,
            resent,
        }
    }

    /// The window as it is once `message` is stored too (at most `limit` messages): what a
    /// phone call keeps of its own conversation, so that its turns plan without a read.
    pub fn with_message(mut self, message: &StoredMessage, limit: usize) -> Self {
        if self.messages.iter().any(|m| m.id == message.id) {
            return self;
        }
        self.message_count += 1;
        self.messages.push(message.clone());
        let skip = self.messages.len().saturating_sub(limit);
        self.messages.drain(..skip);
        self
    }
}

/// Which of a tenant's conversations to list (most recently active first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationQuery {
    /// Only this agent's.
    pub agent_id: Option<String>,
    /// Only those whose messages contain this text (case-insensitive).
    pub search: Option<String>,
    /// Only those after this `(updated_at, id)` in the listing order (a page cursor).
    pub before: Option<(i64, String)>,
    /// Only those whose summary rating is this.
    pub rating: Option<Rating>,
    /// Only those started from this channel.
    pub channel: Option<String>,
    /// Only those whose last answer ended so.
    pub status: Option<MessageStatus>,
    /// Only dashboard preview chats (`true`) or only the others (`false`).
    pub preview: Option<bool>,
}

/// What an inbox row shows of a conversation, worked out from its messages when listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationSummary {
    /// The first user message's text (at most `EXCERPT_CHARS`).
    pub first_message: Option<String>,
    /// Messages, both roles.
    pub message_count: u64,
    /// `Down` when any answer was rated down, else `Up` when any was rated up.
    pub rating: Option<Rating>,
    /// How the last answer ended; `None` before the first answer.
    pub status: Option<MessageStatus>,
    /// With a search: the text around the first match, in the first message that has it.
    pub matched: Option<String>,
}

/// Which rated answers to list (newest rating first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackQuery {
    /// Only this agent's.
    pub agent_id: Option<String>,
    /// Only this rating.
    pub rating: Option<Rating>,
    /// Only those after this `(feedback_at, message_id)` in the listing order.
    pub before: Option<(i64, String)>,
}

/// A rated answer with the question it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackItem {
    /// Conversation.
    pub conversation_id: String,
    /// The rated answer.
    pub message_id: String,
    /// The agent that answered.
    pub agent_id: String,
    /// Up or down.
    pub rating: Rating,
    /// When it was rated, ms since the epoch.
    pub feedback_at: i64,
    /// The answer's text (at most 300 characters).
    pub answer: String,
    /// The question's text (at most 300 characters), when there is one.
    pub question: Option<String>,
}

/// How an agent update ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentUpdate {
    /// Saved.
    Saved,
    /// The tenant has no such agent.
    Missing,
    /// The agent changed since the version the caller expected; nothing was written.
    Stale,
}

/// Most batches one delete runs before it gives up: with batches of 1,000 rows that is 200,000
/// rows, far past any agent's; a delete that stops is finished by a retry (the owner's row goes
/// last, so it is still there to delete).
pub const MAX_DELETE_BATCHES: u32 = 200;

/// Runs `batch` (which answers whether it is done) until it is done, at most
/// `MAX_DELETE_BATCHES` times, so a store that keeps finding rows cannot loop forever.
pub async fn in_batches<F, Fut>(mut batch: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    for _ in 0..MAX_DELETE_BATCHES {
        if batch().await? {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable(format!(
        "the delete did not finish in {MAX_DELETE_BATCHES} batches; delete again to continue"
    )))
}

/// Longest excerpt of a message's text in listings.
pub const EXCERPT_CHARS: usize = 300;

/// The text parts of a stored message (parts as JSON text), joined, cut to `EXCERPT_CHARS`.
pub fn excerpt(parts_json: &str) -> String {
    let parts: Vec<Value> = serde_json::from_str(parts_json).unwrap_or_default();
    let text: String = parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    if text.chars().count() <= EXCERPT_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(EXCERPT_CHARS).collect();
    cut.push('…');
    cut
}

/// Usage totals of one agent on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyUsage {
    /// Agent id.
    pub agent_id: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Answers.
    pub messages: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost.
    pub cost: f64,
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
    /// The visitor who owns it (`None` for conversations from before visitor tokens).
    pub visitor_id: Option<String>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last activity, ms since the epoch.
    pub updated_at: i64,
    /// The page the first message was sent from, as the page reported it (unverified).
    pub page_url: Option<String>,
    /// Where it was started, as the client said (`widget`, `inline`, `api`; unverified).
    pub channel: Option<String>,
    /// Started from the dashboard's preview by a holder of the tenant's secret key.
    pub preview: bool,
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
    /// The visitor's rating of an answer.
    pub feedback: Option<Rating>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// The turn's summary as JSON text (`observe::TurnSummary`): answers only.
    pub timing: Option<String>,
}

/// A visitor's rating of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    /// Thumbs up.
    Up,
    /// Thumbs down.
    Down,
}

impl Rating {
    /// Stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Up => "up",
            Rating::Down => "down",
        }
    }

    /// Parses the stored and API spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "up" => Some(Rating::Up),
            "down" => Some(Rating::Down),
            _ => None,
        }
    }
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
            if let Some(rating) = self.feedback {
                metadata["feedback"] = json!(rating.as_str());
            }
        }
        json!({ "id": self.id, "role": self.role.as_str(), "parts": self.parts, "metadata": metadata })
    }

    /// The UIMessage as the tenant sees it: with the turn's timing summary (models tried, tool
    /// times, trace id), which visitors are not shown.
    pub fn to_tenant_message(&self) -> Value {
        let mut message = self.to_ui_message();
        if let Some(timing) = self.timing.as_deref() {
            message["metadata"]["timing"] = serde_json::from_str(timing).unwrap_or(Value::Null);
        }
        message
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
    /// The id the turn's answer will have: once the conversation holds it the turn is over,
    /// so a late retry of the start writes nothing (and deletes nothing).
    pub answer_id: Option<String>,
}

/// A new user message a turn may store in the same round trip as its read
/// (`Store::begin_turn`), so the turn makes one store call less. The store writes it only when
/// what it reads allows it (`EagerStart::allowed`), a rule no looser than `app::turn::plan`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct EagerStart {
    /// The conversation, created if the read finds none by that id.
    pub conversation: Conversation,
    /// The user message.
    pub message: StoredMessage,
    /// The agent's limit of messages per conversation (the answer needs room too).
    pub max_messages: i64,
    /// This month's spend caps that refuse the turn (`None` when spend cannot refuse it: no
    /// cap, or a cheaper model to fall back on).
    pub caps: SpendCaps,
}

/// Spend caps a turn must be under, `None` where there is none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpendCaps {
    /// The tenant's monthly cap.
    pub tenant: Option<f64>,
    /// The agent's monthly cap.
    pub agent: Option<f64>,
}

impl SpendCaps {
    /// Whether `spend` is under both caps.
    pub fn allow(&self, spend: Spend) -> bool {
        let under = |cap: Option<f64>, spent: f64| cap.is_none_or(|cap| spent < cap);
        under(self.tenant, spend.tenant) && under(self.agent, spend.agent)
    }
}

impl EagerStart {
    /// Whether the read `context` allows the write: spend under the caps, and either no
    /// conversation by that id, or this agent's conversation of this visitor that does not
    /// hold the message yet and has room for it and its answer.
    pub fn allowed(&self, context: &TurnContext) -> bool {
        if !self.caps.allow(context.spend) {
            return false;
        }
        match &context.conversation {
            ConversationState::Missing => 2 <= self.max_messages,
            ConversationState::Foreign => false,
            ConversationState::Found(window) => {
                let c = &window.conversation;
                c.id == self.conversation.id
                    && c.tenant_id == self.conversation.tenant_id
                    && c.agent_id == self.conversation.agent_id
                    && c.visitor_id.is_some()
                    && c.visitor_id == self.conversation.visitor_id
                    && window.resent.is_none()
                    && window.message_count + 2 <= self.max_messages
            }
        }
    }

    /// The start that stores it: `create` when the read found no conversation.
    pub fn start(&self, context: &TurnContext) -> TurnStart {
        TurnStart {
            conversation: self.conversation.clone(),
            create: matches!(context.conversation, ConversationState::Missing),
            replace_after: None,
            user_message: Some(self.message.clone()),
            answer_id: None,
        }
    }
}

/// Everything the product needs from a backend (D1 today, Convex next). Every method that takes
/// a `tenant_id` reads or writes only that tenant's rows.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Loads an agent by id, with its tenant's standing, secrets and publishable keys.
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError>;
    /// Loads a tenant's conversation with its messages, oldest first (`None` when it is
    /// missing or another tenant's).
    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError>;
    /// Reads what a turn needs with a bounded number of reads: the conversation's window
    /// (scoped to the tenant and agent) and this month's spend of the tenant and the agent.
    async fn turn_context(&self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError>;
    /// Creates the conversation if new, replaces regenerated messages, stores the user message.
    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError>;
    /// `turn_context`, and in the same round trip (atomically where the backend can) stores
    /// `eager` when `EagerStart::allowed` by what was read; says whether it stored it. The
    /// context is the one read before the write.
    // The default, for a backend without one round trip for both: the read, then the write.
    #[allow(clippy::disallowed_methods)]
    async fn begin_turn(
        &self,
        query: &TurnQuery<'_>,
        eager: &EagerStart,
    ) -> Result<(TurnContext, bool), StoreError> {
        let context = self.turn_context(query).await?;
        if !eager.allowed(&context) {
            return Ok((context, false));
        }
        self.start_turn(&eager.start(&context)).await?;
        Ok((context, true))
    }
    /// Rates an answer of a tenant's conversation with one agent (`None` clears the rating);
    /// false when that tenant's agent has no such answer.
    async fn set_feedback(
        &self,
        tenant_id: &str,
        agent_id: &str,
        conversation_id: &str,
        message_id: &str,
        rating: Option<Rating>,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Appends an answer at the end of its conversation and adds it to the agent's usage of
    /// `day` (`YYYY-MM-DD`) and to the month's totals of the agent and the tenant.
    async fn append_answer(
        &self,
        message: &StoredMessage,
        agent_id: &str,
        day: &str,
    ) -> Result<(), StoreError>;
    /// Adds the usage of a turn that stores no answer to the agent's usage of `day` and to the
    /// month's totals; not deduplicated, so call it once per turn.
    async fn record_usage(
        &self,
        tenant_id: &str,
        agent_id: &str,
        day: &str,
        usage: &Usage,
    ) -> Result<(), StoreError>;

    /// Creates a tenant with its secrets and first secret key.
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        identity_secret: &str,
        signing_secret: &str,
        key: &ApiKey,
    ) -> Result<(), StoreError>;
    /// At most `limit` tenants after the cursor `after`, oldest first: by `(created_at, id)`.
    async fn tenants(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError>;
    /// One tenant.
    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError>;
    /// Saves a tenant's name, status and spend cap.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Replaces one of a tenant's secrets.
    async fn set_tenant_secret(
        &self,
        tenant_id: &str,
        which: TenantSecret,
        value: &str,
    ) -> Result<(), StoreError>;
    /// Spend in `month` (`YYYY-MM`) of the tenant (and one agent, when given), from the
    /// running monthly totals.
    async fn spend(
        &self,
        tenant_id: &str,
        agent_id: Option<&str>,
        month: &str,
    ) -> Result<Spend, StoreError>;

    /// Keys whose lookup is `lookup`, with their tenant's standing (for authentication).
    async fn keys_by_lookup(&self, lookup: &str)
        -> Result<Vec<(ApiKey, TenantStatus)>, StoreError>;
    /// At most `limit` of a tenant's keys (revoked ones too) after the cursor `after`, newest
    /// first: by `(-created_at, id)`, which is also what the cursor holds.
    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError>;
    /// Stores a new key.
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// Revokes a tenant's key; false when the tenant has no such live key.
    async fn revoke_key(&self, tenant_id: &str, key_id: &str, now: i64)
        -> Result<bool, StoreError>;

    /// At most `limit` of a tenant's agents after the cursor `after`, oldest first: by
    /// `(created_at, id)`.
    async fn agents(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Agent>, StoreError>;
    /// Creates an agent; false when the id is taken.
    async fn create_agent(&self, agent: &Agent) -> Result<bool, StoreError>;
    /// Saves a tenant's agent config, switch and `updated_at` and counts the save in its
    /// `version`, if it is still at `expected_version` (when given).
    async fn update_agent(
        &self,
        agent: &Agent,
        expected_version: Option<i64>,
    ) -> Result<AgentUpdate, StoreError>;
    /// Deletes a tenant's agent with its conversations and keys; false when not found. A large
    /// agent is deleted in batches: it is switched off first (chats refuse it at once) and its
    /// row goes last, so a delete that stops part way leaves it listed and a retry finishes it.
    async fn delete_agent(&self, tenant_id: &str, agent_id: &str) -> Result<bool, StoreError>;

    /// A tenant's conversations, most recently active first (then by id, descending).
    async fn conversations(
        &self,
        tenant_id: &str,
        query: &ConversationQuery,
        limit: u32,
    ) -> Result<Vec<(Conversation, ConversationSummary)>, StoreError>;
    /// Deletes a tenant's conversation with its messages (in batches; the conversation row goes
    /// last, so a retry finishes a delete that stopped part way); false when not found.
    async fn delete_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<bool, StoreError>;
    /// A tenant's rated answers, newest rating first (then by message id, descending).
    async fn feedback(
        &self,
        tenant_id: &str,
        query: &FeedbackQuery,
        limit: u32,
    ) -> Result<Vec<FeedbackItem>, StoreError>;
    /// Usage per agent and day since `since_day`.
    async fn usage(&self, tenant_id: &str, since_day: &str) -> Result<Vec<DailyUsage>, StoreError>;

    /// A tenant's integration by name (`twilio`, `langfuse`, `otlp`).
    async fn integration(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<Integration>, StoreError>;
    /// Creates or replaces a tenant's integration.
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError>;
    /// Removes a tenant's integration; false when it had none by that name.
    async fn delete_integration(&self, tenant_id: &str, name: &str) -> Result<bool, StoreError>;
    /// The call a tenant's phone conversation is.
    async fn call(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Call>, StoreError>;
    /// Creates or replaces the record of a call (its conversation must exist).
    async fn save_call(&self, call: &Call) -> Result<(), StoreError>;

    /// Deletes up to `BULK_DELETE_BATCH` rows of the tenant's conversations `which` selects:
    /// their messages first, then the conversations emptied (a conversation's row goes last,
    /// so a later call finds what one left). Answers what it deleted and whether none are left.
    async fn delete_conversations(
        &self,
        tenant_id: &str,
        which: &Selection<'_>,
    ) -> Result<(Deleted, bool), StoreError>;
    /// Up to `limit` tenants with a retention setting that hold a conversation inactive for
    /// longer than it at `now`, oldest tenant first (the scheduled sweep's work list; not
    /// tenant-scoped: the sweep runs for the platform).
    async fn retention_due(&self, now: i64, limit: u32) -> Result<Vec<Tenant>, StoreError>;
    /// Up to `limit` of one visitor's conversations of the tenant, with their messages, most
    /// recently active first (then by id, descending), after the cursor `before`.
    async fn visitor_conversations(
        &self,
        tenant_id: &str,
        visitor_id: &str,
        before: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<(Conversation, Vec<StoredMessage>)>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_join_text_parts_and_cut() {
        let parts = r#"[{"type":"step-start"},{"type":"text","text":"Hello "},{"type":"tool-x","input":{}},{"type":"text","text":"world"}]"#;
        assert_eq!(excerpt(parts), "Hello world");
        let long = format!(
            r#"[{{"type":"text","text":"{}"}}]"#,
            "é".repeat(EXCERPT_CHARS + 5)
        );
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("not json"), "");
    }

    #[test]
    fn batched_deletes_stop_when_done_or_after_the_most_batches() {
        use std::cell::Cell;
        let calls = Cell::new(0);
        let done_on_third = futures::executor::block_on(in_batches(|| {
            calls.set(calls.get() + 1);
            std::future::ready(Ok(calls.get() == 3))
        }));
        assert!(done_on_third.is_ok());
        assert_eq!(calls.get(), 3);
        calls.set(0);
        let never = futures::executor::block_on(in_batches(|| {
            calls.set(calls.get() + 1);
            std::future::ready(Ok(false))
        }));
        assert!(matches!(never, Err(StoreError::Unavailable(_))));
        assert_eq!(calls.get(), MAX_DELETE_BATCHES);
        let failing = futures::executor::block_on(in_batches(|| {
            std::future::ready(Err(StoreError::Rejected("no".into())))
        }));
        assert!(matches!(failing, Err(StoreError::Rejected(_))));
    }
}
