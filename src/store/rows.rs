//! SQL for the SQLite-family stores (D1) and the mapping between rows and records.
//!
//! Statements take positional parameters only; values are always bound, never spliced in.

use serde_json::{json, Value};

use super::{
    excerpt, Agent, ApiKey, Conversation, ConversationState, ConversationSummary,
    ConversationWindow, DailyUsage, EagerStart, FeedbackItem, KeyScope, MessageStatus, Rating,
    Spend, StoreError, StoredMessage, Tenant, TenantStatus,
};
use super::{Call, Integration};
use crate::agent::context::Role;
use crate::agent::AgentConfig;
use crate::auth::keys::KeyKind;
use crate::llm::Usage;

/// Columns of an agent with what chat needs of its tenant and its live publishable keys.
const AGENT_COLUMNS: &str =
    "SELECT a.id, a.tenant_id, a.config, a.enabled, a.created_at, a.updated_at, a.version, \
     t.status AS tenant_status, t.identity_secret, t.signing_secret, t.monthly_spend_cap, \
     (SELECT json_group_array(k.lookup) FROM api_keys k WHERE k.agent_id = a.id \
      AND k.kind = 'publishable' AND k.revoked_at IS NULL) AS publishable_keys \
     FROM agents a JOIN tenants t ON t.id = a.tenant_id";

/// Loads an agent. `?1` agent id.
pub fn select_agent() -> String {
    format!("{AGENT_COLUMNS} WHERE a.id = ?1")
}

/// A time before (and after) every row's, with the empty id: the cursor of a first page. Safe
/// as a JavaScript number, as D1's parameters are.
pub const FIRST_PAGE_BEFORE: (i64, &str) = (-(1 << 53) + 1, "");
/// See `FIRST_PAGE_BEFORE`; for lists that run newest first.
pub const FIRST_PAGE_AFTER: (i64, &str) = ((1 << 53) - 1, "");

/// A page of a tenant's agents, oldest first. `?1` tenant id, `?2`/`?3` cursor
/// (`created_at`, id; `FIRST_PAGE_BEFORE` for the first page), `?4` limit. The order is the
/// index `agents_by_tenant`'s, and the cursor is a plain range bound on it (`>= ?2`), so SQLite
/// seeks to it rather than reading the rows before it; `OR` would defeat that, hence no NULL
/// cursor. The publishable keys stay a subquery per listed agent: it is one
/// indexed lookup (`api_keys_by_agent`) inside the same statement, not another round trip.
pub fn select_tenant_agents() -> String {
    format!(
        "{AGENT_COLUMNS} WHERE a.tenant_id = ?1 AND a.created_at >= ?2 \
         AND (a.created_at > ?2 OR a.id > ?3) ORDER BY a.created_at, a.id LIMIT ?4"
    )
}

/// Batch size of the deletes of an agent's or a conversation's rows: each statement stays
/// well inside D1's limits on one statement's time and changes, however big the agent is.
pub const DELETE_BATCH: i64 = 1000;

/// Switches a tenant's agent off before its rows are deleted, so chats refuse it at once.
/// `?1` id, `?2` tenant.
pub const DISABLE_AGENT: &str = "UPDATE agents SET enabled = 0 WHERE id = ?1 AND tenant_id = ?2";

/// Deletes up to `?3` messages of a tenant's agent. `?1` agent, `?2` tenant.
pub const DELETE_AGENT_MESSAGES: &str = "DELETE FROM messages WHERE rowid IN (SELECT m.rowid \
     FROM conversations c JOIN messages m ON m.conversation_id = c.id \
     WHERE c.tenant_id = ?2 AND c.agent_id = ?1 LIMIT ?3)";

/// Deletes up to `?3` conversations of a tenant's agent (their messages cascade; the messages
/// go first, in batches, so little is left to cascade). `?1` agent, `?2` tenant.
pub const DELETE_AGENT_CONVERSATIONS: &str = "DELETE FROM conversations WHERE rowid IN \
     (SELECT rowid FROM conversations WHERE tenant_id = ?2 AND agent_id = ?1 LIMIT ?3)";

/// Deletes up to `?3` messages of a tenant's conversation. `?1` conversation, `?2` tenant.
pub const DELETE_CONVERSATION_MESSAGES: &str = "DELETE FROM messages WHERE rowid IN \
     (SELECT rowid FROM messages WHERE conversation_id = ?1 AND tenant_id = ?2 LIMIT ?3)";

/// Creates an agent unless the id is taken. `?1` id, `?2` tenant, `?3` config, `?4` enabled, `?5` time.
pub const INSERT_AGENT: &str =
    "INSERT INTO agents (id, tenant_id, config, enabled, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING";

/// Saves a tenant's agent and counts the save, if it is still at the expected version. `?1` id,
/// `?2` tenant, `?3` config, `?4` enabled, `?5` time, `?6` expected version or NULL (any).
pub const UPDATE_AGENT: &str =
    "UPDATE agents SET config = ?3, enabled = ?4, updated_at = ?5, version = version + 1 \
     WHERE id = ?1 AND tenant_id = ?2 AND (?6 IS NULL OR version = ?6)";

/// Deletes a tenant's agent (conversations, messages and keys cascade). `?1` id, `?2` tenant.
pub const DELETE_AGENT: &str = "DELETE FROM agents WHERE id = ?1 AND tenant_id = ?2";

/// Parameters of `INSERT_AGENT` (and the first five of `UPDATE_AGENT`).
pub fn agent_params(agent: &Agent) -> Vec<Param> {
    vec![
        agent.id.as_str().into(),
        agent.tenant_id.as_str().into(),
        // A config of strings, numbers and maps always serializes.
        Param::Text(serde_json::to_string(&agent.config).unwrap_or_default()),
        Param::Int(i64::from(agent.enabled)),
        Param::Int(agent.updated_at),
    ]
}

/// Creates a tenant. `?1` id, `?2` name, `?3` status, `?4` cap, `?5` identity secret,
/// `?6` signing secret, `?7` time.
pub const INSERT_TENANT: &str =
    "INSERT INTO tenants (id, name, status, monthly_spend_cap, identity_secret, signing_secret, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const TENANT_COLUMNS: &str =
    "SELECT id, name, status, monthly_spend_cap, retention_days, created_at FROM tenants";

/// A page of the tenants, oldest first. `?1`/`?2` cursor (`created_at`, id;
/// `FIRST_PAGE_BEFORE` for the first page), `?3` limit; a seek into `tenants_by_created`, as in
/// `select_tenant_agents`.
pub fn select_tenants() -> String {
    format!(
        "{TENANT_COLUMNS} WHERE created_at >= ?1 AND (created_at > ?1 OR id > ?2) \
         ORDER BY created_at, id LIMIT ?3"
    )
}

/// One tenant. `?1` id.
pub fn select_tenant() -> String {
    format!("{TENANT_COLUMNS} WHERE id = ?1")
}

/// Saves a tenant. `?1` id, `?2` name, `?3` status, `?4` cap, `?5` retention days or NULL.
pub const UPDATE_TENANT: &str =
    "UPDATE tenants SET name = ?2, status = ?3, monthly_spend_cap = ?4, \
     retention_days = ?5 WHERE id = ?1";

/// Up to `?4` tenants with a retention setting that hold a conversation whose last activity is
/// older than it (`?1` now, ms), oldest tenant first after the cursor `?2`/`?3` (`created_at`,
/// id; `FIRST_PAGE_BEFORE` for the first page). The check is one seek per tenant into
/// `conversations_by_tenant_updated`; the cutoff is `app::privacy::cutoff`'s.
pub fn select_retention_due() -> String {
    format!(
        "{TENANT_COLUMNS} t WHERE retention_days IS NOT NULL AND created_at >= ?2 \
         AND (created_at > ?2 OR id > ?3) AND EXISTS (SELECT 1 FROM conversations c \
         WHERE c.tenant_id = t.id AND c.updated_at < ?1 - t.retention_days * 86400000) \
         ORDER BY created_at, id LIMIT ?4"
    )
}

/// A tenant's conversations whose last activity is before `?2` (the retention sweep).
const INACTIVE: &str = "conversations c INDEXED BY conversations_by_tenant_updated \
     WHERE c.tenant_id = ?1 AND c.updated_at < ?2";
/// A tenant's conversations of one visitor `?2` (an end user's erase). The index is named:
/// without statistics SQLite may prefer the tenant's whole range.
const OF_VISITOR: &str = "conversations c INDEXED BY conversations_by_visitor \
     WHERE c.tenant_id = ?1 AND c.visitor_id = ?2";

/// Deletes up to `?3` messages of the conversations `selected` picks, returning each one's
/// rating (so the caller counts messages and feedback without another read).
fn delete_selected_messages(selected: &str) -> String {
    format!(
        "DELETE FROM messages WHERE rowid IN (SELECT m.rowid FROM messages m \
         JOIN {selected} AND m.conversation_id = c.id LIMIT ?3) RETURNING feedback"
    )
}

/// Deletes up to `?3` of the conversations `selected` picks that have no messages left (the
/// statement before deletes their messages in a batch; a call record follows by trigger).
fn delete_selected_conversations(selected: &str) -> String {
    format!(
        "DELETE FROM conversations WHERE rowid IN (SELECT c.rowid FROM {selected} \
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id) \
         LIMIT ?3) RETURNING id"
    )
}

/// Up to `?3` messages of a tenant's (`?1`) conversations inactive since before `?2`.
pub fn delete_inactive_messages() -> String {
    delete_selected_messages(INACTIVE)
}

/// Up to `?3` emptied conversations of a tenant (`?1`) inactive since before `?2`.
pub fn delete_inactive_conversations() -> String {
    delete_selected_conversations(INACTIVE)
}

/// Up to `?3` messages of a tenant's (`?1`) conversations with visitor `?2`.
pub fn delete_visitor_messages() -> String {
    delete_selected_messages(OF_VISITOR)
}

/// Up to `?3` emptied conversations of a tenant (`?1`) with visitor `?2`.
pub fn delete_visitor_conversations() -> String {
    delete_selected_conversations(OF_VISITOR)
}

/// A page of one visitor's conversations of a tenant, newest activity first. `?1` tenant, `?2`
/// visitor, `?3`/`?4` cursor (`updated_at`, id) or NULL, `?5` limit; a range of
/// `conversations_by_visitor`.
pub fn select_visitor_conversations() -> String {
    format!(
        "{CONVERSATION_COLUMNS} INDEXED BY conversations_by_visitor WHERE tenant_id = ?1 AND visitor_id = ?2 \
         AND (?3 IS NULL OR updated_at < ?3 OR (updated_at = ?3 AND id < ?4)) \
         ORDER BY updated_at DESC, id DESC LIMIT ?5"
    )
}

/// The messages of the page `select_visitor_conversations` reads (same parameters), by
/// conversation and `seq`.
pub fn select_visitor_messages() -> String {
    format!(
        "{MESSAGE_COLUMNS} WHERE tenant_id = ?1 AND conversation_id IN (SELECT id FROM ({})) \
         ORDER BY conversation_id, seq",
        select_visitor_conversations()
    )
}

/// Replaces the identity secret. `?1` tenant, `?2` secret.
pub const SET_IDENTITY_SECRET: &str = "UPDATE tenants SET identity_secret = ?2 WHERE id = ?1";

/// Replaces the signing secret. `?1` tenant, `?2` secret.
pub const SET_SIGNING_SECRET: &str = "UPDATE tenants SET signing_secret = ?2 WHERE id = ?1";

/// Adds one turn to a day's usage, unless its answer is already stored (a retried write runs
/// this before the insert, in the same batch, so usage is counted once). `?1` tenant, `?2`
/// agent, `?3` day, `?4` input tokens, `?5` output tokens, `?6` cost, `?7`/`?8` the answer's
/// conversation and id (NULL for usage without an answer).
pub const ADD_USAGE: &str = include_str!("sql/add_daily_usage.sql");

/// The same for the month's totals of the agent and of the tenant (agent id `''`); the month
/// is the day's first seven characters.
pub const ADD_MONTHLY_USAGE: &str = include_str!("sql/add_monthly_usage.sql");

/// `ADD_USAGE` for the tokens a turn's knowledge searches spent embedding their queries,
/// added to the `knowledge:embeddings` line in the answer's own batch: tokens only, the
/// answer is counted once, on its agent's line. Same parameters (the tokens as input).
pub const ADD_EMBEDDING_USAGE: &str = include_str!("sql/add_daily_embedding_usage.sql");

/// `ADD_MONTHLY_USAGE` for the same tokens (the line's month and the tenant's total).
pub const ADD_MONTHLY_EMBEDDING_USAGE: &str = include_str!("sql/add_monthly_embedding_usage.sql");

/// Parameters of `ADD_EMBEDDING_USAGE` and `ADD_MONTHLY_EMBEDDING_USAGE`: `usage`'s embedding
/// tokens under `knowledge::EMBEDDING_USAGE`.
pub fn embedding_usage_params(
    tenant_id: &str,
    day: &str,
    usage: &Usage,
    answer: Option<(&str, &str)>,
) -> Vec<Param> {
    let tokens = Usage {
        input_tokens: usage.embedding_tokens,
        ..Usage::default()
    };
    usage_params(
        tenant_id,
        crate::knowledge::EMBEDDING_USAGE,
        day,
        &tokens,
        answer,
    )
}

/// Parameters of `ADD_USAGE` and `ADD_MONTHLY_USAGE`; `answer` is the (conversation, message)
/// id of the stored answer the usage belongs to.
pub fn usage_params(
    tenant_id: &str,
    agent_id: &str,
    day: &str,
    usage: &Usage,
    answer: Option<(&str, &str)>,
) -> Vec<Param> {
    vec![
        tenant_id.into(),
        agent_id.into(),
        day.into(),
        Param::Int(usage.input_tokens as i64),
        Param::Int(usage.output_tokens as i64),
        Param::Real(usage.cost),
        answer.map(|(conversation, _)| conversation).into(),
        answer.map(|(_, message)| message).into(),
    ]
}

/// This month's spend of a tenant and one agent: two point reads of `usage_monthly`.
/// `?1` tenant, `?2` agent, `?3` month (`YYYY-MM`).
pub const TURN_SPEND: &str = include_str!("sql/turn_spend.sql");

/// A turn's conversation, with its last seq when it is that tenant's agent's. `?1`
/// conversation, `?2` tenant, `?3` agent.
pub const TURN_CONVERSATION: &str = include_str!("sql/turn_conversation.sql");

/// The resent message's seq and role, when the tenant's agent's conversation holds it. `?1`
/// conversation, `?2` tenant, `?3` agent, `?4` message id.
pub const TURN_RESENT: &str = include_str!("sql/turn_resent.sql");

/// The newest messages up to the resent user message (else the last), oldest first, of the
/// tenant's agent's conversation only. `?1` conversation, `?2` tenant, `?3` agent, `?4` resent
/// message id or NULL, `?5` how many.
pub const TURN_WINDOW: &str = include_str!("sql/turn_window.sql");

/// Usage rows of a tenant. `?1` tenant, `?2` first day.
pub const SELECT_USAGE: &str =
    "SELECT agent_id, day, messages, input_tokens, output_tokens, cost FROM usage_daily \
     WHERE tenant_id = ?1 AND day >= ?2 ORDER BY day, agent_id";

const KEY_COLUMNS: &str =
    "SELECT k.id, k.tenant_id, k.agent_id, k.kind, k.name, k.lookup, k.hash, \
     k.masked, k.created_at, k.revoked_at, k.scope_agents, k.browser, k.per_minute, \
     t.status AS tenant_status \
     FROM api_keys k JOIN tenants t ON t.id = k.tenant_id";

/// Live keys with a lookup value. `?1` lookup.
pub fn select_keys_by_lookup() -> String {
    format!("{KEY_COLUMNS} WHERE k.lookup = ?1 AND k.revoked_at IS NULL")
}

/// A page of a tenant's keys, newest first. `?1` tenant, `?2`/`?3` cursor (`created_at` — not
/// negated — and id; `FIRST_PAGE_AFTER` for the first page), `?4` limit; a seek into
/// `api_keys_by_tenant`, as in `select_tenant_agents`.
pub fn select_tenant_keys() -> String {
    format!(
        "{KEY_COLUMNS} WHERE k.tenant_id = ?1 AND k.created_at <= ?2 \
         AND (k.created_at < ?2 OR k.id > ?3) ORDER BY k.created_at DESC, k.id LIMIT ?4"
    )
}

/// Stores a key. Parameters in `key_params` order.
pub const INSERT_KEY: &str =
    "INSERT INTO api_keys (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at, \
     scope_agents, browser, per_minute) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// Parameters of `INSERT_KEY`.
pub fn key_params(key: &ApiKey) -> Vec<Param> {
    vec![
        key.id.as_str().into(),
        key.tenant_id.as_str().into(),
        key.agent_id.as_deref().into(),
        key.kind.as_str().into(),
        key.name.as_str().into(),
        key.lookup.as_str().into(),
        key.hash.as_str().into(),
        key.masked.as_str().into(),
        Param::Int(key.created_at),
        key.scope
            .agents
            .as_ref()
            .map_or(Param::Null, |agents| Param::Text(json!(agents).to_string())),
        Param::Int(i64::from(key.scope.browser)),
        key.scope
            .per_minute
            .map_or(Param::Null, |n| Param::Int(i64::from(n))),
    ]
}

/// Revokes a tenant's live key. `?1` tenant, `?2` key id, `?3` time.
pub const REVOKE_KEY: &str =
    "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?2 AND tenant_id = ?1 AND revoked_at IS NULL";

const CONVERSATION_COLUMNS: &str = "SELECT id, tenant_id, agent_id, visitor_id, created_at, \
     updated_at, page_url, channel, preview FROM conversations";

/// Loads a tenant's conversation. `?1` id, `?2` tenant.
pub fn select_conversation() -> String {
    format!("{CONVERSATION_COLUMNS} WHERE id = ?1 AND tenant_id = ?2")
}

/// A tenant's conversations, newest activity first, each with its inbox summary. `?1` tenant,
/// `?2` agent or NULL, `?3`/`?4` cursor (`updated_at`, id) or NULL, `?5` lowercase search text or
/// NULL (matched against each message's text parts joined, as the Convex function does), `?6`
/// limit, `?7` rating, `?8` channel, `?9` last answer's status, `?10` preview (0/1), each or NULL.
/// With a search, `match_parts` is the first message that has the text.
/// The summary is worked out per listed row (the messages index), so nothing is kept in sync.
///
/// Which conversations match a search comes from the `message_search` index: `?11` is the
/// needle as an FTS5 phrase (`search_phrase`), which the trigram index answers for needles of
/// three or more characters; shorter ones use `select_conversations_short`. `?5`, the
/// lowercase needle, only finds the matching message's text in the listed rows.
pub fn select_conversations() -> String {
    conversations_where("message_search MATCH ?11")
}

/// `select_conversations` for needles of one or two characters, which trigrams cannot index:
/// `?11` is a `LIKE` pattern (`like_pattern`) over the index's text (a scan of the index, not
/// of the messages' JSON).
pub fn select_conversations_short() -> String {
    conversations_where("s.text LIKE ?11 ESCAPE '\\'")
}

/// The FTS5 phrase that finds `needle` as a substring in a trigram index.
pub fn search_phrase(needle: &str) -> String {
    format!("\"{}\"", needle.replace('"', "\"\""))
}

fn conversations_where(matches: &str) -> String {
    format!(
        "SELECT * FROM (SELECT c.*, \
           (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count, \
           (SELECT m.parts FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user' \
              ORDER BY m.seq LIMIT 1) AS first_parts, \
           (SELECT CASE WHEN sum(m.feedback = 'down') > 0 THEN 'down' \
              WHEN sum(m.feedback = 'up') > 0 THEN 'up' END \
              FROM messages m WHERE m.conversation_id = c.id) AS rating, \
           (SELECT m.status FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant' \
              ORDER BY m.seq DESC LIMIT 1) AS last_status, \
           (SELECT m.parts FROM messages m WHERE ?5 IS NOT NULL AND m.conversation_id = c.id \
              AND instr(lower((SELECT group_concat(json_extract(p.value, '$.text'), '') \
                  FROM json_each(m.parts) p WHERE json_extract(p.value, '$.type') = 'text')), ?5) > 0 \
              ORDER BY m.seq LIMIT 1) AS match_parts \
         FROM ({CONVERSATION_COLUMNS}) c WHERE tenant_id = ?1 AND (?2 IS NULL OR agent_id = ?2) \
         AND (?3 IS NULL OR updated_at < ?3 OR (updated_at = ?3 AND id < ?4)) \
         AND (?8 IS NULL OR channel = ?8) AND (?10 IS NULL OR preview = ?10) \
         AND (?5 IS NULL OR c.id IN (SELECT s.conversation_id FROM message_search s \
              WHERE {matches} AND s.tenant_id = ?1))) \
         WHERE (?7 IS NULL OR rating = ?7) AND (?9 IS NULL OR last_status = ?9) \
         ORDER BY updated_at DESC, id DESC LIMIT ?6"
    )
}

/// Deletes a tenant's conversation. `?1` conversation, `?2` tenant.
pub const DELETE_CONVERSATION: &str = "DELETE FROM conversations WHERE id = ?1 AND tenant_id = ?2";

/// A tenant's rated answers with the question before each. `?1` tenant, `?2` agent or NULL,
/// `?3` rating or NULL, `?4`/`?5` cursor (`feedback_at`, message id) or NULL, `?6` limit.
pub const SELECT_FEEDBACK: &str =
    "SELECT m.conversation_id, m.id AS message_id, c.agent_id, m.feedback AS rating, \
     m.feedback_at, m.parts, (SELECT u.parts FROM messages u WHERE u.conversation_id = m.conversation_id \
     AND u.seq < m.seq AND u.role = 'user' ORDER BY u.seq DESC LIMIT 1) AS question_parts \
     FROM messages m JOIN conversations c ON c.id = m.conversation_id \
     WHERE m.tenant_id = ?1 AND m.feedback IS NOT NULL AND (?2 IS NULL OR c.agent_id = ?2) \
     AND (?3 IS NULL OR m.feedback = ?3) \
     AND (?4 IS NULL OR m.feedback_at < ?4 OR (m.feedback_at = ?4 AND m.id < ?5)) \
     ORDER BY m.feedback_at DESC, m.id DESC LIMIT ?6";

/// Creates a conversation. `?1` id, `?2` tenant, `?3` agent, `?4` visitor, `?5` created/updated time.
pub const INSERT_CONVERSATION: &str =
    "INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at, \
     page_url, channel, preview) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)";

/// `EagerStart`'s conversation, created only when no conversation has its id and the turn is
/// allowed (room for two messages, spend under the caps). Parameters in `eager_params` order.
pub const EAGER_CONVERSATION: &str = include_str!("sql/eager_conversation.sql");

/// `EagerStart`'s message, appended only when `EagerStart::allowed` holds for what the database
/// holds (the visitor's conversation with the agent, without the message, with room, spend
/// under the caps). Parameters in `eager_params` order.
pub const EAGER_MESSAGE: &str = include_str!("sql/eager_message.sql");

/// Marks activity on the conversation once `EAGER_MESSAGE` stored its message. Parameters in
/// `eager_params` order.
pub const EAGER_TOUCH: &str = include_str!("sql/eager_touch.sql");

/// Parameters of `EAGER_CONVERSATION`, `EAGER_MESSAGE` and `EAGER_TOUCH`, for this `month`.
pub fn eager_params(eager: &EagerStart, month: &str) -> [Vec<Param>; 3] {
    let c = &eager.conversation;
    let cap = |cap: Option<f64>| cap.map_or(Param::Null, Param::Real);
    let mut conversation = conversation_params(c);
    conversation.extend([
        Param::Int(eager.max_messages),
        cap(eager.caps.tenant),
        cap(eager.caps.agent),
        month.into(),
    ]);
    let mut message = message_params(&eager.message);
    message.extend([
        c.agent_id.as_str().into(),
        c.visitor_id.as_deref().into(),
        Param::Int(eager.max_messages),
        cap(eager.caps.tenant),
        cap(eager.caps.agent),
        month.into(),
    ]);
    let touch = vec![
        c.id.as_str().into(),
        Param::Int(eager.message.created_at),
        c.tenant_id.as_str().into(),
        c.agent_id.as_str().into(),
        c.visitor_id.as_deref().into(),
        eager.message.id.as_str().into(),
    ];
    [conversation, message, touch]
}

/// A tenant's conversation's messages in order. `?1` conversation id, `?2` tenant.
pub const SELECT_MESSAGES: &str = "SELECT id, conversation_id, tenant_id, seq, role, parts, status, model, finish_reason, \
     input_tokens, output_tokens, cost, error, feedback, created_at, timing FROM messages WHERE conversation_id = ?1 \
     AND tenant_id = ?2 ORDER BY seq";

/// The columns of a message row (`SELECT_MESSAGES`'s), for the other message reads.
const MESSAGE_COLUMNS: &str = "SELECT id, conversation_id, tenant_id, seq, role, parts, status, model, \
     finish_reason, input_tokens, output_tokens, cost, error, feedback, created_at, timing FROM messages";

/// Rates an answer of a tenant's agent's conversation. `?1` conversation, `?2` message,
/// `?3` rating or NULL, `?4` time, `?5` tenant, `?6` agent.
pub const SET_FEEDBACK: &str = "UPDATE messages SET feedback = ?3, feedback_at = ?4 \
     WHERE conversation_id = ?1 AND id = ?2 AND role = 'assistant' AND EXISTS \
     (SELECT 1 FROM conversations c WHERE c.id = ?1 AND c.tenant_id = ?5 AND c.agent_id = ?6)";

/// Appends a message with the next `seq`, atomically, unless the conversation already holds
/// its id (a retried write then changes nothing). Parameters in `message_params` order.
pub const INSERT_MESSAGE: &str = include_str!("sql/append_message.sql");

/// Marks activity on a conversation; never moves it back (a late retry, a slower clock).
/// `?1` id, `?2` time.
pub const TOUCH_CONVERSATION: &str =
    "UPDATE conversations SET updated_at = MAX(updated_at, ?2) WHERE id = ?1";

/// Drops the messages after a point, unless the turn's answer is already there (a late retry
/// must not delete it). `?1` conversation id, `?2` seq, `?3` the answer's id or NULL.
pub const DELETE_MESSAGES_AFTER: &str =
    "DELETE FROM messages WHERE conversation_id = ?1 AND seq > ?2 \
     AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND id = ?3)";

/// The `LIKE` pattern that finds `needle` anywhere in a text, with `%`, `_` and `\` escaped
/// (the statements say `ESCAPE '\'`).
pub fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

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
        m.timing.as_deref().into(),
    ]
}

/// Parameters of `INSERT_CONVERSATION`.
pub fn conversation_params(c: &Conversation) -> Vec<Param> {
    vec![
        c.id.as_str().into(),
        c.tenant_id.as_str().into(),
        c.agent_id.as_str().into(),
        c.visitor_id.as_deref().into(),
        Param::Int(c.created_at),
        c.page_url.as_deref().into(),
        c.channel.as_deref().into(),
        Param::Int(i64::from(c.preview)),
    ]
}

/// A row of `select_agent`.
#[derive(Debug)]
pub struct AgentRow {
    id: String,
    tenant_id: String,
    config: String,
    enabled: bool,
    created_at: f64,
    updated_at: f64,
    version: f64,
    tenant_status: String,
    identity_secret: Option<String>,
    signing_secret: Option<String>,
    monthly_spend_cap: Option<f64>,
    publishable_keys: Vec<String>,
}

impl FromRow for AgentRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.text(&["id"])?,
            tenant_id: row.text(&["tenant_id", "tenantId"])?,
            config: row.text(&["config"])?,
            enabled: row.flag(&["enabled"])?,
            created_at: row
                .opt_number(&["created_at", "createdAt"])?
                .unwrap_or_default(),
            updated_at: row
                .opt_number(&["updated_at", "updatedAt"])?
                .unwrap_or_default(),
            version: row.opt_number(&["version"])?.unwrap_or(1.0),
            tenant_status: row.text(&["tenant_status", "tenantStatus"])?,
            identity_secret: row.opt_text(&["identity_secret", "identitySecret"])?,
            signing_secret: row.opt_text(&["signing_secret", "signingSecret"])?,
            monthly_spend_cap: row.opt_number(&["monthly_spend_cap", "monthlySpendCap"])?,
            publishable_keys: row.text_list(&["publishable_keys", "publishableKeys"])?,
        })
    }
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
            enabled: self.enabled,
            tenant_active: self.tenant_status == "active",
            publishable_keys: self.publishable_keys,
            identity_secret: self.identity_secret,
            signing_secret: self.signing_secret,
            tenant_spend_cap: self.monthly_spend_cap,
            created_at: self.created_at as i64,
            updated_at: self.updated_at as i64,
            version: self.version as i64,
        })
    }
}

/// One row as a store returned it, read by hand rather than through derived deserializers
/// (one `Value` parser serves every row type, which keeps the wasm small). Each field is looked
/// up by its D1 column name, then by its Convex spelling.
pub struct Row<'a>(pub &'a Value);

/// A row type read from a `Row`.
pub trait FromRow: Sized {
    /// Reads the row; a missing required field or a field of the wrong type is `Corrupt`.
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError>;
}

impl Row<'_> {
    /// The first of `names` the row has that is not null.
    fn field(&self, names: &[&str]) -> Option<&Value> {
        #[cfg(test)]
        if probe::record(names[0]) {
            return None;
        }
        names
            .iter()
            .find_map(|name| self.0.get(*name).filter(|v| !v.is_null()))
    }

    fn wrong(names: &[&str], what: &str) -> StoreError {
        StoreError::Corrupt(format!("row field {}: {what}", names[0]))
    }

    fn opt_text(&self, names: &[&str]) -> Result<Option<String>, StoreError> {
        match self.field(names) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(Self::wrong(names, "not text")),
        }
    }

    fn text(&self, names: &[&str]) -> Result<String, StoreError> {
        required(self.opt_text(names)?, names)
    }

    fn opt_number(&self, names: &[&str]) -> Result<Option<f64>, StoreError> {
        match self.field(names) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| Self::wrong(names, "not a number")),
        }
    }

    fn number(&self, names: &[&str]) -> Result<f64, StoreError> {
        required(self.opt_number(names)?, names)
    }

    fn opt_value(&self, names: &[&str]) -> Option<Value> {
        self.field(names).cloned()
    }

    /// A boolean stored as SQLite's 0/1 (D1) or as a boolean (Convex).
    fn flag(&self, names: &[&str]) -> Result<bool, StoreError> {
        match self.field(names) {
            Some(Value::Bool(on)) => Ok(*on),
            Some(Value::Number(n)) => Ok(n.as_f64().is_some_and(|n| n != 0.0)),
            None => required(None, names),
            _ => Err(Self::wrong(names, "not a boolean")),
        }
    }

    /// A list of strings stored as JSON text (D1's `json_group_array`) or as an array (Convex).
    fn text_list(&self, names: &[&str]) -> Result<Vec<String>, StoreError> {
        let parsed;
        let list = match self.field(names) {
            None => return Ok(Vec::new()),
            Some(Value::String(text)) => {
                parsed = serde_json::from_str::<Value>(text)
                    .map_err(|_| Self::wrong(names, "not a JSON list"))?;
                &parsed
            }
            Some(value) => value,
        };
        let items = list
            .as_array()
            .ok_or_else(|| Self::wrong(names, "not a list"))?;
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Self::wrong(names, "not a list of text"))
            })
            .collect()
    }

    fn opt_status(&self, names: &[&str]) -> Result<Option<MessageStatus>, StoreError> {
        match self.opt_text(names)?.as_deref() {
            None => Ok(None),
            Some("complete") => Ok(Some(MessageStatus::Complete)),
            Some("aborted") => Ok(Some(MessageStatus::Aborted)),
            Some("error") => Ok(Some(MessageStatus::Error)),
            Some(_) => Err(Self::wrong(names, "not a status")),
        }
    }
}

/// A required field's value; its absence is `Corrupt` (except while a test probes the names).
fn required<T: Default>(value: Option<T>, names: &[&str]) -> Result<T, StoreError> {
    #[cfg(test)]
    if probe::active() {
        return Ok(value.unwrap_or_default());
    }
    value.ok_or_else(|| Row::wrong(names, "missing"))
}

/// Lists the fields a row type reads (for the schema tests): while probing, every lookup is
/// recorded and finds nothing.
#[cfg(test)]
pub mod probe {
    use std::cell::RefCell;

    thread_local! {
        static NAMES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }

    /// Records `name` when probing; true then.
    pub(super) fn record(name: &str) -> bool {
        NAMES.with(|n| match n.borrow_mut().as_mut() {
            Some(names) => {
                names.push(name.to_owned());
                true
            }
            None => false,
        })
    }

    pub(super) fn active() -> bool {
        NAMES.with(|n| n.borrow().is_some())
    }

    /// The field names `T` reads, by their D1 spelling.
    pub fn fields_of<T: super::FromRow>() -> Vec<String> {
        NAMES.with(|n| *n.borrow_mut() = Some(Vec::new()));
        let _ = T::from_row(&super::Row(&serde_json::Value::Null));
        NAMES.with(|n| n.borrow_mut().take()).unwrap_or_default()
    }
}

/// Lets serde-typed reads (`Vec<AgentRow>`, `Option<KeyRow>`, nested rows) go through `FromRow`.
macro_rules! read_as_value {
    ($($row:ty),*) => {$(
        impl<'de> serde::Deserialize<'de> for $row {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <Value as serde::Deserialize>::deserialize(d)?;
                <$row as FromRow>::from_row(&Row(&value)).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

/// A row of `select_tenant`.
#[derive(Debug)]
pub struct TenantRow {
    id: String,
    name: String,
    status: String,
    monthly_spend_cap: Option<f64>,
    // Absent in Convex documents from before the setting.
    retention_days: Option<f64>,
    created_at: f64,
}

impl FromRow for TenantRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.text(&["id"])?,
            name: row.text(&["name"])?,
            status: row.text(&["status"])?,
            monthly_spend_cap: row.opt_number(&["monthly_spend_cap", "monthlySpendCap"])?,
            retention_days: row.opt_number(&["retention_days", "retentionDays"])?,
            created_at: row.number(&["created_at", "createdAt"])?,
        })
    }
}

impl TenantRow {
    /// Converts to a record.
    pub fn into_tenant(self) -> Result<Tenant, StoreError> {
        let status = TenantStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("tenant {} status", self.id)))?;
        Ok(Tenant {
            id: self.id,
            name: self.name,
            status,
            monthly_spend_cap: self.monthly_spend_cap,
            retention_days: self.retention_days.map(|d| d as u32),
            created_at: self.created_at as i64,
        })
    }
}

/// A row of the key queries.
#[derive(Debug)]
pub struct KeyRow {
    id: String,
    tenant_id: String,
    agent_id: Option<String>,
    kind: String,
    name: String,
    lookup: String,
    hash: String,
    masked: String,
    created_at: f64,
    revoked_at: Option<f64>,
    /// The agents an API key may call: JSON text (D1) or an array (Convex); null for all.
    scope_agents: Option<Value>,
    /// 0/1 (D1) or a boolean (Convex); absent on rows from before key scopes.
    browser: Option<Value>,
    per_minute: Option<f64>,
    /// Present where a query joins the tenant (key lookups for authentication).
    tenant_status: Option<String>,
}

impl FromRow for KeyRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.text(&["id"])?,
            tenant_id: row.text(&["tenant_id", "tenantId"])?,
            agent_id: row.opt_text(&["agent_id", "agentId"])?,
            kind: row.text(&["kind"])?,
            name: row.text(&["name"])?,
            lookup: row.text(&["lookup"])?,
            hash: row.text(&["hash"])?,
            masked: row.text(&["masked"])?,
            created_at: row.number(&["created_at", "createdAt"])?,
            revoked_at: row.opt_number(&["revoked_at", "revokedAt"])?,
            scope_agents: row.opt_value(&["scope_agents", "scopeAgents"]),
            browser: row.opt_value(&["browser"]),
            per_minute: row.opt_number(&["per_minute", "perMinute"])?,
            tenant_status: row.opt_text(&["tenant_status", "tenantStatus"])?,
        })
    }
}

impl KeyRow {
    /// Converts to a record with its tenant's standing.
    pub fn into_key(self) -> Result<(ApiKey, TenantStatus), StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("key {} {what}", self.id));
        let kind = KeyKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?;
        let status = match self.tenant_status.as_deref() {
            None => TenantStatus::Active,
            Some(text) => TenantStatus::parse(text).ok_or_else(|| corrupt("tenant"))?,
        };
        let agents = match self.scope_agents {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(serde_json::from_str(&text).map_err(|_| corrupt("scope"))?)
            }
            Some(list) => Some(serde_json::from_value(list).map_err(|_| corrupt("scope"))?),
        };
        let browser = match self.browser {
            None | Some(Value::Null) => false,
            Some(Value::Bool(on)) => on,
            Some(Value::Number(n)) => n.as_f64() == Some(1.0),
            Some(_) => return Err(corrupt("browser")),
        };
        let scope = KeyScope {
            agents,
            browser,
            per_minute: self.per_minute.map(|n| n as u32),
        };
        let key = ApiKey {
            id: self.id,
            tenant_id: self.tenant_id,
            agent_id: self.agent_id,
            kind,
            name: self.name,
            lookup: self.lookup,
            hash: self.hash,
            masked: self.masked,
            created_at: self.created_at as i64,
            revoked_at: self.revoked_at.map(|t| t as i64),
            scope,
        };
        Ok((key, status))
    }
}

/// A row of `SELECT_FEEDBACK` (D1: parts as JSON text) or of `messages:feedbackForTenant`
/// (Convex: the excerpts already made).
#[derive(Debug)]
pub struct FeedbackRow {
    conversation_id: String,
    message_id: String,
    agent_id: String,
    rating: String,
    feedback_at: f64,
    parts: Option<String>,
    question_parts: Option<String>,
    answer: Option<String>,
    question: Option<String>,
}

impl FromRow for FeedbackRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            conversation_id: row.text(&["conversation_id", "conversationId"])?,
            message_id: row.text(&["message_id", "messageId"])?,
            agent_id: row.text(&["agent_id", "agentId"])?,
            rating: row.text(&["rating"])?,
            feedback_at: row.number(&["feedback_at", "feedbackAt"])?,
            parts: row.opt_text(&["parts"])?,
            question_parts: row.opt_text(&["question_parts"])?,
            answer: row.opt_text(&["answer"])?,
            question: row.opt_text(&["question"])?,
        })
    }
}

impl FeedbackRow {
    /// Converts to a record.
    pub fn into_item(self) -> Result<FeedbackItem, StoreError> {
        let rating = Rating::parse(&self.rating)
            .ok_or_else(|| StoreError::Corrupt(format!("message {} rating", self.message_id)))?;
        let answer = match (self.answer, &self.parts) {
            (Some(answer), _) => answer,
            (None, Some(parts)) => excerpt(parts),
            (None, None) => String::new(),
        };
        let question = self
            .question
            .or_else(|| self.question_parts.as_deref().map(excerpt));
        Ok(FeedbackItem {
            conversation_id: self.conversation_id,
            message_id: self.message_id,
            agent_id: self.agent_id,
            rating,
            feedback_at: self.feedback_at as i64,
            answer,
            question,
        })
    }
}

/// A row of `TURN_SPEND`.
#[derive(Debug)]
pub struct SpendRow {
    tenant: f64,
    agent: f64,
}

impl FromRow for SpendRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            tenant: row.number(&["tenant"])?,
            agent: row.number(&["agent"])?,
        })
    }
}

impl From<SpendRow> for Spend {
    fn from(row: SpendRow) -> Self {
        Spend {
            tenant: row.tenant,
            agent: row.agent,
        }
    }
}

/// A row of `SELECT_USAGE`.
#[derive(Debug)]
pub struct UsageRow {
    agent_id: String,
    day: String,
    messages: f64,
    input_tokens: f64,
    output_tokens: f64,
    cost: f64,
}

impl FromRow for UsageRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            agent_id: row.text(&["agent_id", "agentId"])?,
            day: row.text(&["day"])?,
            messages: row.number(&["messages"])?,
            input_tokens: row.number(&["input_tokens", "inputTokens"])?,
            output_tokens: row.number(&["output_tokens", "outputTokens"])?,
            cost: row.number(&["cost"])?,
        })
    }
}

impl From<UsageRow> for DailyUsage {
    fn from(row: UsageRow) -> Self {
        DailyUsage {
            agent_id: row.agent_id,
            day: row.day,
            messages: row.messages as u64,
            input_tokens: row.input_tokens as u64,
            output_tokens: row.output_tokens as u64,
            cost: row.cost,
        }
    }
}

/// A row of `select_conversation` and the listings (D1 and Convex spellings).
#[derive(Debug)]
pub struct ConversationRow {
    id: String,
    tenant_id: String,
    agent_id: String,
    visitor_id: Option<String>,
    created_at: f64,
    updated_at: f64,
    /// Present in `TURN_CONVERSATION` (the last seq, when the caller's tenant and agent own it)
    /// and in the listing (messages).
    message_count: Option<f64>,
    page_url: Option<String>,
    channel: Option<String>,
    // D1 has 0/1, Convex true/false (or nothing, for conversations from before the field).
    preview: Option<Value>,
    // The listing's summary fields (absent elsewhere).
    first_parts: Option<String>,
    first_message: Option<String>,
    rating: Option<String>,
    last_status: Option<MessageStatus>,
    match_parts: Option<String>,
    /// Convex: the matching message's text.
    match_text: Option<String>,
}

impl FromRow for ConversationRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.text(&["id"])?,
            tenant_id: row.text(&["tenant_id", "tenantId"])?,
            agent_id: row.text(&["agent_id", "agentId"])?,
            visitor_id: row.opt_text(&["visitor_id", "visitorId"])?,
            created_at: row.number(&["created_at", "createdAt"])?,
            updated_at: row.number(&["updated_at", "updatedAt"])?,
            message_count: row.opt_number(&["message_count", "messageCount"])?,
            page_url: row.opt_text(&["page_url", "pageUrl"])?,
            channel: row.opt_text(&["channel"])?,
            preview: row.opt_value(&["preview"]),
            first_parts: row.opt_text(&["first_parts"])?,
            first_message: row.opt_text(&["first_message", "firstMessage"])?,
            rating: row.opt_text(&["rating"])?,
            last_status: row.opt_status(&["last_status", "lastStatus"])?,
            match_parts: row.opt_text(&["match_parts"])?,
            match_text: row.opt_text(&["match_text", "matchText"])?,
        })
    }
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Conversation {
            id: row.id,
            tenant_id: row.tenant_id,
            agent_id: row.agent_id,
            visitor_id: row.visitor_id,
            created_at: row.created_at as i64,
            updated_at: row.updated_at as i64,
            page_url: row.page_url,
            channel: row.channel,
            preview: match row.preview {
                Some(Value::Bool(b)) => b,
                Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
                _ => false,
            },
        }
    }
}

/// A row of `select_conversations`: a conversation row with its summary fields (D1:
/// `first_parts` as stored; Convex: `firstMessage` cut). One row type for both reads, rather
/// than a `#[serde(flatten)]` wrapper, which would buffer every row and grow the wasm.
pub type ConversationListRow = ConversationRow;

impl ConversationRow {
    /// The summary, with the search match cut around the first occurrence of `needle`.
    pub fn into_listing(mut self, needle: Option<&str>) -> (Conversation, ConversationSummary) {
        let matched = self
            .match_text
            .take()
            .or_else(|| self.match_parts.as_deref().map(full_text));
        let mut listing: (Conversation, ConversationSummary) = self.into();
        listing.1.matched = matched
            .zip(needle)
            .and_then(|(text, needle)| around(&text, needle));
        listing
    }
}

/// The text parts of a stored message, joined (uncut).
fn full_text(parts_json: &str) -> String {
    let parts: Vec<Value> = serde_json::from_str(parts_json).unwrap_or_default();
    parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
}

/// About `MATCH_CHARS` characters of `text` around the first case-insensitive `needle`, with
/// `…` where it was cut; `None` when it is not there.
pub fn around(text: &str, needle: &str) -> Option<String> {
    const MATCH_CHARS: usize = 160;
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let want: Vec<char> = needle
        .chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect();
    if want.is_empty() || want.len() > lower.len() {
        return None;
    }
    let at = (0..=lower.len() - want.len()).find(|&i| lower[i..i + want.len()] == want[..])?;
    let start = at.saturating_sub(MATCH_CHARS.saturating_sub(want.len()) / 2);
    let end = (start + MATCH_CHARS.max(want.len())).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    Some(out)
}

impl From<ConversationRow> for (Conversation, ConversationSummary) {
    fn from(mut row: ConversationRow) -> Self {
        let first_message = row
            .first_message
            .take()
            .or_else(|| row.first_parts.as_deref().map(excerpt));
        let summary = ConversationSummary {
            first_message,
            message_count: row.message_count.unwrap_or(0.0) as u64,
            rating: row.rating.as_deref().and_then(Rating::parse),
            status: row.last_status,
            matched: None,
        };
        (row.into(), summary)
    }
}

/// A row of `SELECT_MESSAGES`.
#[derive(Debug)]
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
    feedback: Option<String>,
    created_at: f64,
    /// The per-turn summary (JSON text); the turn window does not read it.
    timing: Option<String>,
}

impl FromRow for MessageRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.text(&["id"])?,
            conversation_id: row.text(&["conversation_id", "conversationId"])?,
            tenant_id: row.text(&["tenant_id", "tenantId"])?,
            seq: row.number(&["seq"])?,
            role: row.text(&["role"])?,
            parts: row.text(&["parts"])?,
            status: row.text(&["status"])?,
            model: row.opt_text(&["model"])?,
            finish_reason: row.opt_text(&["finish_reason", "finishReason"])?,
            input_tokens: row.number(&["input_tokens", "inputTokens"])?,
            output_tokens: row.number(&["output_tokens", "outputTokens"])?,
            cost: row.number(&["cost"])?,
            error: row.opt_text(&["error"])?,
            feedback: row.opt_text(&["feedback"])?,
            created_at: row.number(&["created_at", "createdAt"])?,
            timing: row.opt_text(&["timing"])?,
        })
    }
}

impl MessageRow {
    /// Converts to a record.
    pub fn into_message(self) -> Result<StoredMessage, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("message {} {what}", self.id));
        let role = parse_role(&self.role).ok_or_else(|| corrupt("role"))?;
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
                embedding_tokens: 0,
            },
            error: self.error,
            feedback: self.feedback.as_deref().and_then(Rating::parse),
            created_at: self.created_at as i64,
            timing: self.timing,
        })
    }
}

fn parse_role(text: &str) -> Option<Role> {
    match text {
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        _ => None,
    }
}

/// A row of `TURN_RESENT` (and the `resent` of `conversations:turnContext`).
#[derive(Debug)]
pub struct ResentRow {
    seq: f64,
    role: String,
}

impl FromRow for ResentRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            seq: row.number(&["seq"])?,
            role: row.text(&["role"])?,
        })
    }
}

/// What a turn may see of a conversation: missing, foreign (another tenant's or agent's:
/// whatever was read of it is dropped here), or its window. `count` is the last seq when the
/// query could not put it on the conversation row.
pub fn turn_window(
    conversation: Option<ConversationRow>,
    tenant_id: &str,
    agent_id: &str,
    resent: Option<ResentRow>,
    messages: Vec<MessageRow>,
    count: Option<f64>,
) -> Result<ConversationState, StoreError> {
    let Some(mut row) = conversation else {
        return Ok(ConversationState::Missing);
    };
    if row.tenant_id != tenant_id || row.agent_id != agent_id {
        return Ok(ConversationState::Foreign);
    }
    let message_count = row.message_count.take().or(count).unwrap_or(0.0) as i64;
    let resent = match resent {
        Some(r) => Some((
            r.seq as i64,
            parse_role(&r.role).ok_or_else(|| {
                StoreError::Corrupt(format!("conversation {} resent role", row.id))
            })?,
        )),
        None => None,
    };
    let messages = messages
        .into_iter()
        .map(MessageRow::into_message)
        .collect::<Result<_, _>>()?;
    Ok(ConversationState::Found(ConversationWindow {
        conversation: row.into(),
        messages,
        message_count,
        resent,
    }))
}

/// A tenant's integration. `?1` tenant, `?2` name.
pub const SELECT_INTEGRATION: &str = "SELECT tenant_id, name, settings, secrets, updated_at \
     FROM integrations WHERE tenant_id = ?1 AND name = ?2";

/// Creates or replaces a tenant's integration. `?1` tenant, `?2` name, `?3` settings JSON,
/// `?4` secrets JSON, `?5` updated_at.
pub const PUT_INTEGRATION: &str = "INSERT INTO integrations \
     (tenant_id, name, settings, secrets, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (tenant_id, name) DO UPDATE SET settings = excluded.settings, \
     secrets = excluded.secrets, updated_at = excluded.updated_at";

/// Removes a tenant's integration. `?1` tenant, `?2` name.
pub const DELETE_INTEGRATION: &str = "DELETE FROM integrations WHERE tenant_id = ?1 AND name = ?2";

/// The call a tenant's conversation is. `?1` tenant, `?2` conversation.
pub const SELECT_CALL: &str = "SELECT conversation_id, tenant_id, agent_id, call_sid, caller, \
     callee, started_at, ended_at, outcome, details FROM calls \
     WHERE tenant_id = ?1 AND conversation_id = ?2";

/// Creates or replaces a call, if the tenant's conversation exists. Parameters in
/// `call_params` order.
pub const SAVE_CALL: &str = "INSERT INTO calls (conversation_id, tenant_id, agent_id, call_sid, \
     caller, callee, started_at, ended_at, outcome, details) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM conversations \
     WHERE id = ?1 AND tenant_id = ?2 \
     ON CONFLICT (conversation_id) DO UPDATE SET ended_at = excluded.ended_at, \
     outcome = excluded.outcome, details = excluded.details";

/// Parameters of `PUT_INTEGRATION`.
pub fn integration_params(integration: &Integration) -> Vec<Param> {
    vec![
        integration.tenant_id.as_str().into(),
        integration.name.as_str().into(),
        Param::Text(integration.settings.to_string()),
        Param::Text(integration.secrets.to_string()),
        Param::Int(integration.updated_at),
    ]
}

/// Parameters of `SAVE_CALL`.
pub fn call_params(call: &Call) -> Vec<Param> {
    vec![
        call.conversation_id.as_str().into(),
        call.tenant_id.as_str().into(),
        call.agent_id.as_str().into(),
        call.call_sid.as_str().into(),
        call.caller.as_str().into(),
        call.callee.as_str().into(),
        Param::Int(call.started_at),
        call.ended_at.map_or(Param::Null, Param::Int),
        call.outcome.as_deref().into(),
        Param::Text(call.details.to_string()),
    ]
}

/// A row of `SELECT_INTEGRATION` (D1) or `integrations:get` (Convex).
#[derive(Debug)]
pub struct IntegrationRow {
    tenant_id: String,
    name: String,
    settings: String,
    secrets: String,
    updated_at: f64,
}

impl FromRow for IntegrationRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            tenant_id: row.text(&["tenant_id", "tenantId"])?,
            name: row.text(&["name"])?,
            settings: row.text(&["settings"])?,
            secrets: row.text(&["secrets"])?,
            updated_at: row.number(&["updated_at", "updatedAt"])?,
        })
    }
}

impl IntegrationRow {
    /// Converts to a record.
    pub fn into_integration(self) -> Result<Integration, StoreError> {
        let object = |text: &str| match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            _ => Err(StoreError::Corrupt(format!("integration {}", self.name))),
        };
        Ok(Integration {
            settings: object(&self.settings)?,
            secrets: object(&self.secrets)?,
            tenant_id: self.tenant_id,
            name: self.name,
            updated_at: self.updated_at as i64,
        })
    }
}

/// A row of `SELECT_CALL` (D1) or `calls:get` (Convex).
#[derive(Debug)]
pub struct CallRow {
    conversation_id: String,
    tenant_id: String,
    agent_id: String,
    call_sid: String,
    caller: String,
    callee: String,
    started_at: f64,
    ended_at: Option<f64>,
    outcome: Option<String>,
    details: String,
}

impl FromRow for CallRow {
    fn from_row(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            conversation_id: row.text(&["conversation_id", "conversationId"])?,
            tenant_id: row.text(&["tenant_id", "tenantId"])?,
            agent_id: row.text(&["agent_id", "agentId"])?,
            call_sid: row.text(&["call_sid", "callSid"])?,
            caller: row.text(&["caller"])?,
            callee: row.text(&["callee"])?,
            started_at: row.number(&["started_at", "startedAt"])?,
            ended_at: row.opt_number(&["ended_at", "endedAt"])?,
            outcome: row.opt_text(&["outcome"])?,
            details: row.text(&["details"])?,
        })
    }
}

impl CallRow {
    /// Converts to a record.
    pub fn into_call(self) -> Result<Call, StoreError> {
        let details = match serde_json::from_str::<Value>(&self.details) {
            Ok(value @ Value::Object(_)) => value,
            _ => return Err(StoreError::Corrupt(format!("call {}", self.call_sid))),
        };
        Ok(Call {
            conversation_id: self.conversation_id,
            tenant_id: self.tenant_id,
            agent_id: self.agent_id,
            call_sid: self.call_sid,
            caller: self.caller,
            callee: self.callee,
            started_at: self.started_at as i64,
            ended_at: self.ended_at.map(|t| t as i64),
            outcome: self.outcome,
            details,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conversation_row(tenant: &str, agent: &str, count: Option<i64>) -> ConversationRow {
        serde_json::from_value(json!({
            "id": "c1", "tenant_id": tenant, "agent_id": agent, "visitor_id": "v", "created_at": 1,
            "updated_at": 2, "message_count": count
        }))
        .expect("row")
    }

    #[test]
    fn turn_windows_are_scoped_to_the_tenant_and_agent() {
        let resent = || serde_json::from_value::<ResentRow>(json!({"seq": 1, "role": "user"})).ok();
        let missing = turn_window(None, "t1", "a1", None, vec![], None).expect("ok");
        assert_eq!(missing, ConversationState::Missing);
        for (tenant, agent) in [("t2", "a1"), ("t1", "a2")] {
            let foreign = turn_window(
                Some(conversation_row(tenant, agent, None)),
                "t1",
                "a1",
                resent(),
                vec![row("assistant", "[]")],
                Some(3.0),
            )
            .expect("ok");
            assert_eq!(foreign, ConversationState::Foreign);
        }
        let found = turn_window(
            Some(conversation_row("t1", "a1", Some(7))),
            "t1",
            "a1",
            resent(),
            vec![row("assistant", "[]")],
            None,
        )
        .expect("ok");
        let ConversationState::Found(window) = found else {
            panic!("found expected");
        };
        assert_eq!(window.message_count, 7);
        assert_eq!(window.resent, Some((1, Role::User)));
        assert_eq!(window.messages.len(), 1);
        assert_eq!(window.conversation.visitor_id.as_deref(), Some("v"));
        let bad: ResentRow =
            serde_json::from_value(json!({"seq": 1, "role": "system"})).expect("row");
        assert!(turn_window(
            Some(conversation_row("t1", "a1", Some(1))),
            "t1",
            "a1",
            Some(bad),
            vec![],
            None
        )
        .is_err());
    }

    #[test]
    fn turn_statements_bind_what_their_comments_say() {
        let highest = |sql: &str| {
            (1..=9)
                .rev()
                .find(|n| sql.contains(&format!("?{n}")))
                .unwrap_or(0)
        };
        assert_eq!(highest(TURN_SPEND), 3);
        assert_eq!(highest(TURN_CONVERSATION), 3);
        assert_eq!(highest(TURN_RESENT), 4);
        assert_eq!(highest(TURN_WINDOW), 5);
        assert!(TURN_WINDOW.contains("LIMIT ?5") && TURN_SPEND.contains("usage_monthly"));
        let params = usage_params("t", "a", "2026-02-03", &Usage::default(), Some(("c", "m")));
        assert_eq!(params.len(), 8);
        assert_eq!(params[7], Param::Text("m".into()));
        assert_eq!(
            usage_params("t", "a", "d", &Usage::default(), None)[6],
            Param::Null
        );
        for sql in [
            ADD_USAGE,
            ADD_MONTHLY_USAGE,
            ADD_EMBEDDING_USAGE,
            ADD_MONTHLY_EMBEDDING_USAGE,
        ] {
            assert_eq!(highest(sql), 8);
        }
    }

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
        assert_eq!(params.len(), 14);
        assert!(INSERT_MESSAGE.contains("?14") && !INSERT_MESSAGE.contains("?15"));
        assert_eq!(params[13], Param::Null);
        assert_eq!(
            params[4],
            Param::Text(r#"[{"text":"hi","type":"text"}]"#.into())
        );
        let ui = message.to_ui_message();
        assert_eq!(ui["metadata"]["status"], "aborted");
        assert_eq!(ui["metadata"]["usage"]["outputTokens"], 7);
        assert!(ui["metadata"].get("timing").is_none());
        let timed = StoredMessage {
            timing: Some(r#"{"totalMs":12,"modelMs":10}"#.into()),
            ..message
        };
        assert_eq!(
            message_params(&timed)[13],
            Param::Text(r#"{"totalMs":12,"modelMs":10}"#.into())
        );
        assert!(timed.to_ui_message()["metadata"].get("timing").is_none());
        assert_eq!(
            timed.to_tenant_message()["metadata"]["timing"]["totalMs"],
            12
        );
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
        assert!(agent.publishable_keys.is_empty());
        let keyed: AgentRow = serde_json::from_value(json!({"id": "a", "tenant_id": "t", "config": "{}", "enabled": 1, "tenant_status": "active", "publishable_keys": "[\"pk_live_1\"]", "signing_secret": "s"})).expect("row");
        let keyed = keyed.into_agent().expect("valid");
        assert_eq!(keyed.publishable_keys, vec!["pk_live_1"]);
        assert_eq!(keyed.signing_secret.as_deref(), Some("s"));
        assert_eq!(agent.config.name, "N");
    }

    #[test]
    fn a_search_match_is_cut_around_the_needle() {
        assert_eq!(
            around("Do the trail BOOTS run small?", "boots").as_deref(),
            Some("Do the trail BOOTS run small?")
        );
        let long = format!("{} needle {}", "a".repeat(300), "b".repeat(300));
        let cut = around(&long, "NEEDLE").expect("found");
        assert!(
            cut.starts_with('…') && cut.ends_with('…') && cut.contains("needle"),
            "{cut}"
        );
        assert!(cut.chars().count() <= 162);
        assert_eq!(around("nothing here", "boots"), None);
        assert_eq!(around("", "x"), None);
    }

    #[test]
    fn search_patterns_match_the_needle_literally() {
        assert_eq!(like_pattern("order"), "%order%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}

read_as_value!(
    AgentRow,
    TenantRow,
    KeyRow,
    FeedbackRow,
    SpendRow,
    UsageRow,
    ConversationRow,
    MessageRow,
    ResentRow,
    IntegrationRow,
    CallRow
);

#[cfg(test)]
mod reading_tests {
    use super::*;

    #[test]
    fn a_row_reads_the_same_from_d1_columns_and_convex_fields() {
        let d1 = json!({
            "id": "a1", "tenant_id": "t1", "config": "{}", "enabled": 1, "created_at": 5,
            "updated_at": 6, "tenant_status": "active", "identity_secret": null,
            "publishable_keys": "[\"pk_1\",\"pk_2\"]"
        });
        let convex = json!({
            "id": "a1", "tenantId": "t1", "config": "{}", "enabled": true, "createdAt": 5,
            "updatedAt": 6, "tenantStatus": "active", "publishableKeys": ["pk_1", "pk_2"]
        });
        for row in [d1, convex] {
            let agent: AgentRow = serde_json::from_value(row).expect("reads");
            let agent = agent.into_agent().expect("converts");
            assert_eq!(agent.tenant_id, "t1");
            assert!(agent.enabled && agent.tenant_active);
            assert_eq!(agent.publishable_keys, ["pk_1", "pk_2"]);
            assert_eq!((agent.created_at, agent.version), (5, 1));
            assert_eq!(agent.identity_secret, None);
        }
    }

    #[test]
    fn a_missing_or_mistyped_field_is_a_corrupt_row_not_a_guess() {
        let missing =
            json!({ "id": "a1", "config": "{}", "enabled": 1, "tenant_status": "active" });
        let error = AgentRow::from_row(&Row(&missing)).expect_err("no tenant");
        assert!(
            matches!(&error, StoreError::Corrupt(m) if m.contains("tenant_id")),
            "{error:?}"
        );
        let mistyped = json!({ "seq": "one", "role": "user" });
        assert!(ResentRow::from_row(&Row(&mistyped)).is_err());
        let status = json!({ "id": "c", "tenant_id": "t", "agent_id": "a", "created_at": 1,
            "updated_at": 1, "last_status": "lost" });
        assert!(ConversationRow::from_row(&Row(&status)).is_err());
        let list = json!({ "id": "a1", "tenant_id": "t1", "config": "{}", "enabled": 1,
            "tenant_status": "active", "publishable_keys": "[1]" });
        assert!(AgentRow::from_row(&Row(&list)).is_err());
        assert!(serde_json::from_str::<Vec<ResentRow>>("[{\"seq\":2,\"role\":\"user\"}]").is_ok());
    }
}
