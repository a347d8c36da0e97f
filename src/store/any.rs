//! The store the worker uses: Convex when `CONVEX_URL` and the `CONVEX_DEPLOY_KEY` secret are
//! set, else the D1 binding. One enum rather than generic handlers keeps a single copy of the
//! handlers in the wasm.
//!
//! It is also the caching layer: chat surfaces read agents through `live_agent` (from the
//! isolate's cache while fresh), and every write that can change what a cached agent carries
//! (its config, keys, tenant standing or secrets) forgets it here, so no handler has to.

// The store layer itself: it implements the methods the tenant-scoped handle wraps.
#![allow(clippy::disallowed_methods)]

mod knowledge;

use std::cell::{Cell, RefCell};

use worker::{console_log, Env};

use super::cache::{AgentCache, KeyCache};
use super::convex::ConvexStore;
use super::d1::D1Store;
use super::{
    Agent, AgentUpdate, ApiKey, Conversation, ConversationQuery, ConversationSummary, DailyUsage,
    Deleted, EagerStart, FeedbackItem, FeedbackQuery, Rating, Selection, Spend, Store, StoreError,
    StoredMessage, Tenant, TenantSecret, TenantStatus, TurnContext, TurnQuery, TurnStart,
};
use crate::llm::Usage;
use crate::platform;

thread_local! {
    /// Whether this isolate has said which store it uses.
    static ANNOUNCED: Cell<bool> = const { Cell::new(false) };
    /// Agents this isolate has loaded recently (see `store::cache`).
    static AGENTS: RefCell<AgentCache> = RefCell::new(AgentCache::default());
    /// Key rows by lookup this isolate has read recently (see `store::cache`).
    static KEYS: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// Drops every cached key lookup: after a key is created or revoked, or a tenant changes.
fn forget_keys() {
    KEYS.with(|cache| *cache.borrow_mut() = KeyCache::default());
}

/// Drops a cached agent (`None`: all of them): this isolate sees a change at once; other
/// isolates when their entry expires.
fn forget(agent_id: Option<&str>) {
    AGENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        match agent_id {
            Some(id) => cache.forget(id),
            None => *cache = AgentCache::default(),
        }
    });
}

/// Drops every agent and key lookup this isolate cached: the chat worker calls it after the
/// admin worker made a change, which it can only see as a successful write it handed on.
pub fn forget_everything() {
    forget(None);
    forget_keys();
}

/// D1 or Convex.
pub enum AnyStore {
    /// The D1 binding `DB`.
    D1(D1Store),
    /// A Convex deployment.
    Convex(ConvexStore),
}

impl AnyStore {
    /// The store the settings choose; logs the choice once per isolate.
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        let settings = platform::settings(env);
        let store = match (&settings.convex_url, &settings.convex_deploy_key) {
            (Some(url), Some(key)) => AnyStore::Convex(ConvexStore::new(url, key)),
            _ => AnyStore::D1(D1Store::from_env(env)?),
        };
        if !ANNOUNCED.with(|a| a.replace(true)) {
            match (&store, &settings.convex_url) {
                (AnyStore::Convex(_), Some(url)) => console_log!("store: convex ({url})"),
                _ => console_log!("store: d1 (binding DB)"),
            }
        }
        Ok(store)
    }

    /// An agent for a chat surface: from the isolate cache while fresh, else from the store.
    pub async fn live_agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        let now = platform::now_ms();
        if let Some(agent) = AGENTS.with(|cache| cache.borrow().get(agent_id, now)) {
            return Ok(Some(agent));
        }
        let agent = self.agent(agent_id).await?;
        if let Some(agent) = &agent {
            AGENTS.with(|cache| cache.borrow_mut().put(agent.clone(), now));
        }
        Ok(agent)
    }

    /// The key rows of a lookup value for authenticating an API call: from the isolate cache
    /// while fresh, else from the store.
    pub async fn live_keys(&self, lookup: &str) -> Result<Vec<(ApiKey, TenantStatus)>, StoreError> {
        let now = platform::now_ms();
        if let Some(rows) = KEYS.with(|cache| cache.borrow().get(lookup, now)) {
            return Ok(rows);
        }
        let rows = self.keys_by_lookup(lookup).await?;
        KEYS.with(|cache| cache.borrow_mut().put(lookup, rows.clone(), now));
        Ok(rows)
    }

    /// `"d1"` or `"convex"`.
    pub fn name(&self) -> &'static str {
        match self {
            AnyStore::D1(_) => "d1",
            AnyStore::Convex(_) => "convex",
        }
    }
}

macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::D1($store) => $call,
            AnyStore::Convex($store) => $call,
        }
    };
}

use super::{Call, Integration};

impl Store for AnyStore {
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        each!(self, s => s.agent(agent_id).await)
    }
    async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError> {
        each!(self, s => s.conversation(tenant_id, conversation_id).await)
    }
    async fn turn_context(&self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
        each!(self, s => s.turn_context(query).await)
    }
    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError> {
        each!(self, s => s.start_turn(start).await)
    }
    async fn begin_turn(
        &self,
        query: &TurnQuery<'_>,
        eager: &EagerStart,
    ) -> Result<(TurnContext, bool), StoreError> {
        each!(self, s => s.begin_turn(query, eager).await)
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
        each!(self, s => s.set_feedback(tenant_id, agent_id, conversation_id, message_id, rating, now).await)
    }
    async fn append_answer(
        &self,
        message: &StoredMessage,
        agent_id: &str,
        day: &str,
    ) -> Result<(), StoreError> {
        each!(self, s => s.append_answer(message, agent_id, day).await)
    }
    async fn record_usage(
        &self,
        tenant_id: &str,
        agent_id: &str,
        day: &str,
        usage: &Usage,
    ) -> Result<(), StoreError> {
        each!(self, s => s.record_usage(tenant_id, agent_id, day, usage).await)
    }
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        identity_secret: &str,
        signing_secret: &str,
        key: &ApiKey,
    ) -> Result<(), StoreError> {
        each!(self, s => s.create_tenant(tenant, identity_secret, signing_secret, key).await)
    }
    async fn tenants(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Tenant>, StoreError> {
        each!(self, s => s.tenants(after, limit).await)
    }
    async fn tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
        each!(self, s => s.tenant(tenant_id).await)
    }
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let result = each!(self, s => s.update_tenant(tenant).await);
        forget(None);
        forget_keys();
        result
    }
    async fn set_tenant_secret(
        &self,
        tenant_id: &str,
        which: TenantSecret,
        value: &str,
    ) -> Result<(), StoreError> {
        let result = each!(self, s => s.set_tenant_secret(tenant_id, which, value).await);
        forget(None);
        result
    }
    async fn spend(
        &self,
        tenant_id: &str,
        agent_id: Option<&str>,
        month: &str,
    ) -> Result<Spend, StoreError> {
        each!(self, s => s.spend(tenant_id, agent_id, month).await)
    }
    async fn keys_by_lookup(
        &self,
        lookup: &str,
    ) -> Result<Vec<(ApiKey, TenantStatus)>, StoreError> {
        each!(self, s => s.keys_by_lookup(lookup).await)
    }
    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        each!(self, s => s.keys(tenant_id, after, limit).await)
    }
    async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let result = each!(self, s => s.create_key(key).await);
        forget(key.agent_id.as_deref());
        forget_keys();
        result
    }
    async fn revoke_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = each!(self, s => s.revoke_key(tenant_id, key_id, now).await);
        // Which agent the key served is not known here; keys are rarely revoked.
        forget(None);
        forget_keys();
        result
    }
    async fn agents(
        &self,
        tenant_id: &str,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<Agent>, StoreError> {
        each!(self, s => s.agents(tenant_id, after, limit).await)
    }
    async fn create_agent(&self, agent: &Agent) -> Result<bool, StoreError> {
        each!(self, s => s.create_agent(agent).await)
    }
    async fn update_agent(
        &self,
        agent: &Agent,
        expected_version: Option<i64>,
    ) -> Result<AgentUpdate, StoreError> {
        let result = each!(self, s => s.update_agent(agent, expected_version).await);
        forget(Some(&agent.id));
        result
    }
    async fn delete_agent(&self, tenant_id: &str, agent_id: &str) -> Result<bool, StoreError> {
        // The delete switches the agent off first; this isolate refuses it from then on too.
        forget(Some(agent_id));
        let result = each!(self, s => s.delete_agent(tenant_id, agent_id).await);
        forget(Some(agent_id));
        result
    }
    async fn conversations(
        &self,
        tenant_id: &str,
        query: &ConversationQuery,
        limit: u32,
    ) -> Result<Vec<(Conversation, ConversationSummary)>, StoreError> {
        each!(self, s => s.conversations(tenant_id, query, limit).await)
    }
    async fn delete_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<bool, StoreError> {
        each!(self, s => s.delete_conversation(tenant_id, conversation_id).await)
    }
    async fn feedback(
        &self,
        tenant_id: &str,
        query: &FeedbackQuery,
        limit: u32,
    ) -> Result<Vec<FeedbackItem>, StoreError> {
        each!(self, s => s.feedback(tenant_id, query, limit).await)
    }
    async fn usage(&self, tenant_id: &str, since_day: &str) -> Result<Vec<DailyUsage>, StoreError> {
        each!(self, s => s.usage(tenant_id, since_day).await)
    }

    async fn integration(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<Integration>, StoreError> {
        each!(self, s => s.integration(tenant_id, name).await)
    }
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        each!(self, s => s.put_integration(integration).await)
    }
    async fn delete_integration(&self, tenant_id: &str, name: &str) -> Result<bool, StoreError> {
        each!(self, s => s.delete_integration(tenant_id, name).await)
    }
    async fn call(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        each!(self, s => s.call(tenant_id, conversation_id).await)
    }
    async fn save_call(&self, call: &Call) -> Result<(), StoreError> {
        each!(self, s => s.save_call(call).await)
    }

    async fn delete_conversations(
        &self,
        tenant_id: &str,
        which: &Selection<'_>,
    ) -> Result<(Deleted, bool), StoreError> {
        each!(self, s => s.delete_conversations(tenant_id, which).await)
    }
    async fn retention_due(&self, now: i64, limit: u32) -> Result<Vec<Tenant>, StoreError> {
        each!(self, s => s.retention_due(now, limit).await)
    }
    async fn visitor_conversations(
        &self,
        tenant_id: &str,
        visitor_id: &str,
        before: Option<&(i64, String)>,
        limit: u32,
    ) -> Result<Vec<(Conversation, Vec<StoredMessage>)>, StoreError> {
        each!(self, s => s.visitor_conversations(tenant_id, visitor_id, before, limit).await)
    }
}
