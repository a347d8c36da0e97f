//! Convex's HTTP API as the worker speaks it: request bodies, the `status`-tagged answers, and
//! records as the `convex/` functions take and return them (camelCase, times in ms, JSON blobs
//! as strings). Pure, so the mapping is tested on the host; `store::convex` does the fetching.

use serde_json::{json, Value};

use super::rows::{self, ConversationRow, MessageRow, ResentRow, SpendRow};
use super::{
    Agent, ApiKey, Conversation, EagerStart, StoreError, StoredMessage, Tenant, TenantSecret,
    TurnContext, TurnQuery, TurnStart,
};

/// Which endpoint runs a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /api/query`: reads, safe to retry.
    Query,
    /// `POST /api/mutation`: writes, transactional.
    Mutation,
    /// `POST /api/action`: knowledge search (vector search runs only in actions).
    Action,
}

impl Kind {
    /// The endpoint path.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Query => "/api/query",
            Kind::Mutation => "/api/mutation",
            Kind::Action => "/api/action",
        }
    }
}

/// The request body for calling `path` (such as `agents:get`) with `args`.
pub fn request_body(path: &str, args: &Value) -> String {
    json!({ "path": path, "args": args, "format": "json" }).to_string()
}

/// Reads an answer: the function's value, or a typed error. Convex answers a function that ran
/// (even one that threw) with 200 (or 560) and `status`; anything else is an infrastructure
/// error with `{"code","message"}`.
pub fn read_response(http_status: u16, body: &str) -> Result<Value, StoreError> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    if !(http_status == 200 || http_status == 560) {
        let detail = parsed
            .as_ref()
            .map(|v| format!("{} {}", text(v, "code"), text(v, "message")))
            .unwrap_or_else(|| body.chars().take(200).collect());
        return Err(StoreError::Unavailable(format!(
            "Convex answered HTTP {http_status}: {}",
            detail.trim()
        )));
    }
    let value = parsed
        .ok_or_else(|| StoreError::Unavailable("Convex answered with invalid JSON".into()))?;
    match value.get("status").and_then(Value::as_str) {
        Some("success") => Ok(value.get("value").cloned().unwrap_or(Value::Null)),
        // Production deployments hide the message; `errorData.code` (from ConvexError) stays.
        Some("error") => Err(StoreError::Rejected(format!(
            "{} {}",
            value
                .pointer("/errorData/code")
                .and_then(Value::as_str)
                .unwrap_or("-"),
            text(&value, "errorMessage")
        ))),
        _ => Err(StoreError::Unavailable(
            "Convex answered without a status".into(),
        )),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Whether a failed call may be retried: reads (and mutations written to be retried, such as
/// `conversations:beginTurn`) only, and only for failures on the way there (not a function
/// that ran and threw).
pub fn retryable(kind: Kind, path: &str, error: &StoreError) -> bool {
    (kind == Kind::Query || IDEMPOTENT_MUTATIONS.contains(&path))
        && matches!(error, StoreError::Unavailable(_))
}

/// The mutations that change nothing when run again with the same arguments.
const IDEMPOTENT_MUTATIONS: [&str; 1] = ["conversations:beginTurn"];

/// The arguments of `conversations:beginTurn`.
pub fn begin_turn(query: &TurnQuery<'_>, eager: &EagerStart) -> Value {
    let mut args = turn_query(query);
    args["eager"] = json!({
        "conversation": conversation(&eager.conversation),
        "message": message(&eager.message),
        "maxMessages": eager.max_messages,
        "tenantCap": eager.caps.tenant,
        "agentCap": eager.caps.agent,
    });
    args
}

/// A conversation as the functions take it.
pub fn conversation(c: &Conversation) -> Value {
    json!({
        "id": c.id, "tenantId": c.tenant_id, "agentId": c.agent_id, "visitorId": c.visitor_id,
        "createdAt": c.created_at, "updatedAt": c.updated_at, "pageUrl": c.page_url,
        "channel": c.channel, "preview": c.preview,
    })
}

/// A message as the functions take it (the store assigns `seq`).
pub fn message(m: &StoredMessage) -> Value {
    json!({
        "id": m.id, "conversationId": m.conversation_id, "tenantId": m.tenant_id,
        "role": m.role.as_str(), "parts": Value::Array(m.parts.clone()).to_string(),
        "status": m.status.as_str(), "model": m.model, "finishReason": m.finish_reason,
        "inputTokens": m.usage.input_tokens, "outputTokens": m.usage.output_tokens,
        "cost": m.usage.cost, "error": m.error, "feedback": m.feedback.map(|r| r.as_str()),
        "createdAt": m.created_at, "timing": m.timing,
    })
}

/// The arguments of `conversations:startTurn`.
pub fn start_turn(start: &TurnStart) -> Value {
    json!({
        "conversation": conversation(&start.conversation),
        "create": start.create,
        "replaceAfter": start.replace_after,
        "userMessage": start.user_message.as_ref().map(message),
        "answerId": start.answer_id,
    })
}

/// The arguments of `conversations:turnContext`.
pub fn turn_query(query: &TurnQuery<'_>) -> Value {
    json!({
        "tenantId": query.tenant_id, "agentId": query.agent_id,
        "conversationId": query.conversation_id, "resentMessageId": query.resent_message_id,
        "month": query.month, "historyLimit": query.history_limit,
    })
}

/// The conversation part of what `conversations:turnContext` returns: `state` is `missing`,
/// `foreign` or `found`, and only `found` has the other fields. A plain struct rather than a
/// tagged enum: serde's tagged enums buffer the input and cost the wasm about 10 KB.
#[derive(Debug, serde::Deserialize)]
struct TurnConversationRow {
    state: String,
    #[serde(default)]
    conversation: Option<ConversationRow>,
    #[serde(default)]
    messages: Vec<MessageRow>,
    #[serde(default, rename = "messageCount")]
    message_count: Option<f64>,
    #[serde(default)]
    resent: Option<ResentRow>,
}

/// What `conversations:turnContext` returns.
#[derive(Debug, serde::Deserialize)]
pub struct TurnContextRow {
    conversation: TurnConversationRow,
    spend: SpendRow,
    /// Whether `conversations:beginTurn` stored its eager start.
    #[serde(default)]
    pub stored: bool,
}

impl TurnContextRow {
    /// Converts to a record; the tenant and agent are checked again, so a function that
    /// returned another's conversation would still yield `Foreign`.
    pub fn into_context(self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
        let row = self.conversation;
        let conversation = match (row.state.as_str(), row.conversation) {
            ("missing", _) => super::ConversationState::Missing,
            ("foreign", _) => super::ConversationState::Foreign,
            ("found", Some(conversation)) => rows::turn_window(
                Some(conversation),
                query.tenant_id,
                query.agent_id,
                row.resent,
                row.messages,
                row.message_count,
            )?,
            (state, _) => {
                return Err(StoreError::Corrupt(format!(
                    "turnContext answered the state {state:?} without a conversation"
                )))
            }
        };
        Ok(TurnContext {
            conversation,
            spend: self.spend.into(),
        })
    }
}

/// An agent as `agents:create` and `agents:update` take it.
pub fn agent(a: &Agent) -> Value {
    json!({
        "id": a.id, "tenantId": a.tenant_id,
        // A config of strings, numbers and maps always serializes.
        "config": serde_json::to_string(&a.config).unwrap_or_default(),
        "enabled": a.enabled, "createdAt": a.created_at, "updatedAt": a.updated_at,
    })
}

/// The arguments of `usage:record`.
pub fn record_usage(
    tenant_id: &str,
    agent_id: &str,
    day: &str,
    usage: &crate::llm::Usage,
) -> Value {
    json!({
        "tenantId": tenant_id, "agentId": agent_id, "day": day,
        "usage": { "inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens, "cost": usage.cost },
        "embeddingTokens": usage.embedding_tokens,
    })
}

/// The agent fields `agents:update` accepts.
pub fn agent_update(a: &Agent) -> Value {
    let mut value = agent(a);
    if let Value::Object(map) = &mut value {
        map.remove("createdAt");
    }
    value
}

/// A tenant as the functions take it.
pub fn tenant(t: &Tenant, with_created: bool) -> Value {
    let mut value = json!({
        "id": t.id, "name": t.name, "status": t.status.as_str(),
        "monthlySpendCap": t.monthly_spend_cap, "retentionDays": t.retention_days,
    });
    if with_created {
        value["createdAt"] = json!(t.created_at);
    }
    value
}

/// An integration as `integrations:put` takes it (settings and secrets as JSON text).
pub fn integration(i: &super::Integration) -> Value {
    json!({
        "tenantId": i.tenant_id, "name": i.name, "settings": i.settings.to_string(),
        "secrets": i.secrets.to_string(), "updatedAt": i.updated_at,
    })
}

/// A call as `calls:save` takes it (details as JSON text).
pub fn call(c: &super::Call) -> Value {
    json!({
        "conversationId": c.conversation_id, "tenantId": c.tenant_id, "agentId": c.agent_id,
        "callSid": c.call_sid, "caller": c.caller, "callee": c.callee,
        "startedAt": c.started_at, "endedAt": c.ended_at, "outcome": c.outcome,
        "details": c.details.to_string(),
    })
}

/// A key as `keys:create` takes it.
pub fn key(k: &ApiKey) -> Value {
    json!({
        "id": k.id, "tenantId": k.tenant_id, "agentId": k.agent_id, "kind": k.kind.as_str(),
        "name": k.name, "lookup": k.lookup, "hash": k.hash, "masked": k.masked,
        "createdAt": k.created_at, "revokedAt": k.revoked_at,
        "scopeAgents": k.scope.agents, "browser": k.scope.browser,
        "perMinute": k.scope.per_minute,
    })
}

/// A page cursor as the list functions take it: `{createdAt, id}` or null.
pub fn cursor(after: Option<&(i64, String)>) -> Value {
    after.map_or(
        Value::Null,
        |(time, id)| json!({ "createdAt": time, "id": id }),
    )
}

/// What one call of a batched delete (`agents:remove`, `conversations:remove`) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteStep {
    /// There was nothing to delete (or it was another tenant's).
    Missing,
    /// It deleted a batch and more is left.
    More,
    /// It deleted the rest.
    Done,
}

/// What one call of `conversations:removeSome` did (`{conversations, messages, feedback,
/// done}`), read by hand: a derived deserializer would add more to the wasm than this.
pub fn removed_some(value: &Value) -> (super::Deleted, bool) {
    let count = |name: &str| value[name].as_f64().unwrap_or(0.0) as u64;
    let deleted = super::Deleted {
        conversations: count("conversations"),
        messages: count("messages"),
        feedback: count("feedback"),
    };
    (deleted, value["done"].as_bool().unwrap_or(false))
}

/// The arguments of `conversations:removeSome` for a selection.
pub fn selection(tenant_id: &str, which: &super::Selection<'_>) -> Value {
    let (before, visitor) = match which {
        super::Selection::InactiveBefore(before) => (json!(before), Value::Null),
        super::Selection::Visitor(visitor) => (Value::Null, json!(visitor)),
    };
    json!({ "tenantId": tenant_id, "inactiveBefore": before, "visitorId": visitor })
}

/// A conversations page cursor as `conversations:ofVisitor` takes it: `{updatedAt, id}` or null.
pub fn conversation_cursor(before: Option<&(i64, String)>) -> Value {
    before.map_or(
        Value::Null,
        |(time, id)| json!({ "updatedAt": time, "id": id }),
    )
}

/// The `which` argument of `tenants:setSecret`.
pub fn secret_name(which: TenantSecret) -> &'static str {
    match which {
        TenantSecret::Identity => "identity",
        TenantSecret::Signing => "signing",
    }
}

/// Decodes a returned value into a row type, reporting a mismatch as corrupt data.
pub fn decode<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, StoreError> {
    // Through text: the row types are deserialized from text elsewhere, so this adds no new
    // deserializer to the wasm.
    serde_json::from_str(&value.to_string())
        .map_err(|e| StoreError::Corrupt(format!("Convex {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::context::Role;
    use crate::store::rows::{AgentRow, MessageRow};
    use crate::store::MessageStatus;

    #[test]
    fn requests_name_the_function_and_ask_for_clean_json() {
        let body: Value =
            serde_json::from_str(&request_body("agents:get", &json!({"agentId": "a1"})))
                .expect("json");
        assert_eq!(
            body,
            json!({"path": "agents:get", "args": {"agentId": "a1"}, "format": "json"})
        );
        assert_eq!(Kind::Mutation.endpoint(), "/api/mutation");
    }

    #[test]
    fn answers_are_read_by_status() {
        assert_eq!(
            read_response(200, r#"{"status":"success","value":{"x":1},"logLines":[]}"#),
            Ok(json!({"x": 1}))
        );
        assert_eq!(
            read_response(200, r#"{"status":"success"}"#),
            Ok(Value::Null)
        );
        let thrown = read_response(
            560,
            r#"{"status":"error","errorMessage":"Uncaught Error: boom","errorData":{"code":"X"}}"#,
        )
        .expect_err("an error");
        assert!(
            matches!(&thrown, StoreError::Rejected(m) if m.contains("boom") && m.starts_with("X "))
        );
        assert!(
            !retryable(Kind::Query, "agents:get", &thrown),
            "a function that threw is not retried"
        );
        let auth = read_response(
            401,
            r#"{"code":"BadAdminKey","message":"The provided admin key was invalid"}"#,
        )
        .expect_err("an error");
        assert!(matches!(&auth, StoreError::Unavailable(m) if m.contains("BadAdminKey")));
        assert!(retryable(Kind::Query, "agents:get", &auth));
        assert!(
            !retryable(Kind::Mutation, "conversations:startTurn", &auth),
            "writes are never retried blindly"
        );
        assert!(
            retryable(Kind::Mutation, "conversations:beginTurn", &auth),
            "a write made to be retried is"
        );
        assert!(read_response(502, "<html>bad gateway</html>").is_err());
        assert!(read_response(200, "not json").is_err());
    }

    #[test]
    fn turn_contexts_decode_by_state_and_stay_scoped() {
        let query = TurnQuery {
            tenant_id: "t1",
            agent_id: "a1",
            conversation_id: Some("c1"),
            resent_message_id: Some("u1"),
            month: "2026-02",
            history_limit: 60,
        };
        assert_eq!(
            turn_query(&query),
            json!({"tenantId": "t1", "agentId": "a1", "conversationId": "c1", "resentMessageId": "u1",
                   "month": "2026-02", "historyLimit": 60})
        );
        let decode_context = |conversation: Value| {
            decode::<TurnContextRow>(
                json!({"conversation": conversation, "spend": {"tenant": 2, "agent": 1}}),
                "turn",
            )
            .and_then(|row| row.into_context(&query))
        };
        let missing = decode_context(json!({"state": "missing"})).expect("decodes");
        assert_eq!(
            missing.conversation,
            crate::store::ConversationState::Missing
        );
        assert_eq!(missing.spend.tenant, 2.0);
        assert_eq!(
            decode_context(json!({"state": "foreign"}))
                .expect("decodes")
                .conversation,
            crate::store::ConversationState::Foreign
        );
        let conversation = |tenant: &str| {
            json!({"id": "c1", "tenantId": tenant, "agentId": "a1", "visitorId": "v",
                                  "createdAt": 1, "updatedAt": 2})
        };
        let found = decode_context(
            json!({"state": "found", "conversation": conversation("t1"), "messages": [],
                                          "messageCount": 4, "resent": {"seq": 3, "role": "user"}}),
        )
        .expect("decodes");
        let crate::store::ConversationState::Found(window) = found.conversation else {
            panic!("found expected");
        };
        assert_eq!(
            (window.message_count, window.resent),
            (4, Some((3, Role::User)))
        );
        let wrong = decode_context(
            json!({"state": "found", "conversation": conversation("t2"), "messages": [],
                                          "messageCount": 4, "resent": null}),
        )
        .expect("decodes");
        assert_eq!(wrong.conversation, crate::store::ConversationState::Foreign);
        assert!(decode_context(json!({"state": "other"})).is_err());
    }

    #[test]
    fn rows_from_convex_decode_into_the_shared_row_types() {
        let agent: AgentRow = decode(
            json!({"id": "a1", "tenantId": "t1", "config": "{\"name\":\"N\"}", "enabled": true,
                   "createdAt": 1, "updatedAt": 2, "tenantStatus": "active", "identitySecret": "i",
                   "signingSecret": null, "monthlySpendCap": 5, "publishableKeys": ["pk_live_x"]}),
            "agent",
        )
        .expect("decodes");
        let agent = agent.into_agent().expect("valid");
        assert!(agent.enabled && agent.tenant_active);
        assert_eq!(agent.publishable_keys, vec!["pk_live_x"]);
        assert_eq!(agent.tenant_spend_cap, Some(5.0));
        assert_eq!(agent.config.name, "N");

        let row: MessageRow = decode(
            json!({"id": "m1", "conversationId": "c1", "tenantId": "t1", "seq": 2, "role": "assistant",
                   "parts": "[{\"type\":\"text\",\"text\":\"hi\"}]", "status": "complete", "model": "m",
                   "finishReason": "stop", "inputTokens": 3, "outputTokens": 4, "cost": 0.5,
                   "error": null, "feedback": "up", "createdAt": 9}),
            "message",
        )
        .expect("decodes");
        let stored = row.into_message().expect("valid");
        assert_eq!(
            (stored.seq, stored.role, stored.status),
            (2, Role::Assistant, MessageStatus::Complete)
        );
        assert_eq!(stored.feedback.map(|r| r.as_str()), Some("up"));
        assert_eq!(
            message(&stored)["parts"],
            json!("[{\"text\":\"hi\",\"type\":\"text\"}]")
        );
    }

    #[test]
    fn batched_delete_steps_and_list_cursors_match_the_functions() {
        let step = |text: &str| decode::<DeleteStep>(json!(text), "agents:remove").ok();
        assert_eq!(step("missing"), Some(DeleteStep::Missing));
        assert_eq!(step("more"), Some(DeleteStep::More));
        assert_eq!(step("done"), Some(DeleteStep::Done));
        assert_eq!(step("true"), None);
        assert_eq!(cursor(None), Value::Null);
        assert_eq!(
            cursor(Some(&(5, "a".into()))),
            json!({ "createdAt": 5, "id": "a" })
        );
    }
}
