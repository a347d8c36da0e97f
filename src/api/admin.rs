//! The management API: operator endpoints (`ADMIN_API_KEY`) and tenant endpoints (a tenant
//! secret key, which scopes every read and write to that tenant: other tenants' ids answer 404).

use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::access::{bearer_token, check_operator, tenant_key_lookup, tenant_of_key};
use super::conversations::conversation_json;
use super::handler::{forget_agents, json_response, json_status, read_json};
use super::management::{
    agent_view, check_id, conversation_filters, conversation_list_item, decode_cursor, if_match,
    key_view, page, page_limit, parse_config, patch_config, tenant_view, AgentPatch, Duplicate,
    NewAgent, NewKey, NewTenant, TenantPatch, ToolTest, MAX_BODY_BYTES,
};
use super::routes::{OperatorRoute, TenantRoute};
use super::url_parts;
use crate::agent::validate::keep_secrets;
use crate::auth::crypto::hex;
use crate::auth::keys::{self, KeyKind};
use crate::dates::month_start;
use crate::error::ApiError;
use crate::platform::{self, now_ms, random_bytes, random_id};
use crate::store::any::AnyStore;
use crate::store::{
    Agent, AgentUpdate, ApiKey, ConversationQuery, FeedbackQuery, Rating, Store, TenantSecret,
};
use crate::tools::runner::WorkerTools;
use crate::tools::ToolRunner;

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
            let (limit, cursor) = paging(&query)?;
            let (agents, next) = page(
                store.agents(&tenant_id).await?,
                |a| (a.created_at, a.id.clone()),
                cursor.as_ref(),
                limit,
            );
            let agents: Vec<Value> = agents.iter().map(agent_view).collect();
            json_response(&json!({ "agents": agents, "nextCursor": next }))
        }
        TenantRoute::CreateAgent => {
            let body: NewAgent = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let id = check_id(body.id.as_deref())?.unwrap_or_else(|| random_id("agt"));
            let config = parse_config(body.config, &settings.webhook_allow_hosts)?;
            let enabled = body.enabled.unwrap_or(true);
            let agent = create_agent(&store, &tenant_id, id, config, enabled, now).await?;
            json_status(&json!({ "agent": agent_view(&agent) }), 201)
        }
        TenantRoute::GetAgent(id) => {
            let agent = tenant_agent(&store, &tenant_id, &id).await?;
            with_etag(
                json_response(&json!({ "agent": agent_view(&agent) }))?,
                &agent,
            )
        }
        TenantRoute::UpdateAgent(id) => {
            let header = req.headers().get("if-match").ok().flatten();
            let patch: AgentPatch = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let mut agent = tenant_agent(&store, &tenant_id, &id).await?;
            let expected = if_match(header.as_deref())
                .or(patch.expected_updated_at)
                .ok_or(ApiError::PreconditionRequired)?;
            if expected != agent.updated_at {
                return Err(ApiError::Stale);
            }
            if let Some(config) = patch.config {
                agent.config = patch_config(&agent.config, config, &settings.webhook_allow_hosts)?;
            }
            if let Some(enabled) = patch.enabled {
                agent.enabled = enabled;
            }
            // Strictly later than the version it replaces, so two saves never share an ETag.
            agent.updated_at = now.max(expected + 1);
            match store.update_agent(&agent, Some(expected)).await? {
                AgentUpdate::Saved => {}
                AgentUpdate::Missing => return Err(ApiError::NotFound("Agent")),
                AgentUpdate::Stale => return Err(ApiError::Stale),
            }
            forget_agents(Some(&agent.id));
            with_etag(
                json_response(&json!({ "agent": agent_view(&agent) }))?,
                &agent,
            )
        }
        TenantRoute::DuplicateAgent(id) => {
            let body: Duplicate = read_json(&mut req, MAX_BODY_BYTES, true).await?;
            let source = tenant_agent(&store, &tenant_id, &id).await?;
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
                &settings.webhook_allow_hosts,
            )
            .map_err(|e| match e {
                ApiError::Invalid { field, message } if field == "config.name" => {
                    ApiError::invalid("name", message)
                }
                other => other,
            })?;
            let copy_id = check_id(body.id.as_deref())?.unwrap_or_else(|| random_id("agt"));
            let agent =
                create_agent(&store, &tenant_id, copy_id, config, source.enabled, now).await?;
            json_status(&json!({ "agent": agent_view(&agent) }), 201)
        }
        TenantRoute::TestTool(id, name) => {
            let body: ToolTest = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let agent = tenant_agent(&store, &tenant_id, &id).await?;
            let mut config = agent.config.clone();
            let tool_name = match body.tool {
                // An unsaved edit: checked like a saved one, with stored header secrets kept.
                Some(tool) => {
                    let mut edited = parse_config(
                        json!({ "tools": { "webhooks": [tool] } }),
                        &settings.webhook_allow_hosts,
                    )
                    .map_err(|e| match e {
                        ApiError::Invalid { field, message } => ApiError::Invalid {
                            field: if field == "config" {
                                "tool".into()
                            } else {
                                field.replace("config.tools.webhooks[0]", "tool")
                            },
                            message,
                        },
                        other => other,
                    })?;
                    keep_secrets(&mut edited, &agent.config);
                    config.tools = edited.tools;
                    if config.tools.webhooks.first().map(|t| t.name.as_str()) != Some(&name) {
                        return Err(ApiError::invalid(
                            "tool.name",
                            "The tool's name must be the one in the path.",
                        ));
                    }
                    name
                }
                None if config.tools.webhooks.iter().any(|t| t.name == name) => name,
                None => return Err(ApiError::NotFound("Tool")),
            };
            let tools = WorkerTools::new(
                &config,
                &settings.webhook_allow_hosts,
                agent.signing_secret.as_deref(),
            );
            let input = match body.input {
                Value::Null => json!({}),
                Value::Object(map) => Value::Object(map),
                _ => return Err(ApiError::invalid("input", "input must be a JSON object.")),
            };
            let started = now_ms();
            let result = tools.call(&tool_name, &input).await;
            let ms = now_ms() - started;
            json_response(&match result {
                Ok(output) => json!({ "ok": true, "output": output, "ms": ms }),
                Err(error) => json!({ "ok": false, "error": error, "ms": ms }),
            })
        }
        TenantRoute::DeleteAgent(id) => {
            if !store.delete_agent(&tenant_id, &id).await? {
                return Err(ApiError::NotFound("Agent"));
            }
            forget_agents(Some(&id));
            no_content()
        }
        TenantRoute::ListKeys => {
            let (limit, cursor) = paging(&query)?;
            // Newest first, as listed: the cursor orders by (-created_at, id).
            let (keys, next) = page(
                store.keys(&tenant_id).await?,
                |k| (-k.created_at, k.id.clone()),
                cursor.as_ref(),
                limit,
            );
            let keys: Vec<Value> = keys.iter().map(key_view).collect();
            json_response(&json!({ "keys": keys, "nextCursor": next }))
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
            let (limit, before) = paging(&query)?;
            let search = query("q")
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty());
            if search.as_ref().is_some_and(|q| q.chars().count() > 200) {
                return Err(ApiError::invalid("q", "Search for at most 200 characters."));
            }
            let (rating, channel, status, preview) = conversation_filters(&query)?;
            let filter = ConversationQuery {
                agent_id: query("agentId"),
                search,
                before,
                rating,
                channel,
                status,
                preview,
            };
            // One more than asked tells whether there is a next page.
            let (list, next) = page(
                store.conversations(&tenant_id, &filter, limit + 1).await?,
                |(c, _)| (c.updated_at, c.id.clone()),
                None,
                limit,
            );
            let list: Vec<Value> = list
                .iter()
                .map(|(c, s)| conversation_list_item(c, s))
                .collect();
            json_response(&json!({ "conversations": list, "nextCursor": next }))
        }
        TenantRoute::DeleteConversation(id) => {
            if !store.delete_conversation(&tenant_id, &id).await? {
                return Err(ApiError::NotFound("Conversation"));
            }
            no_content()
        }
        TenantRoute::ListFeedback => {
            let (limit, before) = paging(&query)?;
            let rating = match query("rating").as_deref() {
                None | Some("") => None,
                Some(text) => Some(
                    Rating::parse(text)
                        .ok_or_else(|| ApiError::invalid("rating", "rating must be up or down."))?,
                ),
            };
            let filter = FeedbackQuery {
                agent_id: query("agentId"),
                rating,
                before,
            };
            let (items, next) = page(
                store.feedback(&tenant_id, &filter, limit + 1).await?,
                |f| (f.feedback_at, f.message_id.clone()),
                None,
                limit,
            );
            let items: Vec<Value> = items
                .iter()
                .map(|f| {
                    json!({
                        "conversationId": f.conversation_id, "messageId": f.message_id,
                        "agentId": f.agent_id, "rating": f.rating.as_str(),
                        "feedbackAt": f.feedback_at, "answer": f.answer, "question": f.question,
                    })
                })
                .collect();
            json_response(&json!({ "feedback": items, "nextCursor": next }))
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

/// Creates an agent with a first publishable key (so its embed snippet works at once).
async fn create_agent(
    store: &AnyStore,
    tenant_id: &str,
    id: String,
    config: crate::agent::AgentConfig,
    enabled: bool,
    now: i64,
) -> Result<Agent, ApiError> {
    let mut agent = Agent {
        id,
        tenant_id: tenant_id.to_owned(),
        config,
        enabled,
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
    let (key, value) = new_key(
        tenant_id,
        KeyKind::Publishable,
        Some(&agent.id),
        "Default",
        now,
    );
    store.create_key(&key).await?;
    agent.publishable_keys.push(value);
    Ok(agent)
}

/// `?limit=` and `?cursor=` of a list call.
fn paging(
    query: &impl Fn(&str) -> Option<String>,
) -> Result<(u32, Option<(i64, String)>), ApiError> {
    let limit = page_limit(query("limit").as_deref())?;
    let cursor = match query("cursor").filter(|c| !c.is_empty()) {
        Some(cursor) => Some(decode_cursor(&cursor)?),
        None => None,
    };
    Ok((limit, cursor))
}

/// Adds the agent's version as its `ETag` (what `If-Match` must name to change it).
fn with_etag(response: Response, agent: &Agent) -> Result<Response, ApiError> {
    response
        .headers()
        .set("etag", &format!("\"{}\"", agent.updated_at))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(response)
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
