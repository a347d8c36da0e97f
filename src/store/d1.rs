//! The `Store` on Cloudflare D1 (SQLite), the zero-account default.

mod knowledge;

use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement, Env};

use super::rows::{
    self, AgentRow, ConversationListRow, ConversationRow, FeedbackRow, KeyRow, MessageRow, Param,
    ResentRow, SpendRow, TenantRow, UsageRow,
};
use super::{
    in_batches, Agent, AgentUpdate, ApiKey, Conversation, ConversationQuery, ConversationSummary,
    DailyUsage, Deleted, EagerStart, FeedbackItem, FeedbackQuery, MessageStatus, Rating, Selection,
    Spend, Store, StoreError, StoredMessage, Tenant, TenantSecret, TenantStatus, TurnContext,
    TurnQuery, TurnStart, BULK_DELETE_BATCH,
};
use crate::llm::Usage;

#[wasm_bindgen(module = "/src/js/d1.js")]
extern "C" {
    /// Runs statements; resolves to one JSON text per statement (see `src/js/d1.js`).
    #[wasm_bindgen(js_name = queryJson)]
    fn query_json(db: &JsValue, statements: js_sys::Array) -> js_sys::Promise;
}

/// The results of a batch: each statement's rows as JSON text, and how many rows it changed.
struct Results(Vec<(String, usize)>);

impl Results {
    fn rows<T: DeserializeOwned>(&self, i: usize) -> Result<Vec<T>, StoreError> {
        let (text, _) = self
            .0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no result for statement {i}")))?;
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn changes(&self, i: usize) -> usize {
        self.0.get(i).map_or(0, |(_, changes)| *changes)
    }
}

/// D1 binding name in `wrangler.toml`.
pub const BINDING: &str = "DB";

/// A `Store` backed by the `DB` binding.
pub struct D1Store {
    db: D1Database,
}

impl D1Store {
    /// Opens the `DB` binding.
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        let db = env
            .d1(BINDING)
            .map_err(|e| StoreError::Unavailable(format!("D1 binding {BINDING}: {e}")))?;
        Ok(Self { db })
    }

    fn statement(&self, sql: &str, params: &[Param]) -> Result<D1PreparedStatement, StoreError> {
        let values: Vec<JsValue> = params.iter().map(to_js).collect();
        self.db.prepare(sql).bind(&values).map_err(unavailable)
    }

    /// Runs statements in one round trip (atomically when there are several).
    async fn run(&self, statements: Vec<D1PreparedStatement>) -> Result<Results, StoreError> {
        let list = js_sys::Array::new();
        for statement in &statements {
            list.push(statement.inner());
        }
        let texts = JsFuture::from(query_json(self.db.as_ref(), list))
            .await
            .map_err(|e| StoreError::Unavailable(js_message(&e)))?;
        let results = js_sys::Array::from(&texts)
            .iter()
            .map(|pair| {
                let pair = js_sys::Array::from(&pair);
                let rows = pair.get(0).as_string().unwrap_or_default();
                let changes = pair.get(1).as_f64().unwrap_or(0.0) as usize;
                (rows, changes)
            })
            .collect();
        Ok(Results(results))
    }

    async fn all<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<T>, StoreError> {
        self.run(vec![self.statement(sql, params)?]).await?.rows(0)
    }

    async fn first<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<T>, StoreError> {
        Ok(self.all(sql, params).await?.into_iter().next())
    }

    /// Runs one write; returns how many rows it changed.
    async fn write(&self, sql: &str, params: &[Param]) -> Result<usize, StoreError> {
        Ok(self
            .run(vec![self.statement(sql, params)?])
            .await?
            .changes(0))
    }

    /// Runs one batch of a batched delete (`?1` owner, `?2` tenant, `?3` batch size); true when
    /// it found fewer rows than a batch, so none are left.
    async fn delete_batch(
        &self,
        sql: &str,
        owner: &str,
        tenant_id: &str,
    ) -> Result<bool, StoreError> {
        let params = [
            owner.into(),
            tenant_id.into(),
            Param::Int(rows::DELETE_BATCH),
        ];
        let changed = self.write(sql, &params).await?;
        Ok(i64::try_from(changed).unwrap_or(i64::MAX) < rows::DELETE_BATCH)
    }

    /// A turn's reads: the month's spend, then (when the turn names a conversation) the
    /// conversation, the resent message and the window.
    fn turn_reads(&self, query: &TurnQuery<'_>) -> Result<Vec<D1PreparedStatement>, StoreError> {
        let mut reads = Vec::with_capacity(7);
        reads.push(self.statement(
            rows::TURN_SPEND,
            &[
                query.tenant_id.into(),
                query.agent_id.into(),
                query.month.into(),
            ],
        )?);
        if let Some(id) = query.conversation_id {
            let scope: [Param; 4] = [
                id.into(),
                query.tenant_id.into(),
                query.agent_id.into(),
                query.resent_message_id.into(),
            ];
            reads.push(self.statement(rows::TURN_CONVERSATION, &scope[..3])?);
            reads.push(self.statement(rows::TURN_RESENT, &scope)?);
            let mut window = scope.to_vec();
            window.push(Param::Int(i64::from(query.history_limit)));
            reads.push(self.statement(rows::TURN_WINDOW, &window)?);
        }
        Ok(reads)
    }

    /// Adds usage to the day and the month; with `answer`, only while that answer is not stored
    /// yet, so these must come before the answer's insert in the batch.
    fn usage_statements(
        &self,
        tenant_id: &str,
        agent_id: &str,
        day: &str,
        usage: &Usage,
        answer: Option<(&str, &str)>,
        out: &mut Vec<D1PreparedStatement>,
    ) -> Result<(), StoreError> {
        let params = rows::usage_params(tenant_id, agent_id, day, usage, answer);
        out.push(self.statement(rows::ADD_USAGE, &params)?);
        out.push(self.statement(rows::ADD_MONTHLY_USAGE, &params)?);
        if usage.embedding_tokens > 0 {
            // In the same batch: a turn with knowledge makes no extra round trip for it.
            let params = rows::embedding_usage_params(tenant_id, day, usage, answer);
            out.push(self.statement(rows::ADD_EMBEDDING_USAGE, &params)?);
            out.push(self.statement(rows::ADD_MONTHLY_EMBEDDING_USAGE, &params)?);
        }
        Ok(())
    }

    fn append_statements(
        &self,
        message: &StoredMessage,
        out: &mut Vec<D1PreparedStatement>,
    ) -> Result<(), StoreError> {
        out.push(self.statement(rows::INSERT_MESSAGE, &rows::message_params(message))?);
        out.push(self.statement(
            rows::TOUCH_CONVERSATION,
            &[
                message.conversation_id.as_str().into(),
                Param::Int(message.created_at),
            ],
        )?);
        Ok(())
    }
}

/// The context in the results of `turn_reads` (the first statements of the batch).
fn turn_context_of(results: &Results, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
    let spend = results
        .rows::<SpendRow>(0)?
        .into_iter()
        .next()
        .map(Spend::from)
        .unwrap_or_default();
    let conversation = match query.conversation_id {
        Some(_) => rows::turn_window(
            results.rows::<ConversationRow>(1)?.into_iter().next(),
            query.tenant_id,
            query.agent_id,
            results.rows::<ResentRow>(2)?.into_iter().next(),
            results.rows::<MessageRow>(3)?,
            None,
        )?,
        None => super::ConversationState::Missing,
    };
    Ok(TurnContext {
        conversation,
        spend,
    })
}

fn to_js(param: &Param) -> JsValue {
    match param {
        Param::Null => JsValue::NULL,
        Param::Text(s) => JsValue::from_str(s),
        Param::Int(i) => JsValue::from_f64(*i as f64),
        Param::Real(f) => JsValue::from_f64(*f),
    }
}

fn unavailable(e: worker::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The parameters of a listing's page cursor: `first` when there is none.
fn page_params(after: Option<&(i64, String)>, first: (i64, &str)) -> (Param, Param) {
    match after {
        Some((time, id)) => (Param::Int(*time), id.as_str().into()),
        None => (Param::Int(first.0), first.1.into()),
    }
}

/// The parameters of a page cursor: NULLs when there is none.
fn cursor_params(before: Option<&(i64, String)>) -> (Param, Param) {
    match before {
        Some((time, id)) => (Param::Int(*time), id.as_str().into()),
        None => (Param::Null, Param::Null),
    }
}

/// The message of a thrown JavaScript error.
fn js_message(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

fn opt(value: Option<f64>) -> Param {
    value.map_or(Param::Null, Param::Real)
}

use super::rows::{CallRow, IntegrationRow};
use super::{Call, Integration};

impl Store for D1Store {
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        let row: Option<AgentRow> = self
            .first(&rows::select_agent(), &[agent_id.into()])
            .await?;
        row.map(AgentRow::into_agent).transpose()
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError> {
        let params = [conversation_id.into(), tenant_id.into()];
        let reads = vec![
            self.statement(&rows::select_conversation(), &params)?,
            self.statement(rows::SELECT_MESSAGES, &params)?,
        ];
        read_conversation(&self.run(reads).await?, 0)
    }

    async fn turn_context(&self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
        let reads = self.turn_reads(query)?;
        let results = self.run(reads).await?;
        turn_context_of(&results, query)
    }

    async fn begin_turn(
        &self,
        query: &TurnQuery<'_>,
        eager: &EagerStart,
    ) -> Result<(TurnContext, bool), StoreError> {
        // One batch, one transaction: the reads see the database before the writes, and each
        // write checks in SQL what `EagerStart::allowed` checks of the reads.
        let mut statements = self.turn_reads(query)?;
        let message_at = statements.len() + 1;
        let [conversation, message, touch] = rows::eager_params(eager, query.month);
        statements.push(self.statement(rows::EAGER_CONVERSATION, &conversation)?);
        statements.push(self.statement(rows::EAGER_MESSAGE, &message)?);
        statements.push(self.statement(rows::EAGER_TOUCH, &touch)?);
        let results = self.run(statements).await?;
        Ok((
            turn_context_of(&results, query)?,
            results.changes(message_at) > 0,
        ))
    }

    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(4);
        if start.create {
            writes.push(self.statement(
                rows::INSERT_CONVERSATION,
                &rows::conversation_params(&start.conversation),
            )?);
        }
        if let Some(seq) = start.replace_after {
            writes.push(self.statement(
                rows::DELETE_MESSAGES_AFTER,
                &[
                    start.conversation.id.as_str().into(),
                    Param::Int(seq),
                    start.answer_id.as_deref().into(),
                ],
            )?);
        }
        if let Some(message) = &start.user_message {
            self.append_statements(message, &mut writes)?;
        }
        if !writes.is_empty() {
            self.run(writes).await?;
        }
        Ok(())
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
        let rating = rating.map(Rating::as_str);
        let changed = self
            .write(
                rows::SET_FEEDBACK,
                &[
                    conversation_id.into(),
                    message_id.into(),
                    rating.into(),
                    Param::Int(now),
                    tenant_id.into(),
                    agent_id.into(),
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn append_answer(
        &self,
        message: &StoredMessage,
        agent_id: &str,
        day: &str,
    ) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(4);
        self.usage_statements(
            &message.tenant_id,
            agent_id,
            day,
            &message.usage,
            Some((&message.conversation_id, &message.id)),
            &mut writes,
        )?;
        self.append_statements(message, &mut writes)?;
        self.run(writes).await?;
        Ok(())
    }

    async fn record_usage(
        &self,
        tenant_id: &str,
        agent_id: &str,
        day: &str,
        usage: &Usage,
    ) -> Result<(), StoreError> {
        // The worker's own ids are never empty; '' is the tenant's monthly total.
        if agent_id.is_empty() {
            return Err(StoreError::Rejected(
                "record_usage needs an agent id".into(),
            ));
        }
        let mut writes = Vec::with_capacity(2);
        self.usage_statements(tenant_id, agent_id, day, usage, None, &mut writes)?;
        self.run(writes).await?;
        Ok(())
    }

    async fn create_tenant(
        &self,
        tenant: &Tenant,
        identity_secret: &str,
        signing_secret: &str,
        key: &ApiKey,
    ) -> Result<(), StoreError> {
        let writes = vec![
            self.statement(
                rows::INSERT_TENANT,
                &[
                    tenant.id.as_str().into(),
                    tenant.name.as_str().into(),
                    tenant.status.as_str().into(),
                    opt(tenant.monthly_spend_cap),
                    identity_secret.into(),
                    signing_secret.into(),
                    Param::Int(tenant.created_at),
                ],
            )?,
            self.statement(rows::INSERT_KEY, &rows::key_params(key))?,
        ];
        self.run(writes).await?;
        Ok(())
    }

    async fn tenants(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError> {
        let (time, id) = page_params(after, rows::FIRST_PAGE_BEFORE);
        let rows: Vec<TenantRow> = self
            .all(
                &rows::select_tenants(),
                &[time, id, Param::Int(i64::from(limit))],
            )
            .await?;
        rows.into_iter().map(TenantRow::into_tenant).collect()
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        let row: Option<TenantRow> = self
            .first(&rows::select_tenant(), &[tenant_id.into()])
            .await?;
        row.map(TenantRow::into_tenant).transpose()
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.write(
            rows::UPDATE_TENANT,
            &[
                tenant.id.as_str().into(),
                tenant.name.as_str().into(),
                tenant.status.as_str().into(),
                opt(tenant.monthly_spend_cap),
                tenant
                    .retention_days
                    .map_or(Param::Null, |d| Param::Int(i64::from(d))),
            ],
        )
        .await?;
        Ok(())
    }

    async fn set_tenant_secret(
        &self,
        tenant_id: &str,
        which: TenantSecret,
        value: &str,
    ) -> Result<(), StoreError> {
        let sql = match which {
            TenantSecret::Identity => rows::SET_IDENTITY_SECRET,
            TenantSecret::Signing => rows::SET_SIGNING_SECRET,
        };
        self.write(sql, &[tenant_id.into(), value.into()]).await?;
        Ok(())
    }

    async fn spend(
        &self,
        tenant_id: &str,
        agent_id: Option<&str>,
        month: &str,
    ) -> Result<Spend, StoreError> {
        // A NULL agent matches no row, so its spend is 0.
        let row: Option<SpendRow> = self
            .first(
                rows::TURN_SPEND,
                &[tenant_id.into(), agent_id.into(), month.into()],
            )
            .await?;
        Ok(row.map(Spend::from).unwrap_or_default())
    }

    async fn keys_by_lookup(
        &self,
        lookup: &str,
    ) -> Result<Vec<(ApiKey, TenantStatus)>, StoreError> {
        let rows: Vec<KeyRow> = self
            .all(&rows::select_keys_by_lookup(), &[lookup.into()])
            .await?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        // The cursor holds -created_at (so that it ascends); the statement takes created_at.
        let after = after.map(|(time, id)| (time.saturating_neg(), id.clone()));
        let (time, id) = page_params(after.as_ref(), rows::FIRST_PAGE_AFTER);
        let rows: Vec<KeyRow> = self
            .all(
                &rows::select_tenant_keys(),
                &[tenant_id.into(), time, id, Param::Int(i64::from(limit))],
            )
            .await?;
        rows.into_iter()
            .map(|row| row.into_key().map(|(key, _)| key))
            .collect()
    }

    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.write(rows::INSERT_KEY, &rows::key_params(key)).await?;
        Ok(())
    }

    async fn revoke_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .write(
                rows::REVOKE_KEY,
                &[tenant_id.into(), key_id.into(), Param::Int(now)],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn agents(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Agent>, StoreError> {
        let (time, id) = page_params(after, rows::FIRST_PAGE_BEFORE);
        let rows: Vec<AgentRow> = self
            .all(
                &rows::select_tenant_agents(),
                &[tenant_id.into(), time, id, Param::Int(i64::from(limit))],
            )
            .await?;
        rows.into_iter().map(AgentRow::into_agent).collect()
    }

    async fn create_agent(&self, agent: &Agent) -> Result<bool, StoreError> {
        Ok(self
            .write(rows::INSERT_AGENT, &rows::agent_params(agent))
            .await?
            > 0)
    }

    async fn update_agent(
        &self,
        agent: &Agent,
        expected_version: Option<i64>,
    ) -> Result<AgentUpdate, StoreError> {
        let mut params = rows::agent_params(agent);
        params.push(expected_version.map_or(Param::Null, Param::Int));
        if self.write(rows::UPDATE_AGENT, &params).await? > 0 {
            return Ok(AgentUpdate::Saved);
        }
        let exists = self
            .agent(&agent.id)
            .await?
            .is_some_and(|a| a.tenant_id == agent.tenant_id);
        Ok(if exists && expected_version.is_some() {
            AgentUpdate::Stale
        } else {
            AgentUpdate::Missing
        })
    }

    async fn delete_agent(&self, tenant_id: &str, agent_id: &str) -> Result<bool, StoreError> {
        let params = [agent_id.into(), tenant_id.into()];
        if self.write(rows::DISABLE_AGENT, &params).await? == 0 {
            return Ok(false);
        }
        for sql in [
            rows::DELETE_AGENT_MESSAGES,
            rows::DELETE_AGENT_CONVERSATIONS,
        ] {
            in_batches(|| self.delete_batch(sql, agent_id, tenant_id)).await?;
        }
        // Its keys (a handful) and what chats wrote meanwhile cascade.
        self.write(rows::DELETE_AGENT, &params).await?;
        Ok(true)
    }

    async fn conversations(
        &self,
        tenant_id: &str,
        query: &ConversationQuery,
        limit: u32,
    ) -> Result<Vec<(Conversation, ConversationSummary)>, StoreError> {
        let (after_time, after_id) = cursor_params(query.before.as_ref());
        // SQLite's lower() folds ASCII only; the needle is folded the same way, so "Ä" finds "Ä".
        let search = query.search.as_deref().map(str::to_ascii_lowercase);
        // Trigrams index needles of three or more characters; shorter ones scan the index.
        let short = search.as_ref().is_some_and(|n| n.chars().count() < 3);
        let (sql, pattern) = match search.as_deref() {
            Some(needle) if short => (
                rows::select_conversations_short(),
                Some(rows::like_pattern(needle)),
            ),
            Some(needle) => (
                rows::select_conversations(),
                Some(rows::search_phrase(needle)),
            ),
            None => (rows::select_conversations(), None),
        };
        let rows: Vec<ConversationListRow> = self
            .all(
                &sql,
                &[
                    tenant_id.into(),
                    query.agent_id.as_deref().into(),
                    after_time,
                    after_id,
                    search.as_deref().into(),
                    Param::Int(i64::from(limit)),
                    query.rating.map(Rating::as_str).into(),
                    query.channel.as_deref().into(),
                    query.status.map(MessageStatus::as_str).into(),
                    query
                        .preview
                        .map(|p| Param::Int(i64::from(p)))
                        .unwrap_or(Param::Null),
                    pattern.as_deref().into(),
                ],
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
        in_batches(|| {
            self.delete_batch(
                rows::DELETE_CONVERSATION_MESSAGES,
                conversation_id,
                tenant_id,
            )
        })
        .await?;
        let params = [conversation_id.into(), tenant_id.into()];
        Ok(self.write(rows::DELETE_CONVERSATION, &params).await? > 0)
    }

    async fn feedback(
        &self,
        tenant_id: &str,
        query: &FeedbackQuery,
        limit: u32,
    ) -> Result<Vec<FeedbackItem>, StoreError> {
        let (after_time, after_id) = cursor_params(query.before.as_ref());
        let rows: Vec<FeedbackRow> = self
            .all(
                rows::SELECT_FEEDBACK,
                &[
                    tenant_id.into(),
                    query.agent_id.as_deref().into(),
                    query.rating.map(Rating::as_str).into(),
                    after_time,
                    after_id,
                    Param::Int(i64::from(limit)),
                ],
            )
            .await?;
        rows.into_iter().map(FeedbackRow::into_item).collect()
    }

    async fn usage(&self, tenant_id: &str, since_day: &str) -> Result<Vec<DailyUsage>, StoreError> {
        let rows: Vec<UsageRow> = self
            .all(rows::SELECT_USAGE, &[tenant_id.into(), since_day.into()])
            .await?;
        Ok(rows.into_iter().map(DailyUsage::from).collect())
    }

    async fn integration(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<Integration>, StoreError> {
        let row: Option<IntegrationRow> = self
            .first(rows::SELECT_INTEGRATION, &[tenant_id.into(), name.into()])
            .await?;
        row.map(IntegrationRow::into_integration).transpose()
    }
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.write(
            rows::PUT_INTEGRATION,
            &rows::integration_params(integration),
        )
        .await?;
        Ok(())
    }
    async fn delete_integration(&self, tenant_id: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .write(rows::DELETE_INTEGRATION, &[tenant_id.into(), name.into()])
            .await?
            > 0)
    }
    async fn call(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let row: Option<CallRow> = self
            .first(
                rows::SELECT_CALL,
                &[tenant_id.into(), conversation_id.into()],
            )
            .await?;
        row.map(CallRow::into_call).transpose()
    }
    async fn save_call(&self, call: &Call) -> Result<(), StoreError> {
        match self
            .write(rows::SAVE_CALL, &rows::call_params(call))
            .await?
        {
            0 => Err(StoreError::Rejected("no such conversation".into())),
            _ => Ok(()),
        }
    }

    async fn delete_conversations(
        &self,
        tenant_id: &str,
        which: &Selection<'_>,
    ) -> Result<(Deleted, bool), StoreError> {
        let (messages_sql, conversations_sql, selected) = match which {
            Selection::InactiveBefore(before) => (
                rows::delete_inactive_messages(),
                rows::delete_inactive_conversations(),
                Param::Int(*before),
            ),
            Selection::Visitor(visitor) => (
                rows::delete_visitor_messages(),
                rows::delete_visitor_conversations(),
                Param::Text((*visitor).to_owned()),
            ),
        };
        let batch = Param::Int(i64::from(BULK_DELETE_BATCH));
        let params = [tenant_id.into(), selected, batch];
        // One transaction: the messages of a batch, then the conversations it emptied.
        let results = self
            .run(vec![
                self.statement(&messages_sql, &params)?,
                self.statement(&conversations_sql, &params)?,
            ])
            .await?;
        // Read as plain values: one more row type would add its deserializer to the wasm.
        let messages: Vec<serde_json::Value> = results.rows(0)?;
        let conversations: Vec<serde_json::Value> = results.rows(1)?;
        let deleted = Deleted {
            conversations: conversations.len() as u64,
            messages: messages.len() as u64,
            feedback: messages
                .iter()
                .filter(|m| m["feedback"].is_string())
                .count() as u64,
        };
        let full = u64::from(BULK_DELETE_BATCH);
        Ok((
            deleted,
            deleted.messages < full && deleted.conversations < full,
        ))
    }

    async fn retention_due(&self, now: i64, limit: u32) -> Result<Vec<Tenant>, StoreError> {
        let (time, id) = page_params(None, rows::FIRST_PAGE_BEFORE);
        let rows: Vec<TenantRow> = self
            .all(
                &rows::select_retention_due(),
                &[Param::Int(now), time, id, Param::Int(i64::from(limit))],
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
        let (time, id) = cursor_params(before);
        let params = [
            tenant_id.into(),
            visitor_id.into(),
            time,
            id,
            Param::Int(i64::from(limit)),
        ];
        let results = self
            .run(vec![
                self.statement(&rows::select_visitor_conversations(), &params)?,
                self.statement(&rows::select_visitor_messages(), &params)?,
            ])
            .await?;
        let conversations: Vec<ConversationRow> = results.rows(0)?;
        let mut messages: Vec<StoredMessage> = results
            .rows::<MessageRow>(1)?
            .into_iter()
            .map(MessageRow::into_message)
            .collect::<Result<_, _>>()?;
        Ok(conversations
            .into_iter()
            .map(|row| {
                let conversation: Conversation = row.into();
                let (own, rest) = messages
                    .drain(..)
                    .partition(|m| m.conversation_id == conversation.id);
                messages = rest;
                (conversation, own)
            })
            .collect())
    }
}

/// The conversation and messages read by two consecutive statements of a batch.
fn read_conversation(
    results: &Results,
    first: usize,
) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError> {
    let Some(conversation) = results.rows::<ConversationRow>(first)?.into_iter().next() else {
        return Ok(None);
    };
    let messages = results
        .rows::<MessageRow>(first + 1)?
        .into_iter()
        .map(MessageRow::into_message)
        .collect::<Result<_, _>>()?;
    Ok(Some((conversation.into(), messages)))
}
