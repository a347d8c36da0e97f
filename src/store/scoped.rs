//! The tenant-scoped handle: the only door to a tenant's rows. Everything the management API
//! and the chat surfaces read or write for a tenant goes through `Scoped`, which names the
//! tenant in every call, so no caller can forget the filter. `clippy.toml` refuses direct calls
//! of the `Store` methods it wraps anywhere else.
#![allow(clippy::disallowed_methods)]

mod knowledge;

use super::{
    Agent, AgentUpdate, ApiKey, Conversation, ConversationQuery, ConversationSummary, DailyUsage,
    Deleted, EagerStart, FeedbackItem, FeedbackQuery, Rating, Selection, Spend, Store, StoreError,
    StoredMessage, Tenant, TenantSecret, TurnContext, TurnQuery,
};
use super::{Call, Integration};
use crate::llm::Usage;
use std::future::Future;

/// One tenant's view of a store.
pub struct Scoped<'a, S> {
    store: &'a S,
    tenant_id: &'a str,
}

/// Opens the tenant-scoped handle of any store.
pub trait ScopedStore: Store + Sized {
    /// The rows of `tenant_id`, and only those.
    fn tenant_scope<'a>(&'a self, tenant_id: &'a str) -> Scoped<'a, Self> {
        Scoped {
            store: self,
            tenant_id,
        }
    }
}

impl<S: Store> ScopedStore for S {}

fn foreign(what: &str) -> StoreError {
    StoreError::Rejected(format!("{what} belongs to another tenant"))
}

impl<S: Store> Scoped<'_, S> {
    /// The tenant this handle reads and writes.
    pub fn tenant_id(&self) -> &str {
        self.tenant_id
    }

    /// The tenant itself.
    pub fn tenant<'x>(&'x self) -> impl Future<Output = Result<Option<Tenant>, StoreError>> + 'x {
        self.store.tenant(self.tenant_id)
    }

    /// Spend in `month` of the tenant (and one agent, when given).
    pub fn spend<'x>(
        &'x self,
        agent_id: Option<&'x str>,
        month: &'x str,
    ) -> impl Future<Output = Result<Spend, StoreError>> + 'x {
        self.store.spend(self.tenant_id, agent_id, month)
    }

    /// Replaces one of the tenant's secrets.
    pub fn set_secret<'x>(
        &'x self,
        which: TenantSecret,
        value: &'x str,
    ) -> impl Future<Output = Result<(), StoreError>> + 'x {
        self.store.set_tenant_secret(self.tenant_id, which, value)
    }

    /// One of the tenant's agents (`None` also for another tenant's).
    pub async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        Ok(self
            .store
            .agent(agent_id)
            .await?
            .filter(|a| a.tenant_id == self.tenant_id))
    }

    /// At most `limit` of the tenant's agents after `after`, oldest first.
    pub fn agents<'x>(
        &'x self,
        after: Option<&'x (i64, String)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Agent>, StoreError>> + 'x {
        self.store.agents(self.tenant_id, after, limit)
    }

    /// Creates an agent of this tenant; false when the id is taken.
    pub async fn create_agent(&self, agent: &Agent) -> Result<bool, StoreError> {
        if agent.tenant_id != self.tenant_id {
            return Err(foreign("The agent"));
        }
        self.store.create_agent(agent).await
    }

    /// Saves one of the tenant's agents if it is still at `expected_version`.
    pub async fn update_agent(
        &self,
        agent: &Agent,
        expected_version: Option<i64>,
    ) -> Result<AgentUpdate, StoreError> {
        if agent.tenant_id != self.tenant_id {
            return Ok(AgentUpdate::Missing);
        }
        self.store.update_agent(agent, expected_version).await
    }

    /// Deletes one of the tenant's agents; false when it has none with this id.
    pub fn delete_agent<'x>(
        &'x self,
        agent_id: &'x str,
    ) -> impl Future<Output = Result<bool, StoreError>> + 'x {
        self.store.delete_agent(self.tenant_id, agent_id)
    }

    /// At most `limit` of the tenant's keys after `after` (a `(-created_at, id)`), newest first.
    pub fn keys<'x>(
        &'x self,
        after: Option<&'x (i64, String)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + 'x {
        self.store.keys(self.tenant_id, after, limit)
    }

    /// Stores a key of this tenant.
    pub async fn create_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        if key.tenant_id != self.tenant_id {
            return Err(foreign("The key"));
        }
        self.store.create_key(key).await
    }

    /// Revokes one of the tenant's live keys; false when it has none with this id.
    pub fn revoke_key<'x>(
        &'x self,
        key_id: &'x str,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + 'x {
        self.store.revoke_key(self.tenant_id, key_id, now)
    }

    /// What a turn of one of the tenant's agents reads (the query names this tenant).
    pub async fn turn_context(&self, query: &TurnQuery<'_>) -> Result<TurnContext, StoreError> {
        if query.tenant_id != self.tenant_id {
            return Err(foreign("The turn"));
        }
        self.store.turn_context(query).await
    }

    /// `turn_context`, storing the tenant's `eager` start in the same round trip when the read
    /// allows it (`Store::begin_turn`).
    pub async fn begin_turn(
        &self,
        query: &TurnQuery<'_>,
        eager: &EagerStart,
    ) -> Result<(TurnContext, bool), StoreError> {
        if query.tenant_id != self.tenant_id
            || eager.conversation.tenant_id != self.tenant_id
            || eager.message.tenant_id != self.tenant_id
        {
            return Err(foreign("The turn"));
        }
        if query.resent_message_id != Some(eager.message.id.as_str())
            || query
                .conversation_id
                .is_some_and(|id| id != eager.conversation.id)
            || eager.message.conversation_id != eager.conversation.id
        {
            return Err(StoreError::Rejected(
                "an eager start's read must name its conversation and its message as resent".into(),
            ));
        }
        self.store.begin_turn(query, eager).await
    }

    /// One of the tenant's conversations with its messages.
    pub fn conversation<'x>(
        &'x self,
        conversation_id: &'x str,
    ) -> impl Future<Output = Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError>> + 'x
    {
        self.store.conversation(self.tenant_id, conversation_id)
    }

    /// The tenant's conversations with their inbox summaries.
    pub fn conversations<'x>(
        &'x self,
        query: &'x ConversationQuery,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(Conversation, ConversationSummary)>, StoreError>> + 'x
    {
        self.store.conversations(self.tenant_id, query, limit)
    }

    /// Deletes one of the tenant's conversations.
    pub fn delete_conversation<'x>(
        &'x self,
        conversation_id: &'x str,
    ) -> impl Future<Output = Result<bool, StoreError>> + 'x {
        self.store
            .delete_conversation(self.tenant_id, conversation_id)
    }

    /// Deletes one batch of the tenant's conversations `which` selects; true when none are left.
    pub fn delete_conversations<'x>(
        &'x self,
        which: &'x Selection<'x>,
    ) -> impl Future<Output = Result<(Deleted, bool), StoreError>> + 'x {
        self.store.delete_conversations(self.tenant_id, which)
    }

    /// A page of one visitor's conversations of the tenant, with their messages.
    pub fn visitor_conversations<'x>(
        &'x self,
        visitor_id: &'x str,
        before: Option<&'x (i64, String)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(Conversation, Vec<StoredMessage>)>, StoreError>> + 'x
    {
        self.store
            .visitor_conversations(self.tenant_id, visitor_id, before, limit)
    }

    /// Rates an answer of one of the tenant's agents' conversations.
    pub fn set_feedback<'x>(
        &'x self,
        agent_id: &'x str,
        conversation_id: &'x str,
        message_id: &'x str,
        rating: Option<Rating>,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + 'x {
        self.store.set_feedback(
            self.tenant_id,
            agent_id,
            conversation_id,
            message_id,
            rating,
            now,
        )
    }

    /// The tenant's rated answers.
    pub fn feedback<'x>(
        &'x self,
        query: &'x FeedbackQuery,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<FeedbackItem>, StoreError>> + 'x {
        self.store.feedback(self.tenant_id, query, limit)
    }

    /// The tenant's usage per agent and day since `since_day`.
    pub fn usage<'x>(
        &'x self,
        since_day: &'x str,
    ) -> impl Future<Output = Result<Vec<DailyUsage>, StoreError>> + 'x {
        self.store.usage(self.tenant_id, since_day)
    }

    /// Adds the usage of a turn that stores no answer.
    pub fn record_usage<'x>(
        &'x self,
        agent_id: &'x str,
        day: &'x str,
        usage: &'x Usage,
    ) -> impl Future<Output = Result<(), StoreError>> + 'x {
        self.store
            .record_usage(self.tenant_id, agent_id, day, usage)
    }

    /// The tenant's integration by name.
    pub fn integration<'x>(
        &'x self,
        name: &'x str,
    ) -> impl Future<Output = Result<Option<Integration>, StoreError>> + 'x {
        self.store.integration(self.tenant_id, name)
    }

    /// Creates or replaces an integration of this tenant.
    pub async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        if integration.tenant_id != self.tenant_id {
            return Err(foreign("The integration"));
        }
        self.store.put_integration(integration).await
    }

    /// Removes the tenant's integration; false when it had none by that name.
    pub fn delete_integration<'x>(
        &'x self,
        name: &'x str,
    ) -> impl Future<Output = Result<bool, StoreError>> + 'x {
        self.store.delete_integration(self.tenant_id, name)
    }

    /// The call one of the tenant's phone conversations is.
    pub fn call<'x>(
        &'x self,
        conversation_id: &'x str,
    ) -> impl Future<Output = Result<Option<Call>, StoreError>> + 'x {
        self.store.call(self.tenant_id, conversation_id)
    }

    /// Saves the record of one of the tenant's calls.
    pub async fn save_call(&self, call: &Call) -> Result<(), StoreError> {
        if call.tenant_id != self.tenant_id {
            return Err(foreign("The call"));
        }
        self.store.save_call(call).await
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::auth::keys::KeyKind;
    use crate::store::memory::MemoryStore;
    use crate::store::TenantStatus;

    fn tenant(id: &str) -> Tenant {
        Tenant {
            id: id.into(),
            name: id.into(),
            status: TenantStatus::Active,
            monthly_spend_cap: None,
            retention_days: None,
            created_at: 0,
        }
    }

    fn key(id: &str, tenant_id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            tenant_id: tenant_id.into(),
            agent_id: None,
            kind: KeyKind::Secret,
            name: String::new(),
            lookup: format!("sk_live_{id}"),
            hash: "0".repeat(64),
            masked: String::new(),
            created_at: 0,
            revoked_at: None,
            scope: Default::default(),
        }
    }

    #[test]
    fn a_handle_sees_and_changes_only_its_tenants_rows() {
        let store = MemoryStore::new();
        for t in ["a", "b"] {
            block_on(store.create_tenant(&tenant(t), "i", "s", &key(&format!("k{t}"), t)))
                .expect("tenant");
        }
        let (a, b) = (store.tenant_scope("a"), store.tenant_scope("b"));
        let agent = Agent {
            id: "bot".into(),
            tenant_id: "a".into(),
            ..Agent::default()
        };
        assert!(
            block_on(b.create_agent(&agent)).is_err(),
            "b cannot create a's agent"
        );
        assert!(block_on(a.create_agent(&agent)).expect("created"));
        assert!(block_on(a.agent("bot")).expect("read").is_some());
        assert!(
            block_on(b.agent("bot")).expect("read").is_none(),
            "b does not see it"
        );
        assert_eq!(
            block_on(b.update_agent(&agent, None)).expect("answer"),
            AgentUpdate::Missing
        );
        assert!(!block_on(b.delete_agent("bot")).expect("answer"));
        assert!(block_on(b.create_key(&key("k2", "a"))).is_err());
        assert!(!block_on(b.revoke_key("ka", 1)).expect("answer"));
        assert_eq!(
            block_on(b.keys(None, 100)).expect("keys").len(),
            1,
            "only b's own key"
        );
        assert!(block_on(a.delete_agent("bot")).expect("deleted"));
        assert_eq!(a.tenant_id(), "a");
    }
}
