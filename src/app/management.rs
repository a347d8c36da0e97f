//! The management use cases, one function per operation of the operator's and tenants' API:
//! what each checks, reads and writes, over any `Store`. The management surface parses the
//! request into these inputs and shows what they return; the rules live here and are tested on
//! the host against the in-memory store.

use serde_json::{json, Map, Value};

mod fields;

use self::fields::{read_by_fields, Fields, FromFields};
use crate::agent::validate::{keep_secrets, validate};
use crate::agent::{AgentConfig, McpServer};
use crate::auth::crypto::hex;
use crate::auth::keys::{self, KeyKind};
use crate::dates::{month_start, utc_month};
use crate::error::ApiError;
use crate::ids::is_valid_client_id;
use crate::outbound::Policy;
use crate::store::scoped::ScopedStore;
use crate::store::{
    Agent, AgentUpdate, ApiKey, Conversation, ConversationQuery, ConversationSummary, DailyUsage,
    FeedbackItem, FeedbackQuery, KeyScope, Rating, Spend, Store, StoredMessage, Tenant,
    TenantSecret, TenantStatus,
};

/// Where fresh ids and secrets come from: the platform's CSPRNG in the worker.
pub trait Entropy {
    /// A fresh id such as `agt_4fT…`.
    fn id(&self, prefix: &str) -> String;
    /// 32 random bytes.
    fn bytes(&self) -> [u8; 32];
}

/// A page of a listing: the items, and the position the next page starts after.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// `(time, id)` of the last item, when more follow.
    pub next: Option<(i64, String)>,
}

/// Which page of a listing: at most `limit` items after `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct Paging {
    /// Page size.
    pub limit: u32,
    /// The position the page starts after.
    pub after: Option<(i64, String)>,
}

/// A tenant just created, with the secrets shown this once.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedTenant {
    /// The tenant.
    pub tenant: Tenant,
    /// Its first secret key.
    pub secret_key: String,
    /// Verifies end-user hashes.
    pub identity_secret: String,
    /// Signs webhook calls.
    pub signing_secret: String,
}

/// One webhook tool call to try, as `TestTool` prepared it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolTrial {
    /// The agent's config with the edited tool in place.
    pub config: AgentConfig,
    /// The tool to call.
    pub tool_name: String,
    /// Its arguments.
    pub input: Value,
    /// The tenant's webhook signing secret.
    pub signing_secret: Option<String>,
}

/// The management operations, for one request.
pub struct Management<'a, S> {
    /// The store.
    pub store: &'a S,
    /// Fresh ids and secrets.
    pub entropy: &'a dyn Entropy,
    /// The rules webhook URLs and headers must pass.
    pub outbound: &'a Policy,
    /// Now, ms since the epoch.
    pub now: i64,
}

impl<S: Store> Management<'_, S> {
    /// The tenants, oldest first (operator).
    pub async fn list_tenants(&self, paging: &Paging) -> Result<Page<Tenant>, ApiError> {
        // One more than asked tells whether there is a next page.
        let rows = self
            .store
            .tenants(paging.after.as_ref(), paging.limit + 1)
            .await?;
        Ok(page(
            rows,
            |t| (t.created_at, t.id.clone()),
            None,
            paging.limit,
        ))
    }

    /// Creates a tenant with its secrets and first secret key (operator).
    pub async fn create_tenant(&self, body: NewTenant) -> Result<CreatedTenant, ApiError> {
        let tenant = body.into_tenant(self.entropy.id("t"), self.now)?;
        if self.store.tenant(&tenant.id).await?.is_some() {
            return Err(ApiError::Conflict(
                "A tenant with this id exists; choose another.".into(),
            ));
        }
        let (key, secret_key) = self.new_key(&tenant.id, KeyKind::Secret, None, "First key");
        let identity_secret = self.secret("idsec");
        let signing_secret = self.secret("whsec");
        self.store
            .create_tenant(&tenant, &identity_secret, &signing_secret, &key)
            .await?;
        Ok(CreatedTenant {
            tenant,
            secret_key,
            identity_secret,
            signing_secret,
        })
    }

    /// A tenant with this month's spend (operator, and a tenant for itself).
    pub async fn tenant(&self, tenant_id: &str) -> Result<(Tenant, Spend), ApiError> {
        let tenant = self
            .store
            .tenant(tenant_id)
            .await?
            .ok_or(ApiError::NotFound("Tenant"))?;
        let spend = self
            .store
            .tenant_scope(tenant_id)
            .spend(None, &utc_month(self.now))
            .await?;
        Ok((tenant, spend))
    }

    /// Changes a tenant's name, standing or cap (operator).
    pub async fn update_tenant(
        &self,
        tenant_id: &str,
        patch: TenantPatch,
    ) -> Result<Tenant, ApiError> {
        let mut tenant = self
            .store
            .tenant(tenant_id)
            .await?
            .ok_or(ApiError::NotFound("Tenant"))?;
        patch.apply(&mut tenant)?;
        self.store.update_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// A tenant's agents, oldest first.
    pub async fn list_agents(
        &self,
        tenant_id: &str,
        paging: &Paging,
    ) -> Result<Page<Agent>, ApiError> {
        let rows = self
            .store
            .tenant_scope(tenant_id)
            .agents(paging.after.as_ref(), paging.limit + 1)
            .await?;
        Ok(page(
            rows,
            |a| (a.created_at, a.id.clone()),
            None,
            paging.limit,
        ))
    }

    /// Creates an agent with a first publishable key (so its embed snippet works at once).
    pub async fn create_agent(&self, tenant_id: &str, body: NewAgent) -> Result<Agent, ApiError> {
        let id = check_id(body.id.as_deref())?.unwrap_or_else(|| self.entropy.id("agt"));
        let config = parse_config(body.config, self.outbound)?;
        self.insert_agent(tenant_id, id, config, body.enabled.unwrap_or(true))
            .await
    }

    /// A tenant's agent, or 404 (also when it belongs to another tenant).
    pub async fn agent(&self, tenant_id: &str, agent_id: &str) -> Result<Agent, ApiError> {
        self.store
            .tenant_scope(tenant_id)
            .agent(agent_id)
            .await?
            .ok_or(ApiError::NotFound("Agent"))
    }

    /// Applies a patch to an agent at the version the caller loaded (`If-Match`, or
    /// `expectedUpdatedAt` in the body): 428 without one, 412 when it is no longer current.
    pub async fn update_agent(
        &self,
        tenant_id: &str,
        agent_id: &str,
        patch: AgentPatch,
        if_match: Option<i64>,
    ) -> Result<Agent, ApiError> {
        let mut agent = self.agent(tenant_id, agent_id).await?;
        let expected = expected_version(if_match, patch.expected_updated_at, &agent)?;
        if let Some(config) = patch.config {
            agent.config = patch_config(&agent.config, config, self.outbound)?;
        }
        if let Some(enabled) = patch.enabled {
            agent.enabled = enabled;
        }
        // Strictly later than the time it replaces, so `expectedUpdatedAt` stays unambiguous.
        agent.updated_at = self.now.max(agent.updated_at + 1);
        match self
            .store
            .tenant_scope(tenant_id)
            .update_agent(&agent, Some(expected))
            .await?
        {
            AgentUpdate::Saved => {
                agent.version = expected + 1;
                Ok(agent)
            }
            AgentUpdate::Missing => Err(ApiError::NotFound("Agent")),
            AgentUpdate::Stale => Err(ApiError::Stale),
        }
    }

    /// Copies an agent's config and header secrets under a new id, with its own key.
    pub async fn duplicate_agent(
        &self,
        tenant_id: &str,
        agent_id: &str,
        body: Duplicate,
    ) -> Result<Agent, ApiError> {
        let source = self.agent(tenant_id, agent_id).await?;
        let mut config = source.config.clone();
        config.name = match body.name {
            Some(name) => name,
            None => format!("{} (copy)", source.config.name)
                .chars()
                .take(100)
                .collect(),
        };
        let config = parse_config(
            serde_json::to_string(&config)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null),
            self.outbound,
        )
        .map_err(|e| match e {
            ApiError::Invalid { field, message } if field == "config.name" => {
                ApiError::invalid("name", message)
            }
            other => other,
        })?;
        let copy_id = check_id(body.id.as_deref())?.unwrap_or_else(|| self.entropy.id("agt"));
        self.insert_agent(tenant_id, copy_id, config, source.enabled)
            .await
    }

    /// Prepares one call of a webhook tool: the stored tool, or an unsaved edit (checked like a
    /// saved one, with stored header secrets kept).
    pub async fn tool_trial(
        &self,
        tenant_id: &str,
        agent_id: &str,
        tool_name: &str,
        body: ToolTest,
    ) -> Result<ToolTrial, ApiError> {
        let agent = self.agent(tenant_id, agent_id).await?;
        let mut config = agent.config.clone();
        match body.tool {
            Some(tool) => {
                let mut edited = parse_edit(
                    json!({ "tools": { "webhooks": [tool] } }),
                    self.outbound,
                    "config.tools.webhooks[0]",
                    "tool",
                )?;
                keep_secrets(&mut edited, &agent.config);
                config.tools = edited.tools;
                if config.tools.webhooks.first().map(|t| t.name.as_str()) != Some(tool_name) {
                    return Err(ApiError::invalid(
                        "tool.name",
                        "The tool's name must be the one in the path.",
                    ));
                }
            }
            None if config.tools.webhooks.iter().any(|t| t.name == tool_name) => {}
            None => return Err(ApiError::NotFound("Tool")),
        }
        let input = match body.input {
            Value::Null => json!({}),
            Value::Object(map) => Value::Object(map),
            _ => return Err(ApiError::invalid("input", "input must be a JSON object.")),
        };
        Ok(ToolTrial {
            config,
            tool_name: tool_name.to_owned(),
            input,
            signing_secret: agent.signing_secret,
        })
    }

    /// The MCP server to try: a saved one by name, or an unsaved edit (checked like a saved one,
    /// with the saved server's header secrets kept).
    pub async fn mcp_trial(
        &self,
        tenant_id: &str,
        agent_id: &str,
        body: McpTest,
    ) -> Result<McpServer, ApiError> {
        let agent = self.agent(tenant_id, agent_id).await?;
        match (body.server, body.name) {
            (Some(server), _) => {
                let mut edited = parse_edit(
                    json!({ "mcpServers": [server] }),
                    self.outbound,
                    "config.mcpServers[0]",
                    "server",
                )?;
                keep_secrets(&mut edited, &agent.config);
                edited
                    .mcp_servers
                    .pop()
                    .ok_or_else(|| ApiError::invalid("server", "Send the server to try."))
            }
            (None, Some(name)) => agent
                .config
                .mcp_servers
                .into_iter()
                .find(|s| s.name == name)
                .ok_or(ApiError::NotFound("MCP server")),
            (None, None) => Err(ApiError::invalid(
                "name",
                "Name a saved MCP server, or send one as server.",
            )),
        }
    }

    /// Deletes an agent with its conversations and keys.
    pub async fn delete_agent(&self, tenant_id: &str, agent_id: &str) -> Result<(), ApiError> {
        if !self
            .store
            .tenant_scope(tenant_id)
            .delete_agent(agent_id)
            .await?
        {
            return Err(ApiError::NotFound("Agent"));
        }
        Ok(())
    }

    /// A tenant's keys, newest first.
    pub async fn list_keys(
        &self,
        tenant_id: &str,
        paging: &Paging,
    ) -> Result<Page<ApiKey>, ApiError> {
        // Newest first, as listed: the cursor orders by (-created_at, id).
        let rows = self
            .store
            .tenant_scope(tenant_id)
            .keys(paging.after.as_ref(), paging.limit + 1)
            .await?;
        Ok(page(
            rows,
            |k| (-k.created_at, k.id.clone()),
            None,
            paging.limit,
        ))
    }

    /// Creates a key; the value is returned this once.
    pub async fn create_key(
        &self,
        tenant_id: &str,
        body: NewKey,
    ) -> Result<(ApiKey, String), ApiError> {
        let (kind, agent_id) = body.checked()?;
        if let Some(agent_id) = agent_id {
            self.agent(tenant_id, agent_id).await?;
        }
        let scope = body.scope()?;
        // The agents an API key lists must be the tenant's now (one read each, at most
        // MAX_KEY_AGENTS); an agent deleted later simply stops answering to it.
        for agent_id in scope.agents.iter().flatten() {
            match self.agent(tenant_id, agent_id).await {
                Err(ApiError::NotFound(_)) => {
                    return Err(ApiError::invalid(
                        "agentIds",
                        format!("This tenant has no agent {agent_id}."),
                    ))
                }
                other => other?,
            };
        }
        let (mut key, value) = self.new_key(tenant_id, kind, agent_id, &body.name);
        key.scope = scope;
        self.store.tenant_scope(tenant_id).create_key(&key).await?;
        Ok((key, value))
    }

    /// Revokes a tenant's live key.
    pub async fn revoke_key(&self, tenant_id: &str, key_id: &str) -> Result<(), ApiError> {
        if !self
            .store
            .tenant_scope(tenant_id)
            .revoke_key(key_id, self.now)
            .await?
        {
            return Err(ApiError::NotFound("Key"));
        }
        Ok(())
    }

    /// Replaces the identity (`identity`) or webhook signing (`webhook-signing`) secret; the
    /// new value is returned this once.
    pub async fn rotate_secret(&self, tenant_id: &str, which: &str) -> Result<String, ApiError> {
        let (which, value) = match which {
            "identity" => (TenantSecret::Identity, self.secret("idsec")),
            "webhook-signing" => (TenantSecret::Signing, self.secret("whsec")),
            _ => return Err(ApiError::NotFound("Secret")),
        };
        self.store
            .tenant_scope(tenant_id)
            .set_secret(which, &value)
            .await?;
        Ok(value)
    }

    /// A tenant's conversations with their inbox summaries, most recently active first,
    /// narrowed by `filter` (one agent's, those whose messages contain `search`, a rating,
    /// channel, last status, preview or not); `filter.before` is taken from `paging`.
    pub async fn list_conversations(
        &self,
        tenant_id: &str,
        paging: &Paging,
        filter: ConversationQuery,
    ) -> Result<Page<(Conversation, ConversationSummary)>, ApiError> {
        let search = filter
            .search
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        if search.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(ApiError::invalid("q", "Search for at most 200 characters."));
        }
        // No message holds them, and a NUL would reach the full-text index's query parser.
        if search
            .as_ref()
            .is_some_and(|q| q.chars().any(char::is_control))
        {
            return Err(ApiError::invalid(
                "q",
                "The search text must not contain control characters.",
            ));
        }
        let filter = ConversationQuery {
            search,
            before: paging.after.clone(),
            ..filter
        };
        // One more than asked tells whether there is a next page.
        let rows = self
            .store
            .tenant_scope(tenant_id)
            .conversations(&filter, paging.limit + 1)
            .await?;
        Ok(page(
            rows,
            |(c, _)| (c.updated_at, c.id.clone()),
            None,
            paging.limit,
        ))
    }

    /// A tenant's conversation with its messages.
    pub async fn conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<(Conversation, Vec<StoredMessage>), ApiError> {
        self.store
            .tenant_scope(tenant_id)
            .conversation(conversation_id)
            .await?
            .ok_or(ApiError::NotFound("Conversation"))
    }

    /// Deletes a tenant's conversation with its messages.
    pub async fn delete_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<(), ApiError> {
        if !self
            .store
            .tenant_scope(tenant_id)
            .delete_conversation(conversation_id)
            .await?
        {
            return Err(ApiError::NotFound("Conversation"));
        }
        Ok(())
    }

    /// A tenant's rated answers, newest rating first, optionally one agent's or one rating.
    pub async fn list_feedback(
        &self,
        tenant_id: &str,
        paging: &Paging,
        agent_id: Option<String>,
        rating: Option<&str>,
    ) -> Result<Page<FeedbackItem>, ApiError> {
        let rating = match rating {
            None | Some("") => None,
            Some(text) => Some(
                Rating::parse(text)
                    .ok_or_else(|| ApiError::invalid("rating", "rating must be up or down."))?,
            ),
        };
        let filter = FeedbackQuery {
            agent_id,
            rating,
            before: paging.after.clone(),
        };
        let rows = self
            .store
            .tenant_scope(tenant_id)
            .feedback(&filter, paging.limit + 1)
            .await?;
        Ok(page(
            rows,
            |f| (f.feedback_at, f.message_id.clone()),
            None,
            paging.limit,
        ))
    }

    /// Usage per agent and day since `since` (`YYYY-MM-DD`; this month when absent).
    pub async fn usage(
        &self,
        tenant_id: &str,
        since: Option<String>,
    ) -> Result<(String, Vec<DailyUsage>), ApiError> {
        let since = since.unwrap_or_else(|| month_start(self.now));
        if !is_day(&since) {
            return Err(ApiError::invalid(
                "since",
                "since must be a date such as 2026-11-01.",
            ));
        }
        let usage = self.store.tenant_scope(tenant_id).usage(&since).await?;
        Ok((since, usage))
    }

    async fn insert_agent(
        &self,
        tenant_id: &str,
        id: String,
        config: AgentConfig,
        enabled: bool,
    ) -> Result<Agent, ApiError> {
        let mut agent = Agent {
            id,
            tenant_id: tenant_id.to_owned(),
            config,
            enabled,
            tenant_active: true,
            created_at: self.now,
            updated_at: self.now,
            version: 1,
            ..Agent::default()
        };
        if !self
            .store
            .tenant_scope(tenant_id)
            .create_agent(&agent)
            .await?
        {
            return Err(ApiError::Conflict(
                "An agent with this id exists; choose another.".into(),
            ));
        }
        let (key, value) =
            self.new_key(tenant_id, KeyKind::Publishable, Some(&agent.id), "Default");
        self.store.tenant_scope(tenant_id).create_key(&key).await?;
        agent.publishable_keys.push(value);
        Ok(agent)
    }

    fn new_key(
        &self,
        tenant_id: &str,
        kind: KeyKind,
        agent_id: Option<&str>,
        name: &str,
    ) -> (ApiKey, String) {
        let generated = keys::generate(kind, &self.entropy.bytes());
        let key = ApiKey {
            id: self.entropy.id("key"),
            tenant_id: tenant_id.to_owned(),
            agent_id: agent_id.map(str::to_owned),
            kind,
            name: name.trim().to_owned(),
            lookup: generated.lookup,
            hash: generated.hash,
            masked: generated.masked,
            created_at: self.now,
            revoked_at: None,
            scope: Default::default(),
        };
        (key, generated.value)
    }

    /// A new 256-bit secret, such as `whsec_…`.
    fn secret(&self, prefix: &str) -> String {
        format!("{prefix}_{}", hex(&self.entropy.bytes()))
    }
}

/// The version a stale-edit check expects: the one `If-Match` names, else the stored version
/// when `expectedUpdatedAt` is the stored `updatedAt` (the store then compares the version, so
/// a save in between is still caught). Neither: 428; an old `updatedAt`: 412.
pub fn expected_version(
    if_match: Option<i64>,
    expected_updated_at: Option<i64>,
    stored: &Agent,
) -> Result<i64, ApiError> {
    match (if_match, expected_updated_at) {
        (Some(version), _) if version == stored.version => Ok(version),
        (None, Some(at)) if at == stored.updated_at => Ok(stored.version),
        (Some(_), _) | (None, Some(_)) => Err(ApiError::Stale),
        (None, None) => Err(ApiError::PreconditionRequired),
    }
}

fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// One page of an in-memory listing ordered by `(time, id)`: the items after `cursor`, at most
/// `limit`, and the position the next page starts after, when there is one.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (i64, String),
    cursor: Option<&(i64, String)>,
    limit: u32,
) -> Page<T> {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| cursor.is_none_or(|c| key(item) > *c))
        .collect();
    let more = rest.len() > limit as usize;
    rest.truncate(limit as usize);
    let next = more.then(|| rest.last().map(&key)).flatten();
    Page { items: rest, next }
}

/// `POST /api/admin/tenants`.
#[derive(Debug)]
pub struct NewTenant {
    /// Optional id (letters, digits, `_`, `-`); generated when absent.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Monthly spend cap.
    pub monthly_spend_cap: Option<f64>,
}

/// `PATCH /api/admin/tenants/{id}`.
#[derive(Debug)]
pub struct TenantPatch {
    /// New name.
    pub name: Option<String>,
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// New cap; `null` removes it.
    pub monthly_spend_cap: Option<Option<f64>>,
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "name",
            "The name must have 1 to 100 characters.",
        ));
    }
    Ok(name.to_owned())
}

fn check_cap(cap: Option<f64>) -> Result<Option<f64>, ApiError> {
    match cap {
        Some(c) if !(c >= 0.0 && c.is_finite()) => Err(ApiError::invalid(
            "monthlySpendCap",
            "The spend cap must be a number of 0 or more.",
        )),
        other => Ok(other),
    }
}

/// Checks an optional client-chosen id.
pub fn check_id(id: Option<&str>) -> Result<Option<String>, ApiError> {
    match id {
        None => Ok(None),
        Some(id) if is_valid_client_id(id) && id.len() <= 64 => Ok(Some(id.to_owned())),
        Some(_) => Err(ApiError::invalid(
            "id",
            "Ids have 1-64 letters, digits, '_' or '-'.",
        )),
    }
}

impl NewTenant {
    /// The tenant to create, with `id` used when the body named none.
    pub fn into_tenant(self, generated_id: String, now: i64) -> Result<Tenant, ApiError> {
        Ok(Tenant {
            id: check_id(self.id.as_deref())?.unwrap_or(generated_id),
            name: check_name(&self.name)?,
            status: TenantStatus::Active,
            monthly_spend_cap: check_cap(self.monthly_spend_cap)?,
            retention_days: None,
            created_at: now,
        })
    }
}

impl TenantPatch {
    /// Applies the patch to `tenant`.
    pub fn apply(self, tenant: &mut Tenant) -> Result<(), ApiError> {
        if let Some(name) = self.name {
            tenant.name = check_name(&name)?;
        }
        if let Some(status) = self.status {
            tenant.status = TenantStatus::parse(&status).ok_or_else(|| {
                ApiError::invalid("status", "The status must be \"active\" or \"suspended\".")
            })?;
        }
        if let Some(cap) = self.monthly_spend_cap {
            tenant.monthly_spend_cap = check_cap(cap)?;
        }
        Ok(())
    }
}

/// `POST /api/admin/agents`.
#[derive(Debug)]
pub struct NewAgent {
    /// Optional id; generated when absent.
    pub id: Option<String>,
    /// The whole config (missing fields take defaults).
    pub config: Value,
    /// Switched on (default true).
    pub enabled: Option<bool>,
}

/// `PATCH /api/admin/agents/{id}`.
#[derive(Debug)]
pub struct AgentPatch {
    /// A JSON merge patch (RFC 7386) over the stored config.
    pub config: Option<Value>,
    /// Switch.
    pub enabled: Option<bool>,
    /// The version being changed, when the client cannot send `If-Match`.
    pub expected_updated_at: Option<i64>,
}

/// `POST /api/admin/agents/{id}/duplicate`.
#[derive(Debug, Default)]
pub struct Duplicate {
    /// Id of the copy; generated when absent.
    pub id: Option<String>,
    /// Name of the copy; "<name> (copy)" when absent.
    pub name: Option<String>,
}

/// What `POST /api/admin/agents/{id}/mcp-servers/test` sends.
#[derive(Debug)]
pub struct McpTest {
    /// A saved server, by name.
    pub name: Option<String>,
    /// An unsaved server to try instead.
    pub server: Option<Value>,
}

/// `POST /api/admin/agents/{id}/tools/{name}/test`.
#[derive(Debug)]
pub struct ToolTest {
    /// Arguments for the call.
    pub input: Value,
    /// An edited, unsaved definition to try instead of the stored one.
    pub tool: Option<Value>,
}

/// Checks one unsaved part of a config (a tool, a server) as a saved config would be checked,
/// naming a wrong field from the body's point of view (`config.mcpServers[0].url` → `server.url`).
fn parse_edit(
    value: Value,
    outbound: &Policy,
    at: &str,
    named: &str,
) -> Result<AgentConfig, ApiError> {
    parse_config(value, outbound).map_err(|e| match e {
        ApiError::Invalid { field, message } => ApiError::Invalid {
            field: if field == "config" {
                named.into()
            } else {
                field.replace(at, named)
            },
            message,
        },
        other => other,
    })
}

/// Reads a config from JSON, naming the field serde stumbled on.
pub fn parse_config(value: Value, outbound: &Policy) -> Result<AgentConfig, ApiError> {
    if !value.is_object() && !value.is_null() {
        return Err(ApiError::invalid(
            "config",
            "The config must be a JSON object.",
        ));
    }
    let value = if value.is_null() { json!({}) } else { value };
    // Through text: one deserializer for configs (the store reads them from text too).
    let config: AgentConfig = serde_json::from_str(&value.to_string())
        .map_err(|e| ApiError::invalid("config", format!("The config is not valid: {e}")))?;
    validate(&config, outbound)
        .map_err(|e| ApiError::invalid(format!("config.{}", e.field), e.message))?;
    Ok(config)
}

/// Applies a merge patch to a stored config, keeping header secrets sent back redacted.
pub fn patch_config(
    stored: &AgentConfig,
    patch: Value,
    outbound: &Policy,
) -> Result<AgentConfig, ApiError> {
    let mut merged = serde_json::to_string(stored)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .unwrap_or_else(|| json!({}));
    merge_patch(&mut merged, patch);
    let mut config = parse_config(merged, outbound)?;
    keep_secrets(&mut config, stored);
    Ok(config)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(&key);
            } else {
                merge_patch(map.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

/// Most agents one API key may list (more: leave the list out, for every agent).
pub const MAX_KEY_AGENTS: usize = 50;
/// The largest per-key rate limit, in requests a minute.
pub const MAX_KEY_PER_MINUTE: u32 = 6000;

/// `POST /api/admin/keys`.
#[derive(Debug)]
pub struct NewKey {
    /// `secret`, `publishable` or `api`.
    pub kind: String,
    /// The agent of a publishable key.
    pub agent_id: Option<String>,
    /// A label.
    pub name: String,
    /// The agents an API key may call; absent or null: every agent of the tenant.
    pub agent_ids: Option<Vec<String>>,
    /// Whether web pages may call `/v1` with this API key (CORS).
    pub browser: bool,
    /// The API key's own rate limit, requests a minute.
    pub per_minute: Option<u32>,
}

impl NewKey {
    /// What an API key may reach; refuses scope settings on the other kinds.
    pub fn scope(&self) -> Result<KeyScope, ApiError> {
        let kind = KeyKind::parse(&self.kind);
        let is_api = kind == Some(KeyKind::Api);
        if kind == Some(KeyKind::Mcp) {
            if self.agent_ids.is_some() {
                return Err(ApiError::invalid(
                    "agentIds",
                    "An MCP key reaches one agent (agentId) or the whole tenant (no agentId).",
                ));
            }
            if self.browser {
                return Err(ApiError::invalid(
                    "browser",
                    "browser applies to API keys (kind \"api\") only.",
                ));
            }
            if self
                .per_minute
                .is_some_and(|n| n == 0 || n > MAX_KEY_PER_MINUTE)
            {
                return Err(ApiError::invalid(
                    "perMinute",
                    format!("perMinute must be 1 to {MAX_KEY_PER_MINUTE}."),
                ));
            }
            return Ok(KeyScope {
                agents: self.agent_id.clone().map(|id| vec![id]),
                browser: false,
                per_minute: self.per_minute,
            });
        }
        let only_api = |field: &str| {
            ApiError::invalid(
                field,
                format!("{field} applies to API keys (kind \"api\") only."),
            )
        };
        if !is_api {
            if self.agent_ids.is_some() {
                return Err(only_api("agentIds"));
            }
            if self.browser {
                return Err(only_api("browser"));
            }
            if self.per_minute.is_some() {
                return Err(only_api("perMinute"));
            }
            return Ok(KeyScope::default());
        }
        if let Some(agents) = &self.agent_ids {
            if agents.is_empty() || agents.len() > MAX_KEY_AGENTS {
                return Err(ApiError::invalid(
                    "agentIds",
                    format!(
                        "List 1 to {MAX_KEY_AGENTS} agents, or leave agentIds out for every agent."
                    ),
                ));
            }
            if let Some(bad) = agents.iter().find(|a| !is_valid_client_id(a)) {
                return Err(ApiError::invalid(
                    "agentIds",
                    format!("{bad:?} is not an agent id."),
                ));
            }
        }
        if self
            .per_minute
            .is_some_and(|n| n == 0 || n > MAX_KEY_PER_MINUTE)
        {
            return Err(ApiError::invalid(
                "perMinute",
                format!("perMinute must be 1 to {MAX_KEY_PER_MINUTE}."),
            ));
        }
        let mut agents = self.agent_ids.clone();
        if let Some(list) = &mut agents {
            list.sort();
            list.dedup();
        }
        Ok(KeyScope {
            agents,
            browser: self.browser,
            per_minute: self.per_minute,
        })
    }

    /// The kind asked for, with the agent a publishable key needs.
    pub fn checked(&self) -> Result<(KeyKind, Option<&str>), ApiError> {
        let kind = KeyKind::parse(&self.kind).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                "The kind must be \"secret\", \"publishable\", \"api\" or \"mcp\".",
            )
        })?;
        if self.name.chars().count() > 100 {
            return Err(ApiError::invalid(
                "name",
                "The name may have at most 100 characters.",
            ));
        }
        match (kind, self.agent_id.as_deref()) {
            (KeyKind::Publishable, None) => Err(ApiError::invalid(
                "agentId",
                "A publishable key belongs to one agent: send its agentId.",
            )),
            (KeyKind::Secret, Some(_)) => Err(ApiError::invalid(
                "agentId",
                "Secret keys belong to the whole tenant: leave agentId out.",
            )),
            (KeyKind::Api, Some(_)) => Err(ApiError::invalid(
                "agentId",
                "API keys name their agents in agentIds (or leave it out for every agent).",
            )),
            (kind, agent) => Ok((kind, agent)),
        }
    }
}

impl FromFields for NewTenant {
    const KNOWN: &'static [&'static str] = &["id", "name", "monthlySpendCap"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        Ok(Self {
            id: f.text("id")?,
            name: f.required_text("name")?,
            monthly_spend_cap: f.number("monthlySpendCap")?,
        })
    }
}

impl FromFields for TenantPatch {
    const KNOWN: &'static [&'static str] = &["name", "status", "monthlySpendCap"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        Ok(Self {
            name: f.text("name")?,
            status: f.text("status")?,
            monthly_spend_cap: f.nullable_number("monthlySpendCap")?,
        })
    }
}

impl FromFields for NewAgent {
    const KNOWN: &'static [&'static str] = &["id", "config", "enabled"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        Ok(Self {
            id: f.text("id")?,
            config: f.value("config"),
            enabled: f.flag("enabled")?,
        })
    }
}

impl FromFields for AgentPatch {
    const KNOWN: &'static [&'static str] = &["config", "enabled", "expectedUpdatedAt"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        let config = f.value("config");
        Ok(Self {
            config: (!config.is_null()).then_some(config),
            enabled: f.flag("enabled")?,
            expected_updated_at: f.integer("expectedUpdatedAt")?,
        })
    }
}

impl FromFields for Duplicate {
    const KNOWN: &'static [&'static str] = &["id", "name"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        Ok(Self {
            id: f.text("id")?,
            name: f.text("name")?,
        })
    }
}

impl FromFields for McpTest {
    const KNOWN: &'static [&'static str] = &["name", "server"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        let server = f.value("server");
        Ok(Self {
            name: f.text("name")?,
            server: (!server.is_null()).then_some(server),
        })
    }
}

impl FromFields for ToolTest {
    const KNOWN: &'static [&'static str] = &["input", "tool"];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        let tool = f.value("tool");
        Ok(Self {
            input: f.value("input"),
            tool: (!tool.is_null()).then_some(tool),
        })
    }
}

impl FromFields for NewKey {
    const KNOWN: &'static [&'static str] = &[
        "kind",
        "agentId",
        "name",
        "agentIds",
        "browser",
        "perMinute",
    ];
    fn from_fields(f: &Fields<'_>) -> Result<Self, String> {
        Ok(Self {
            kind: f.required_text("kind")?,
            agent_id: f.text("agentId")?,
            name: f.text("name")?.unwrap_or_default(),
            agent_ids: f.texts("agentIds")?,
            browser: f.flag("browser")?.unwrap_or(false),
            per_minute: f.count("perMinute")?,
        })
    }
}

read_by_fields!(
    NewTenant,
    TenantPatch,
    NewAgent,
    AgentPatch,
    Duplicate,
    McpTest,
    ToolTest,
    NewKey
);

#[cfg(test)]
mod tests;
