//! The `Store` on Convex, the production store, reached only through its HTTP API with the
//! deploy key (`Authorization: Convex <key>`), calling the internal functions in `convex/`.

mod knowledge;

use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Fetch, Headers, Method, Request, RequestInit};

use super::convex_wire::{self as wire, decode, DeleteStep, Kind, TurnContextRow};
use super::rows::{
    AgentRow, ConversationListRow, ConversationRow, FeedbackRow, KeyRow, MessageRow, TenantRow,
    UsageRow,
};
use super::{
    in_batches, Agent, AgentUpdate, ApiKey, Conversation, ConversationQuery, ConversationSummary,
    DailyUsage, Deleted, EagerStart, FeedbackItem, FeedbackQuery, MessageStatus, Rating, Selection,
    Spend, Store, StoreError, StoredMessage, Tenant, TenantSecret, TenantStatus, TurnContext,
    TurnQuery, TurnStart,
};
use crate::http::fetch::Deadline;
use crate::llm::Usage;

/// How long one call may take.
const TIMEOUT_MS: u32 = 10_000;
/// Attempts for reads and idempotent writes (other writes are never repeated blindly).
const READ_ATTEMPTS: u32 = 3;

/// A `Store` backed by a Convex deployment.
pub struct ConvexStore {
    url: String,
    key: String,
}

/// A conversation with its messages, as `conversations:get` returns it.
#[derive(serde::Deserialize)]
struct ConversationWithMessages {
    conversation: ConversationRow,
    messages: Vec<MessageRow>,
}

fn into_pair(
    row: ConversationWithMessages,
) -> Result<(Conversation, Vec<StoredMessage>), StoreError> {
    let messages = row
        .messages
        .into_iter()
        .map(MessageRow::into_message)
        .collect::<Result<_, _>>()?;
    Ok((row.conversation.into(), messages))
}

impl ConvexStore {
    /// A store for the deployment at `url` (`https://<name>.convex.cloud`).
    pub fn new(url: &str, key: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        }
    }

    async fn call(&self, kind: Kind, path: &str, args: Value) -> Result<Value, StoreError> {
        let mut attempt = 1;
        loop {
            match self.call_once(kind, path, &args).await {
                Err(e) if attempt < READ_ATTEMPTS && wire::retryable(kind, path, &e) => {
                    let pause = std::time::Duration::from_millis(100 * u64::from(attempt));
                    worker::Delay::from(pause).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn call_once(&self, kind: Kind, path: &str, args: &Value) -> Result<Value, StoreError> {
        let failed = |e: worker::Error| StoreError::Unavailable(format!("Convex {path}: {e}"));
        let headers = Headers::new();
        headers
            .set("content-type", "application/json")
            .map_err(failed)?;
        headers
            .set("authorization", &format!("Convex {}", self.key))
            .map_err(failed)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&wire::request_body(path, args))));
        let request = Request::new_with_init(&format!("{}{}", self.url, kind.endpoint()), &init)
            .map_err(failed)?;
        let deadline = Deadline::new(TIMEOUT_MS);
        let signal = deadline.signal();
        let exchange = async {
            let mut response = Fetch::Request(request).send_with_signal(&signal).await?;
            let status = response.status_code();
            Ok::<_, worker::Error>((status, response.text().await?))
        };
        match deadline.run(exchange).await {
            None => Err(StoreError::Unavailable(format!(
                "Convex {path}: no answer within {TIMEOUT_MS} ms"
            ))),
            Some(Err(e)) => Err(failed(e)),
            Some(Ok((status, body))) => wire::read_response(status, &body),
        }
    }

    async fn query<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        args: Value,
    ) -> Result<T, StoreError> {
        decode(self.call(Kind::Query, path, args).await?, path)
    }

    /// Runs a batched delete (`agents:remove`, `conversations:remove`): each call deletes up to
    /// one batch and answers whether more is left; false when there was nothing to delete.
    async fn remove_in_batches(&self, path: &str, args: Value) -> Result<bool, StoreError> {
        let first: DeleteStep = self.mutation(path, args.clone()).await?;
        match first {
            DeleteStep::Missing => return Ok(false),
            DeleteStep::Done => return Ok(true),
            DeleteStep::More => {}
        }
        in_batches(|| async {
            let step: DeleteStep = self.mutation(path, args.clone()).await?;
            // Missing now: another delete of the same row finished it.
            Ok(step != DeleteStep::More)
        })
        .await?;
        Ok(true)
    }

    async fn mutation<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        args: Value,
    ) -> Result<T, StoreError> {
        decode(self.call(Kind::Mutation, path, args).await?, path)
    }
}

use super::rows::{CallRow, IntegrationRow};
use super::{Call, Integration};

impl Store for ConvexStore {
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        let row: Option<AgentRow> = self
            .query("agents:get", json!({ "agentId": agent_id }))
            .await?;
        row.map(AgentRow::into_agent).transpose()
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError> {
        let row: Option<ConversationWithMessages> = self
            .query(
                "conversations:get",
                json!({ "tenantId": tenant_id, "conversationId": conversation_id }),
            )
            .await?;
        row.map(into_pair).transpose()
    }

    async fn turn_context(&self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
        let row: TurnContextRow = self
            .query("conversations:turnContext", wire::turn_query(query))
            .await?;
        row.into_context(query)
    }

    async fn begin_turn(
        &self,
        query: &TurnQuery<'_>,
        eager: &EagerStart,
    ) -> Result<(TurnContext, bool), StoreError> {
        let row: TurnContextRow = self
            .mutation("conversations:beginTurn", wire::begin_turn(query, eager))
            .await?;
        let stored = row.stored;
        Ok((row.into_context(query)?, stored))
    }

    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "conversations:startTurn",
            wire::start_turn(start),
        )
        .await
        .map(|_| ())
    }

    async fn set_feedback(
        &self,
        tenant_id: &str,
        agent_id: &str,
        conversation_id: &str,
        message_id: &str,
        rating: Option<Rating>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.mutation(
            "messages:setFeedback",
            json!({ "tenantId": tenant_id, "agentId": agent_id, "conversationId": conversation_id,
                    "messageId": message_id, "rating": rating.map(Rating::as_str), "now": now }),
        )
        .await
    }

    async fn append_answer(
        &self,
        message: &StoredMessage,
        agent_id: &str,
        day: &str,
    ) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "messages:appendAnswer",
            json!({ "message": wire::message(message), "agentId": agent_id, "day": day,
                    "embeddingTokens": message.usage.embedding_tokens }),
        )
        .await
        .map(|_| ())
    }

    async fn record_usage(
        &self,
        tenant_id: &str,
        agent_id: &str,
        day: &str,
        usage: &Usage,
    ) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "usage:record",
            wire::record_usage(tenant_id, agent_id, day, usage),
        )
        .await
        .map(|_| ())
    }

    async fn create_tenant(
        &self,
        tenant: &Tenant,
        identity_secret: &str,
        signing_secret: &str,
        key: &ApiKey,
    ) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "tenants:create",
            json!({ "tenant": wire::tenant(tenant, true), "identitySecret": identity_secret,
                    "signingSecret": signing_secret, "key": wire::key(key) }),
        )
        .await
        .map(|_| ())
    }

    async fn tenants(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<TenantRow> = self
            .query(
                "tenants:list",
                json!({ "after": wire::cursor(after), "limit": limit }),
            )
            .await?;
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        let row: Option<TenantRow> = self
            .query("tenants:get", json!({ "tenantId": tenant_id }))
            .await?;
        row.map(TenantRow::into_tenant).transpose()
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "tenants:update",
            json!({ "tenant": wire::tenant(tenant, false) }),
        )
        .await
        .map(|_| ())
    }

    async fn set_tenant_secret(
        &self,
        tenant_id: &str,
        which: TenantSecret,
        value: &str,
    ) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "tenants:setSecret",
            json!({ "tenantId": tenant_id, "which": wire::secret_name(which), "value": value }),
        )
        .await
        .map(|_| ())
    }

    async fn spend(
        &self,
        tenant_id: &str,
        agent_id: Option<&str>,
        month: &str,
    ) -> Result<Spend, StoreError> {
        let row: super::rows::SpendRow = self
            .query(
                "usage:monthSpend",
                json!({ "tenantId": tenant_id, "agentId": agent_id, "month": month }),
            )
            .await?;
        Ok(row.into())
    }

    async fn keys_by_lookup(
        &self,
        lookup: &str,
    ) -> Result<Vec<(ApiKey, TenantStatus)>, StoreError> {
        let rows: Vec<KeyRow> = self
            .query("keys:byLookup", json!({ "lookup": lookup }))
            .await?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        // The cursor holds -created_at (so that it ascends); the function takes createdAt.
        let after = after.map(|(time, id)| (time.saturating_neg(), id.clone()));
        let rows: Vec<KeyRow> = self
            .query(
                "keys:listForTenant",
                json!({ "tenantId": tenant_id, "after": wire::cursor(after.as_ref()),
                        "limit": limit }),
            )
            .await?;
        rows.into_iter()
            .map(|row| row.into_key().map(|(key, _)| key))
            .collect()
    }

    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "keys:create",
            json!({ "key": wire::key(key) }),
        )
        .await
        .map(|_| ())
    }

    async fn revoke_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.mutation(
            "keys:revoke",
            json!({ "tenantId": tenant_id, "keyId": key_id, "now": now }),
        )
        .await
    }

    async fn agents(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Agent>, StoreError> {
        let rows: Vec<AgentRow> = self
            .query(
                "agents:listForTenant",
                json!({ "tenantId": tenant_id, "after": wire::cursor(after), "limit": limit }),
            )
            .await?;
        rows.into_iter().map(AgentRow::into_agent).collect()
    }

    async fn create_agent(&self, agent: &Agent) -> Result<bool, StoreError> {
        self.mutation("agents:create", json!({ "agent": wire::agent(agent) }))
            .await
    }

    async fn update_agent(
        &self,
        agent: &Agent,
        expected_version: Option<i64>,
    ) -> Result<AgentUpdate, StoreError> {
        let saved: Result<bool, StoreError> = self
            .mutation(
                "agents:update",
                json!({ "agent": wire::agent_update(agent), "expectedVersion": expected_version }),
            )
            .await;
        match saved {
            Ok(true) => Ok(AgentUpdate::Saved),
            Ok(false) => Ok(AgentUpdate::Missing),
            Err(StoreError::Rejected(detail)) if detail.starts_with("Stale ") => {
                Ok(AgentUpdate::Stale)
            }
            Err(e) => Err(e),
        }
    }

    async fn delete_agent(&self, tenant_id: &str, agent_id: &str) -> Result<bool, StoreError> {
        self.remove_in_batches(
            "agents:remove",
            json!({ "tenantId": tenant_id, "agentId": agent_id }),
        )
        .await
    }

    async fn conversations(
        &self,
        tenant_id: &str,
        query: &ConversationQuery,
        limit: u32,
    ) -> Result<Vec<(Conversation, ConversationSummary)>, StoreError> {
        let before = query
            .before
            .as_ref()
            .map(|(time, id)| json!({ "updatedAt": time, "id": id }));
        let rows: Vec<ConversationListRow> = self
            .query(
                "conversations:listForTenant",
                json!({ "tenantId": tenant_id, "agentId": query.agent_id, "limit": limit,
                        "before": before, "search": query.search,
                        "rating": query.rating.map(Rating::as_str), "channel": query.channel,
                        "status": query.status.map(MessageStatus::as_str),
                        "preview": query.preview }),
            )
            .await?;
        let needle = query.search.as_deref();
        Ok(rows
            .into_iter()
            .map(|row| row.into_listing(needle))
            .collect())
    }

    async fn delete_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<bool, StoreError> {
        self.remove_in_batches(
            "conversations:remove",
            json!({ "tenantId": tenant_id, "conversationId": conversation_id }),
        )
        .await
    }

    async fn feedback(
        &self,
        tenant_id: &str,
        query: &FeedbackQuery,
        limit: u32,
    ) -> Result<Vec<FeedbackItem>, StoreError> {
        let before = query
            .before
            .as_ref()
            .map(|(time, id)| json!({ "feedbackAt": time, "messageId": id }));
        let rows: Vec<FeedbackRow> = self
            .query(
                "messages:feedbackForTenant",
                json!({ "tenantId": tenant_id, "agentId": query.agent_id,
                        "rating": query.rating.map(Rating::as_str), "limit": limit, "before": before }),
            )
            .await?;
        rows.into_iter().map(FeedbackRow::into_item).collect()
    }

    async fn usage(&self, tenant_id: &str, since_day: &str) -> Result<Vec<DailyUsage>, StoreError> {
        let rows: Vec<UsageRow> = self
            .query(
                "usage:list",
                json!({ "tenantId": tenant_id, "sinceDay": since_day }),
            )
            .await?;
        Ok(rows.into_iter().map(DailyUsage::from).collect())
    }

    async fn integration(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<Integration>, StoreError> {
        let row: Option<IntegrationRow> = self
            .query(
                "integrations:get",
                json!({ "tenantId": tenant_id, "name": name }),
            )
            .await?;
        row.map(IntegrationRow::into_integration).transpose()
    }
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.call(
            Kind::Mutation,
            "integrations:put",
            json!({ "integration": wire::integration(integration) }),
        )
        .await
        .map(|_| ())
    }
    async fn delete_integration(&self, tenant_id: &str, name: &str) -> Result<bool, StoreError> {
        self.mutation(
            "integrations:remove",
            json!({ "tenantId": tenant_id, "name": name }),
        )
        .await
    }
    async fn call(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let row: Option<CallRow> = self
            .query(
                "calls:get",
                json!({ "tenantId": tenant_id, "conversationId": conversation_id }),
            )
            .await?;
        row.map(CallRow::into_call).transpose()
    }
    async fn save_call(&self, call: &Call) -> Result<(), StoreError> {
        let saved: bool = self
            .mutation("calls:save", json!({ "call": wire::call(call) }))
            .await?;
        if saved {
            Ok(())
        } else {
            Err(StoreError::Rejected("no such conversation".into()))
        }
    }

    async fn delete_conversations(
        &self,
        tenant_id: &str,
        which: &Selection<'_>,
    ) -> Result<(Deleted, bool), StoreError> {
        let step = self
            .call(
                Kind::Mutation,
                "conversations:removeSome",
                wire::selection(tenant_id, which),
            )
            .await?;
        Ok(wire::removed_some(&step))
    }

    async fn retention_due(&self, now: i64, limit: u32) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<TenantRow> = self
            .query(
                "tenants:retentionDue",
                json!({ "now": now, "limit": limit }),
            )
            .await?;
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    async fn visitor_conversations(
        &self,
        tenant_id: &str,
        visitor_id: &str,
        before: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<(Conversation, Vec<StoredMessage>)>, StoreError> {
        let rows: Vec<ConversationWithMessages> = self
            .query(
                "conversations:ofVisitor",
                json!({ "tenantId": tenant_id, "visitorId": visitor_id,
                        "before": wire::conversation_cursor(before), "limit": limit }),
            )
            .await?;
        rows.into_iter().map(into_pair).collect()
    }
}
