//! The management API: operator endpoints (`ADMIN_API_KEY`) and tenant endpoints (a tenant
//! secret key, which scopes every read and write to that tenant: other tenants' ids answer 404).

use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::access::{bearer_token, check_operator, tenant_key_lookup, tenant_of_key};
use super::conversations::conversation_json;
use super::handler::{forget_agents, json_response, json_status, read_json};
use super::management::{
    agent_view, check_id, key_view, parse_config, patch_config, tenant_view, AgentPatch, NewAgent,
    NewKey, NewTenant, TenantPatch, MAX_BODY_BYTES,
};
use super::routes::{OperatorRoute, TenantRoute};
use super::url_parts;
use crate::auth::crypto::hex;
use crate::auth::keys::{self, KeyKind};
use crate::dates::month_start;
use crate::error::ApiError;
use crate::platform::{self, now_ms, random_bytes, random_id};
use crate::store::any::AnyStore;
use crate::store::{Agent, ApiKey, Store, TenantSecret};

/// Most conversations one list call returns.
const MAX_LIST: u32 = 200;

/// Handles an operator request.
pub async fn operator(
    mut req: Request,
    env: &Env,
    route: OperatorRoute,
) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let authorization = req.headers().get("authorization").ok().flatten();
    check_operator(
        bearer_token(authorization.as_deref())?,
        settings.admin_api_key.as_deref(),
    )?;
    let store = AnyStore::from_env(env)?;
    let now = now_ms();
    match route {
        OperatorRoute::ListTenants => {
            let tenants: Vec<Value> = store
                .tenants()
                .await?
                .iter()
                .map(|t| tenant_view(t, None))
                .collect();
            json_response(&json!({ "tenants": tenants }))
        }
        OperatorRoute::CreateTenant => {
            let body: NewTenant = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let tenant = body.into_tenant(random_id("t"), now)?;
            if store.tenant(&tenant.id).await?.is_some() {
                return Err(ApiError::Conflict(
                    "A tenant with this id exists; choose another.".into(),
                ));
            }
            let (key, value) = new_key(&tenant.id, KeyKind::Secret, None, "First key", now);
            let identity = secret("idsec");
            let signing = secret("whsec");
            store
                .create_tenant(&tenant, &identity, &signing, &key)
                .await?;
            json_status(
                &json!({
                    "tenant": tenant_view(&tenant, None),
                    "secretKey": value,
                    "identitySecret": identity,
                    "webhookSigningSecret": signing,
                }),
                201,
            )
        }
        OperatorRoute::GetTenant(id) => {
            let tenant = store
                .tenant(&id)
                .await?
                .ok_or(ApiError::NotFound("Tenant"))?;
            let spend = store.spend(&id, None, &month_start(now)).await?;
            json_response(&json!({ "tenant": tenant_view(&tenant, Some(spend)) }))
        }
        OperatorRoute::UpdateTenant(id) => {
            let patch: TenantPatch = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let mut tenant = store
                .tenant(&id)
                .await?
                .ok_or(ApiError::NotFound("Tenant"))?;
            patch.apply(&mut tenant)?;
            store.update_tenant(&tenant).await?;
            forget_agents(None);
            json_response(&json!({ "tenant": tenant_view(&tenant, None) }))
        }
    }
}

/// Handles a tenant request.
pub async fn tenant(mut req: Request, env: &Env, route: TenantRoute) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let authorization = req.headers().get("authorization").ok().flatten();
    let presented = bearer_token(authorization.as_deref())?;
    let lookup = tenant_key_lookup(presented, settings.admin_api_key.as_deref())?;
    let store = AnyStore::from_env(env)?;
    let tenant_id = tenant_of_key(presented, &store.keys_by_lookup(lookup).await?)?;
    let now = now_ms();
    let url = req.inner().url();
    let query = |name: &str| url_parts::query_param(&url, name);
    match route {
        TenantRoute::Me => {
            let tenant = store
                .tenant(&tenant_id)
                .await?
                .ok_or(ApiError::NotFound("Tenant"))?;
            let spend = store.spend(&tenant_id, None, &month_start(now)).await?;
            json_response(&json!({ "tenant": tenant_view(&tenant, Some(spend)) }))
        }
        TenantRoute::ListAgents => {
            let agents: Vec<Value> = store
                .agents(&tenant_id)
                .await?
                .iter()
                .map(agent_view)
                .collect();
            json_response(&json!({ "agents": agents }))
        }
        TenantRoute::CreateAgent => {
            let body: NewAgent = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let id = check_id(body.id.as_deref())?.unwrap_or_else(|| random_id("agt"));
            let config = parse_config(body.config, &settings.webhook_allow_hosts)?;
            let mut agent = Agent {
                id,
                tenant_id: tenant_id.clone(),
                config,
                enabled: body.enabled.unwrap_or(true),
                tenant_active: true,
                created_at: now,
                updated_at: now,
                ..Agent::default()
            };
            if !store.create_agent(&agent).await? {
                return Err(ApiError::Conflict(
                    "An agent with this id exists; choose another.".into(),
                ));
            }
            // Every agent starts with a publishable key, so the embed snippet works at once.
            let (key, value) = new_key(
                &tenant_id,
                KeyKind::Publishable,
                Some(&agent.id),
                "Default",
                now,
            );
            store.create_key(&key).await?;
            agent.publishable_keys.push(value);
            json_status(&json!({ "agent": agent_view(&agent) }), 201)
        }
        TenantRoute::GetAgent(id) => {
            let agent = tenant_agent(&store, &tenant_id, &id).await?;
            json_response(&json!({ "agent": agent_view(&agent) }))
        }
        TenantRoute::UpdateAgent(id) => {
            let patch: AgentPatch = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let mut agent = tenant_agent(&store, &tenant_id, &id).await?;
            if let Some(config) = patch.config {
                agent.config = patch_config(&agent.config, config, &settings.webhook_allow_hosts)?;
            }
            if let Some(enabled) = patch.enabled {
                agent.enabled = enabled;
            }
            agent.updated_at = now;
            if !store.update_agent(&agent).await? {
                return Err(ApiError::NotFound("Agent"));
            }
            forget_agents(Some(&agent.id));
            json_response(&json!({ "agent": agent_view(&agent) }))
        }
        TenantRoute::DeleteAgent(id) => {
            if !store.delete_agent(&tenant_id, &id).await? {
                return Err(ApiError::NotFound("Agent"));
            }
            forget_agents(Some(&id));
            no_content()
        }
        TenantRoute::ListKeys => {
            let keys: Vec<Value> = store.keys(&tenant_id).await?.iter().map(key_view).collect();
            json_response(&json!({ "keys": keys }))
        }
        TenantRoute::CreateKey => {
            let body: NewKey = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let (kind, agent_id) = body.checked()?;
            if let Some(agent_id) = agent_id {
                tenant_agent(&store, &tenant_id, agent_id).await?;
            }
            let (key, value) = new_key(&tenant_id, kind, agent_id, &body.name, now);
            store.create_key(&key).await?;
            forget_agents(agent_id);
            json_status(&json!({ "key": key_view(&key), "value": value }), 201)
        }
        TenantRoute::RevokeKey(id) => {
            if !store.revoke_key(&tenant_id, &id, now).await? {
                return Err(ApiError::NotFound("Key"));
            }
            forget_agents(None);
            no_content()
        }
        TenantRoute::RotateSecret(which) => {
            let (which, value) = match which.as_str() {
                "identity" => (TenantSecret::Identity, secret("idsec")),
                "webhook-signing" => (TenantSecret::Signing, secret("whsec")),
                _ => return Err(ApiError::NotFound("Secret")),
            };
            store.set_tenant_secret(&tenant_id, which, &value).await?;
            forget_agents(None);
            json_response(&json!({ "secret": value }))
        }
        TenantRoute::ListConversations => {
            let agent_id = query("agentId");
            let limit = query("limit")
                .and_then(|l| l.parse::<u32>().ok())
                .unwrap_or(50)
                .clamp(1, MAX_LIST);
            let list: Vec<Value> = store
                .conversations(&tenant_id, agent_id.as_deref(), limit)
                .await?
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id, "agentId": c.agent_id, "visitorId": c.visitor_id,
                        "createdAt": c.created_at, "updatedAt": c.updated_at,
                    })
                })
                .collect();
            json_response(&json!({ "conversations": list }))
        }
        TenantRoute::GetConversation(id) => {
            let (conversation, messages) = store
                .conversation(&id)
                .await?
                .filter(|(c, _)| c.tenant_id == tenant_id)
                .ok_or(ApiError::NotFound("Conversation"))?;
            let mut view = conversation_json(&conversation, &messages);
            view["visitorId"] = json!(conversation.visitor_id);
            json_response(&json!({ "conversation": view }))
        }
        TenantRoute::Usage => {
            let since = query("since").unwrap_or_else(|| month_start(now));
            if !is_day(&since) {
                return Err(ApiError::invalid(
                    "since",
                    "since must be a date such as 2026-11-01.",
                ));
            }
            let usage = store.usage(&tenant_id, &since).await?;
            json_response(&json!({ "since": since, "usage": usage }))
        }
    }
}

/// A tenant's agent, or 404 (also when it belongs to another tenant).
async fn tenant_agent(
    store: &AnyStore,
    tenant_id: &str,
    agent_id: &str,
) -> Result<Agent, ApiError> {
    store
        .agent(agent_id)
        .await?
        .filter(|a| a.tenant_id == tenant_id)
        .ok_or(ApiError::NotFound("Agent"))
}

fn new_key(
    tenant_id: &str,
    kind: KeyKind,
    agent_id: Option<&str>,
    name: &str,
    now: i64,
) -> (ApiKey, String) {
    let generated = keys::generate(kind, &random_bytes());
    let key = ApiKey {
        id: random_id("key"),
        tenant_id: tenant_id.to_owned(),
        agent_id: agent_id.map(str::to_owned),
        kind,
        name: name.trim().to_owned(),
        lookup: generated.lookup,
        hash: generated.hash,
        masked: generated.masked,
        created_at: now,
        revoked_at: None,
    };
    (key, generated.value)
}

/// A new 256-bit secret, such as `whsec_…`.
fn secret(prefix: &str) -> String {
    format!("{prefix}_{}", hex(&random_bytes()))
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

fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_status(204))
}
