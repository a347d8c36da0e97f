//! An in-memory `Store` with the same contract as D1 and Convex, so the app's use cases are
//! tested on the host against real store behaviour (ordering, scoping, cursors, stale edits).

mod knowledge;

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{
    excerpt, Agent, AgentUpdate, ApiKey, Conversation, ConversationQuery, ConversationState,
    ConversationSummary, ConversationWindow, DailyUsage, Deleted, FeedbackItem, FeedbackQuery,
    Rating, Selection, Spend, Store, StoreError, StoredMessage, Tenant, TenantSecret, TenantStatus,
    TurnContext, TurnQuery, TurnStart, BULK_DELETE_BATCH,
};
use super::{Call, Integration};
use crate::agent::context::Role;
use crate::auth::keys::KeyKind;
use crate::llm::Usage;

#[derive(Debug, Clone)]
struct TenantRow {
    tenant: Tenant,
    identity_secret: String,
    signing_secret: String,
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<String, TenantRow>,
    agents: BTreeMap<String, Agent>,
    keys: BTreeMap<String, ApiKey>,
    conversations: BTreeMap<String, Conversation>,
    messages: BTreeMap<String, Vec<StoredMessage>>,
    usage: BTreeMap<(String, String, String), DailyUsage>,
    feedback_at: BTreeMap<(String, String), i64>,
    integrations: BTreeMap<(String, String), Integration>,
    calls: BTreeMap<String, Call>,
}

/// The store in memory; every call is one consistent step, as a D1 batch or Convex mutation is.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RefCell<State>,
    knowledge: RefCell<knowledge::KnowledgeState>,
    /// Rows one bulk delete call removes at most; `None`: `BULK_DELETE_BATCH`.
    delete_batch: Option<u32>,
    /// Bulk delete calls so far (tests check how work was split).
    pub bulk_delete_calls: std::cell::Cell<u32>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose bulk deletes remove at most `batch` rows a call, so tests see
    /// batching with a handful of rows.
    pub fn with_delete_batch(batch: u32) -> Self {
        Self {
            delete_batch: Some(batch),
            ..Self::default()
        }
    }
}

fn text_of(message: &StoredMessage) -> String {
    excerpt(&serde_json::Value::Array(message.parts.clone()).to_string())
}

impl State {
    fn with_tenant(&self, agent: &Agent) -> Option<Agent> {
        let tenant = self.tenants.get(&agent.tenant_id)?;
        let mut agent = agent.clone();
        agent.tenant_active = tenant.tenant.status == TenantStatus::Active;
        agent.identity_secret = Some(tenant.identity_secret.clone());
        agent.signing_secret = Some(tenant.signing_secret.clone());
        agent.tenant_spend_cap = tenant.tenant.monthly_spend_cap;
        agent.publishable_keys = self
            .keys
            .values()
            .filter(|k| {
                k.agent_id.as_deref() == Some(agent.id.as_str())
                    && k.kind == KeyKind::Publishable
                    && k.revoked_at.is_none()
            })
            .map(|k| k.lookup.clone())
            .collect();
        Some(agent)
    }

    fn spend(&self, tenant_id: &str, agent_id: Option<&str>, month: &str) -> Spend {
        let mut spend = Spend::default();
        for ((tenant, agent, day), usage) in &self.usage {
            if tenant == tenant_id && day.starts_with(month) {
                spend.tenant += usage.cost;
                if Some(agent.as_str()) == agent_id {
                    spend.agent += usage.cost;
                }
            }
        }
        spend
    }

    fn append(&mut self, message: &StoredMessage) -> bool {
        let messages = self
            .messages
            .entry(message.conversation_id.clone())
            .or_default();
        if messages.iter().any(|m| m.id == message.id) {
            return false;
        }
        let mut message = message.clone();
        message.seq = messages.last().map_or(0, |m| m.seq) + 1;
        messages.push(message);
        true
    }

    fn add_usage(&mut self, tenant_id: &str, agent_id: &str, day: &str, usage: &Usage) {
        let key = (tenant_id.to_owned(), agent_id.to_owned(), day.to_owned());
        let row = self.usage.entry(key).or_insert_with(|| DailyUsage {
            agent_id: agent_id.to_owned(),
            day: day.to_owned(),
            messages: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost: 0.0,
        });
        row.messages += 1;
        row.input_tokens += usage.input_tokens;
        row.output_tokens += usage.output_tokens;
        row.cost += usage.cost;
        if usage.embedding_tokens > 0 {
            // Tokens only: the answer is one message, on its agent's line.
            let line = crate::knowledge::EMBEDDING_USAGE;
            let key = (tenant_id.to_owned(), line.to_owned(), day.to_owned());
            let row = self.usage.entry(key).or_insert_with(|| DailyUsage {
                agent_id: line.to_owned(),
                day: day.to_owned(),
                messages: 0,
                input_tokens: 0,
                output_tokens: 0,
                cost: 0.0,
            });
            row.input_tokens += usage.embedding_tokens;
        }
    }

    fn conversation(&self, id: &str) -> Option<(Conversation, Vec<StoredMessage>)> {
        let conversation = self.conversations.get(id)?.clone();
        let messages = self.messages.get(id).cloned().unwrap_or_default();
        Some((conversation, messages))
    }
}

impl Store for MemoryStore {
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        let state = self.state.borrow();
        Ok(state
            .agents
            .get(agent_id)
            .and_then(|agent| state.with_tenant(agent)))
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError> {
        Ok(self
            .state
            .borrow()
            .conversation(conversation_id)
            .filter(|(c, _)| c.tenant_id == tenant_id))
    }

    async fn turn_context(&self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
        let state = self.state.borrow();
        let conversation = match query.conversation_id.and_then(|id| state.conversation(id)) {
            None => ConversationState::Missing,
            Some((c, _)) if c.tenant_id != query.tenant_id || c.agent_id != query.agent_id => {
                ConversationState::Foreign
            }
            Some((conversation, messages)) => ConversationState::Found(ConversationWindow::of(
                conversation,
                messages,
                query.resent_message_id,
                query.history_limit as usize,
            )),
        };
        Ok(TurnContext {
            conversation,
            spend: state.spend(query.tenant_id, Some(query.agent_id), query.month),
        })
    }

    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError> {
        let mut state = self.state.borrow_mut();
        let id = &start.conversation.id;
        let answered = start.answer_id.as_ref().is_some_and(|answer| {
            state
                .messages
                .get(id)
                .is_some_and(|ms| ms.iter().any(|m| &m.id == answer))
        });
        if answered {
            return Ok(());
        }
        match state.conversations.get(id) {
            Some(stored)
                if stored.tenant_id != start.conversation.tenant_id
                    || stored.agent_id != start.conversation.agent_id =>
            {
                return Err(StoreError::Rejected(format!(
                    "Conversation {id} belongs to someone else"
                )))
            }
            Some(_) => {}
            None if start.create => {
                state
                    .conversations
                    .insert(id.clone(), start.conversation.clone());
            }
            None => return Err(StoreError::Rejected(format!("No conversation {id}"))),
        }
        if let Some(after) = start.replace_after {
            if let Some(messages) = state.messages.get_mut(id) {
                messages.retain(|m| m.seq <= after);
            }
        }
        if let Some(message) = &start.user_message {
            if state.append(message) {
                if let Some(c) = state.conversations.get_mut(id) {
                    c.updated_at = c.updated_at.max(message.created_at);
                }
            }
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
        let mut state = self.state.borrow_mut();
        let ours = state
            .conversations
            .get(conversation_id)
            .is_some_and(|c| c.tenant_id == tenant_id && c.agent_id == agent_id);
        if !ours {
            return Ok(false);
        }
        let Some(message) = state
            .messages
            .get_mut(conversation_id)
            .and_then(|ms| ms.iter_mut().find(|m| m.id == message_id))
            .filter(|m| m.role == Role::Assistant)
        else {
            return Ok(false);
        };
        message.feedback = rating;
        let key = (conversation_id.to_owned(), message_id.to_owned());
        match rating {
            Some(_) => state.feedback_at.insert(key, now),
            None => state.feedback_at.remove(&key),
        };
        Ok(true)
    }

    async fn append_answer(
        &self,
        message: &StoredMessage,
        agent_id: &str,
        day: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.state.borrow_mut();
        if !state.append(message) {
            return Ok(());
        }
        if let Some(c) = state.conversations.get_mut(&message.conversation_id) {
            c.updated_at = c.updated_at.max(message.created_at);
        }
        state.add_usage(&message.tenant_id, agent_id, day, &message.usage);
        Ok(())
    }

    async fn record_usage(
        &self,
        tenant_id: &str,
        agent_id: &str,
        day: &str,
        usage: &Usage,
    ) -> Result<(), StoreError> {
        self.state
            .borrow_mut()
            .add_usage(tenant_id, agent_id, day, usage);
        Ok(())
    }

    async fn create_tenant(
        &self,
        tenant: &Tenant,
        identity_secret: &str,
        signing_secret: &str,
        key: &ApiKey,
    ) -> Result<(), StoreError> {
        let mut state = self.state.borrow_mut();
        state.tenants.insert(
            tenant.id.clone(),
            TenantRow {
                tenant: tenant.clone(),
                identity_secret: identity_secret.to_owned(),
                signing_secret: signing_secret.to_owned(),
            },
        );
        state.keys.insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn tenants(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError> {
        let mut tenants: Vec<Tenant> = self
            .state
            .borrow()
            .tenants
            .values()
            .map(|t| t.tenant.clone())
            .collect();
        tenants.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(after_cursor(
            tenants,
            |t| (t.created_at, t.id.clone()),
            after,
            limit,
        ))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(self
            .state
            .borrow()
            .tenants
            .get(tenant_id)
            .map(|t| t.tenant.clone()))
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        if let Some(row) = self.state.borrow_mut().tenants.get_mut(&tenant.id) {
            row.tenant.name = tenant.name.clone();
            row.tenant.status = tenant.status;
            row.tenant.monthly_spend_cap = tenant.monthly_spend_cap;
            row.tenant.retention_days = tenant.retention_days;
        }
        Ok(())
    }

    async fn set_tenant_secret(
        &self,
        tenant_id: &str,
        which: TenantSecret,
        value: &str,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.state.borrow_mut().tenants.get_mut(tenant_id) {
            match which {
                TenantSecret::Identity => row.identity_secret = value.to_owned(),
                TenantSecret::Signing => row.signing_secret = value.to_owned(),
            }
        }
        Ok(())
    }

    async fn spend(
        &self,
        tenant_id: &str,
        agent_id: Option<&str>,
        month: &str,
    ) -> Result<Spend, StoreError> {
        Ok(self.state.borrow().spend(tenant_id, agent_id, month))
    }

    async fn keys_by_lookup(
        &self,
        lookup: &str,
    ) -> Result<Vec<(ApiKey, TenantStatus)>, StoreError> {
        let state = self.state.borrow();
        Ok(state
            .keys
            .values()
            .filter(|k| k.lookup == lookup && k.revoked_at.is_none())
            .filter_map(|k| {
                let tenant = state.tenants.get(&k.tenant_id)?;
                Some((k.clone(), tenant.tenant.status))
            })
            .collect())
    }

    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .state
            .borrow()
            .keys
            .values()
            .filter(|k| k.tenant_id == tenant_id)
            .cloned()
            .collect();
        keys.sort_by(|a, b| (-a.created_at, &a.id).cmp(&(-b.created_at, &b.id)));
        Ok(after_cursor(
            keys,
            |k| (-k.created_at, k.id.clone()),
            after,
            limit,
        ))
    }

    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut state = self.state.borrow_mut();
        if state.keys.contains_key(&key.id) {
            return Err(StoreError::Rejected(format!("Key {} exists", key.id)));
        }
        state.keys.insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn revoke_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.borrow_mut();
        match state.keys.get_mut(key_id) {
            Some(key) if key.tenant_id == tenant_id && key.revoked_at.is_none() => {
                key.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn agents(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Agent>, StoreError> {
        let state = self.state.borrow();
        let mut agents: Vec<Agent> = state
            .agents
            .values()
            .filter(|a| a.tenant_id == tenant_id)
            .filter_map(|a| state.with_tenant(a))
            .collect();
        agents.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(after_cursor(
            agents,
            |a| (a.created_at, a.id.clone()),
            after,
            limit,
        ))
    }

    async fn create_agent(&self, agent: &Agent) -> Result<bool, StoreError> {
        let mut state = self.state.borrow_mut();
        if state.agents.contains_key(&agent.id) {
            return Ok(false);
        }
        if !state.tenants.contains_key(&agent.tenant_id) {
            return Err(StoreError::Rejected(format!(
                "Tenant {} does not exist",
                agent.tenant_id
            )));
        }
        let mut agent = agent.clone();
        agent.version = 1;
        state.agents.insert(agent.id.clone(), agent);
        Ok(true)
    }

    async fn update_agent(
        &self,
        agent: &Agent,
        expected_version: Option<i64>,
    ) -> Result<AgentUpdate, StoreError> {
        let mut state = self.state.borrow_mut();
        let Some(stored) = state
            .agents
            .get_mut(&agent.id)
            .filter(|a| a.tenant_id == agent.tenant_id)
        else {
            return Ok(AgentUpdate::Missing);
        };
        if expected_version.is_some_and(|expected| expected != stored.version) {
            return Ok(AgentUpdate::Stale);
        }
        stored.config = agent.config.clone();
        stored.enabled = agent.enabled;
        stored.updated_at = agent.updated_at;
        stored.version += 1;
        Ok(AgentUpdate::Saved)
    }

    async fn delete_agent(&self, tenant_id: &str, agent_id: &str) -> Result<bool, StoreError> {
        let mut state = self.state.borrow_mut();
        if state
            .agents
            .get(agent_id)
            .is_none_or(|a| a.tenant_id != tenant_id)
        {
            return Ok(false);
        }
        state.agents.remove(agent_id);
        let gone: Vec<String> = state
            .conversations
            .values()
            .filter(|c| c.agent_id == agent_id)
            .map(|c| c.id.clone())
            .collect();
        for id in gone {
            state.conversations.remove(&id);
            state.messages.remove(&id);
            state.calls.remove(&id);
        }
        state
            .keys
            .retain(|_, k| k.agent_id.as_deref() != Some(agent_id));
        Ok(true)
    }

    async fn conversations(
        &self,
        tenant_id: &str,
        query: &ConversationQuery,
        limit: u32,
    ) -> Result<Vec<(Conversation, ConversationSummary)>, StoreError> {
        let state = self.state.borrow();
        let needle = query.search.as_ref().map(|s| s.to_lowercase());
        let mut list: Vec<(Conversation, ConversationSummary)> = state
            .conversations
            .values()
            .filter(|c| c.tenant_id == tenant_id)
            .filter(|c| query.agent_id.as_ref().is_none_or(|a| &c.agent_id == a))
            .filter(|c| {
                query
                    .channel
                    .as_ref()
                    .is_none_or(|ch| c.channel.as_ref() == Some(ch))
            })
            .filter(|c| query.preview.is_none_or(|p| c.preview == p))
            .filter(|c| {
                query.before.as_ref().is_none_or(|(time, id)| {
                    c.updated_at < *time || (c.updated_at == *time && &c.id < id)
                })
            })
            .filter_map(|c| {
                let messages = state.messages.get(&c.id).cloned().unwrap_or_default();
                let matched = match &needle {
                    None => None,
                    Some(needle) => Some(
                        messages
                            .iter()
                            .map(text_of)
                            .find(|text| text.to_lowercase().contains(needle.as_str()))?,
                    ),
                };
                let rated = |r: Rating| messages.iter().any(|m| m.feedback == Some(r));
                let summary = ConversationSummary {
                    first_message: messages.iter().find(|m| m.role == Role::User).map(text_of),
                    message_count: messages.len() as u64,
                    rating: if rated(Rating::Down) {
                        Some(Rating::Down)
                    } else if rated(Rating::Up) {
                        Some(Rating::Up)
                    } else {
                        None
                    },
                    status: messages
                        .iter()
                        .rev()
                        .find(|m| m.role == Role::Assistant)
                        .map(|m| m.status),
                    matched,
                };
                Some((c.clone(), summary))
            })
            .filter(|(_, s)| query.rating.is_none_or(|r| s.rating == Some(r)))
            .filter(|(_, s)| query.status.is_none_or(|st| s.status == Some(st)))
            .collect();
        list.sort_by(|(a, _), (b, _)| (b.updated_at, &b.id).cmp(&(a.updated_at, &a.id)));
        list.truncate(limit as usize);
        Ok(list)
    }

    async fn delete_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.borrow_mut();
        if state
            .conversations
            .get(conversation_id)
            .is_none_or(|c| c.tenant_id != tenant_id)
        {
            return Ok(false);
        }
        state.conversations.remove(conversation_id);
        state.messages.remove(conversation_id);
        state.calls.remove(conversation_id);
        Ok(true)
    }

    async fn feedback(
        &self,
        tenant_id: &str,
        query: &FeedbackQuery,
        limit: u32,
    ) -> Result<Vec<FeedbackItem>, StoreError> {
        let state = self.state.borrow();
        let mut items = Vec::new();
        for ((conversation_id, message_id), at) in &state.feedback_at {
            let Some((conversation, messages)) = state.conversation(conversation_id) else {
                continue;
            };
            let Some(pos) = messages.iter().position(|m| &m.id == message_id) else {
                continue;
            };
            let (Some(rating), true) =
                (messages[pos].feedback, conversation.tenant_id == tenant_id)
            else {
                continue;
            };
            let wanted = query
                .agent_id
                .as_ref()
                .is_none_or(|a| &conversation.agent_id == a)
                && query.rating.is_none_or(|r| r == rating)
                && query
                    .before
                    .as_ref()
                    .is_none_or(|(time, id)| *at < *time || (*at == *time && message_id < id));
            if !wanted {
                continue;
            }
            let question = messages[..pos]
                .iter()
                .rev()
                .find(|m| m.role == Role::User)
                .map(text_of);
            items.push(FeedbackItem {
                conversation_id: conversation_id.clone(),
                message_id: message_id.clone(),
                agent_id: conversation.agent_id.clone(),
                rating,
                feedback_at: *at,
                answer: text_of(&messages[pos]),
                question,
            });
        }
        items.sort_by(|a, b| (b.feedback_at, &b.message_id).cmp(&(a.feedback_at, &a.message_id)));
        items.truncate(limit as usize);
        Ok(items)
    }

    async fn usage(&self, tenant_id: &str, since_day: &str) -> Result<Vec<DailyUsage>, StoreError> {
        Ok(self
            .state
            .borrow()
            .usage
            .iter()
            .filter(|((tenant, _, day), _)| tenant == tenant_id && day.as_str() >= since_day)
            .map(|(_, usage)| usage.clone())
            .collect())
    }

    async fn integration(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<Integration>, StoreError> {
        let key = (tenant_id.to_owned(), name.to_owned());
        Ok(self.state.borrow().integrations.get(&key).cloned())
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        let key = (integration.tenant_id.clone(), integration.name.clone());
        self.state
            .borrow_mut()
            .integrations
            .insert(key, integration.clone());
        Ok(())
    }

    async fn delete_integration(&self, tenant_id: &str, name: &str) -> Result<bool, StoreError> {
        let key = (tenant_id.to_owned(), name.to_owned());
        Ok(self.state.borrow_mut().integrations.remove(&key).is_some())
    }

    async fn call(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let state = self.state.borrow();
        Ok(state
            .calls
            .get(conversation_id)
            .filter(|c| c.tenant_id == tenant_id)
            .cloned())
    }

    async fn save_call(&self, call: &Call) -> Result<(), StoreError> {
        let mut state = self.state.borrow_mut();
        let owned = state
            .conversations
            .get(&call.conversation_id)
            .is_some_and(|c| c.tenant_id == call.tenant_id);
        if !owned {
            return Err(StoreError::Rejected("no such conversation".into()));
        }
        state
            .calls
            .insert(call.conversation_id.clone(), call.clone());
        Ok(())
    }

    async fn delete_conversations(
        &self,
        tenant_id: &str,
        which: &Selection<'_>,
    ) -> Result<(Deleted, bool), StoreError> {
        self.delete_conversations_impl(tenant_id, which).await
    }

    async fn retention_due(&self, now: i64, limit: u32) -> Result<Vec<Tenant>, StoreError> {
        let state = self.state.borrow();
        let mut due: Vec<Tenant> = state
            .tenants
            .values()
            .map(|row| row.tenant.clone())
            .filter(|t| {
                t.retention_days.is_some_and(|days| {
                    let before = now - i64::from(days) * 86_400_000;
                    state
                        .conversations
                        .values()
                        .any(|c| c.tenant_id == t.id && c.updated_at < before)
                })
            })
            .collect();
        due.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn visitor_conversations(
        &self,
        tenant_id: &str,
        visitor_id: &str,
        before: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<(Conversation, Vec<StoredMessage>)>, StoreError> {
        let state = self.state.borrow();
        let mut list: Vec<&Conversation> = state
            .conversations
            .values()
            .filter(|c| c.tenant_id == tenant_id && c.visitor_id.as_deref() == Some(visitor_id))
            .filter(|c| {
                before.is_none_or(|(time, id)| {
                    c.updated_at < *time || (c.updated_at == *time && &c.id < id)
                })
            })
            .collect();
        list.sort_by(|a, b| (b.updated_at, &b.id).cmp(&(a.updated_at, &a.id)));
        Ok(list
            .into_iter()
            .take(limit as usize)
            .map(|c| {
                let messages = state.messages.get(&c.id).cloned().unwrap_or_default();
                (c.clone(), messages)
            })
            .collect())
    }
}

impl MemoryStore {
    async fn delete_conversations_impl(
        &self,
        tenant_id: &str,
        which: &Selection<'_>,
    ) -> Result<(Deleted, bool), StoreError> {
        self.bulk_delete_calls.set(self.bulk_delete_calls.get() + 1);
        let budget = u64::from(self.delete_batch.unwrap_or(BULK_DELETE_BATCH));
        let mut state = self.state.borrow_mut();
        let mut selected: Vec<(i64, String)> = state
            .conversations
            .values()
            .filter(|c| c.tenant_id == tenant_id)
            .filter(|c| match which {
                Selection::InactiveBefore(before) => c.updated_at < *before,
                Selection::Visitor(visitor) => c.visitor_id.as_deref() == Some(*visitor),
            })
            .map(|c| (c.updated_at, c.id.clone()))
            .collect();
        selected.sort();
        let mut deleted = Deleted::default();
        // As D1's batch: up to a batch of messages, then up to a batch of emptied conversations.
        for (_, id) in &selected {
            let Some(messages) = state.messages.get_mut(id) else {
                continue;
            };
            while deleted.messages < budget {
                let Some(message) = messages.pop() else { break };
                deleted.messages += 1;
                deleted.feedback += u64::from(message.feedback.is_some());
            }
        }
        for (_, id) in &selected {
            if deleted.conversations >= budget {
                break;
            }
            if state.messages.get(id).is_some_and(|m| !m.is_empty()) {
                continue;
            }
            state.messages.remove(id);
            state.conversations.remove(id);
            state.calls.remove(id);
            deleted.conversations += 1;
        }
        Ok((
            deleted,
            deleted.messages < budget && deleted.conversations < budget,
        ))
    }
}

/// The first `limit` of `items` (sorted by `key`) that come after `after`, as a store reads one
/// page of an index range.
fn after_cursor<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (i64, String),
    after: Option<&(i64, String)>,
    limit: u32,
) -> Vec<T> {
    items
        .into_iter()
        .filter(|item| after.is_none_or(|c| key(item) > *c))
        .take(limit as usize)
        .collect()
}
