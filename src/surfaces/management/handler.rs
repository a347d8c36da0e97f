//! The management API: operator endpoints (`ADMIN_API_KEY`) and tenant endpoints (a tenant
//! secret key, which scopes every read and write to that tenant: other tenants' ids answer 404).
//! Each route reads its input, runs one `app::management` operation and shows the result.

use serde_json::{json, Map, Value};
use worker::{Env, Response};

use super::views::{
    agent_view, conversation_filters, conversation_list_item, if_match, key_view, mcp_tool_views,
    page_view, paging, tenant_view, MAX_BODY_BYTES,
};
use crate::app::access::{bearer_token, check_operator, tenant_key_lookup, tenant_of_key};
use crate::app::management::{Entropy, Management};
use crate::app::views::tenant_conversation_json;
use crate::app::{calls, integrations, privacy};
use crate::error::ApiError;
use crate::http::request::read_json;
use crate::http::response::{json_response, json_status};
use crate::http::routes::{OperatorRoute, TenantRoute};
use crate::http::url_parts;
use crate::http::Inbound;
use crate::observe::config::target_from_integration;
use crate::observe::export::{deliver_one, forget_tenant_targets, operator_targets};
use crate::observe::{otlp, Redactor};
use crate::platform::{self, now_ms, random_bytes, random_id};
use crate::store::any::AnyStore;
use crate::store::{ConversationQuery, Store};
use crate::tools::mcp_client;
use crate::tools::runner::WorkerTools;
use crate::tools::ToolRunner;

/// The platform's CSPRNG.
struct Platform;

impl Entropy for Platform {
    fn id(&self, prefix: &str) -> String {
        random_id(prefix)
    }
    fn bytes(&self) -> [u8; 32] {
        random_bytes()
    }
}

/// Handles an operator request.
pub async fn operator(
    mut req: Inbound,
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
    let ops = Management {
        store: &store,
        entropy: &Platform,
        outbound: &settings.outbound,
        now: now_ms(),
    };
    match route {
        OperatorRoute::ListTenants => {
            let url = req.inner().url();
            let query = |name: &str| url_parts::query_param(&url, name);
            let paging = paging(query("limit").as_deref(), query("cursor").as_deref())?;
            let page = ops.list_tenants(&paging).await?;
            let items = page.items.iter().map(|t| tenant_view(t, None)).collect();
            json_response(&page_view("tenants", items, page.next.as_ref()))
        }
        OperatorRoute::CreateTenant => {
            let created = ops
                .create_tenant(read_json(&mut req, MAX_BODY_BYTES, false).await?)
                .await?;
            json_status(
                &json!({
                    "tenant": tenant_view(&created.tenant, None),
                    "secretKey": created.secret_key,
                    "identitySecret": created.identity_secret,
                    "webhookSigningSecret": created.signing_secret,
                }),
                201,
            )
        }
        OperatorRoute::GetTenant(id) => {
            let (tenant, spend) = ops.tenant(&id).await?;
            json_response(&json!({ "tenant": tenant_view(&tenant, Some(spend)) }))
        }
        OperatorRoute::UpdateTenant(id) => {
            let patch = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let tenant = ops.update_tenant(&id, patch).await?;
            json_response(&json!({ "tenant": tenant_view(&tenant, None) }))
        }
    }
}

/// Handles a tenant request.
pub async fn tenant(mut req: Inbound, env: &Env, route: TenantRoute) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let authorization = req.headers().get("authorization").ok().flatten();
    let presented = bearer_token(authorization.as_deref())?;
    let lookup = tenant_key_lookup(presented, settings.admin_api_key.as_deref())?;
    let store = AnyStore::from_env(env)?;
    let tenant = tenant_of_key(presented, &store.keys_by_lookup(lookup).await?)?;
    let tenant = tenant.as_str();
    let ops = Management {
        store: &store,
        entropy: &Platform,
        outbound: &settings.outbound,
        now: now_ms(),
    };
    let url = req.inner().url();
    let query = |name: &str| url_parts::query_param(&url, name);
    let paging = || paging(query("limit").as_deref(), query("cursor").as_deref());
    let response = match route {
        TenantRoute::Me => {
            let (tenant, spend) = ops.tenant(tenant).await?;
            json_response(&json!({ "tenant": tenant_view(&tenant, Some(spend)) }))
        }
        TenantRoute::UpdateMe => {
            // As a Value (a type the other handlers read too): bodies are always objects.
            let body: Value = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let empty = Map::new();
            let body = body.as_object().unwrap_or(&empty);
            let (tenant, spend) = ops.set_retention(tenant, body).await?;
            json_response(&json!({ "tenant": tenant_view(&tenant, Some(spend)) }))
        }
        TenantRoute::EraseEndUser => {
            let body: Value = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let empty = Map::new();
            let visitor = privacy::end_user_of_body(body.as_object().unwrap_or(&empty))?;
            let erased = ops.erase_end_user(tenant, &visitor).await?;
            let d = erased.deleted;
            json_response(&json!({
                "visitorId": visitor,
                "deleted": { "conversations": d.conversations, "messages": d.messages, "feedback": d.feedback },
                "complete": erased.complete,
            }))
        }
        TenantRoute::ExportEndUser => {
            let visitor =
                privacy::end_user(query("visitorId").as_deref(), query("userId").as_deref())?;
            let mut page_of = super::views::paging(None, query("cursor").as_deref())?;
            page_of.limit = privacy::export_limit(query("limit").as_deref())?;
            let page = ops.export_end_user(tenant, &visitor, &page_of).await?;
            let mut items = Vec::with_capacity(page.items.len());
            for (conversation, messages) in &page.items {
                let mut view = tenant_conversation_json(conversation, messages);
                view["visitorId"] = json!(conversation.visitor_id);
                view["channel"] = json!(conversation.channel);
                view["pageUrl"] = json!(conversation.page_url);
                // A call record holds the caller's (masked) number: part of what is theirs.
                if let Some(call) = ops.call_of(tenant, conversation).await? {
                    view["call"] = calls::call_view(&call);
                }
                items.push(view);
            }
            let mut view = page_view("conversations", items, page.next.as_ref());
            view["visitorId"] = json!(visitor);
            view["exportedAt"] = json!(ops.now);
            json_response(&view)
        }
        TenantRoute::ListAgents => {
            let page = ops.list_agents(tenant, &paging()?).await?;
            let items = page.items.iter().map(agent_view).collect();
            json_response(&page_view("agents", items, page.next.as_ref()))
        }
        TenantRoute::CreateAgent => {
            let body = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let agent = ops.create_agent(tenant, body).await?;
            json_status(&json!({ "agent": agent_view(&agent) }), 201)
        }
        TenantRoute::GetAgent(id) => {
            let agent = ops.agent(tenant, &id).await?;
            with_etag(
                json_response(&json!({ "agent": agent_view(&agent) }))?,
                agent.version,
            )
        }
        TenantRoute::UpdateAgent(id) => {
            let header = req.headers().get("if-match").ok().flatten();
            let patch = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let agent = ops
                .update_agent(tenant, &id, patch, if_match(header.as_deref()))
                .await?;
            with_etag(
                json_response(&json!({ "agent": agent_view(&agent) }))?,
                agent.version,
            )
        }
        TenantRoute::DuplicateAgent(id) => {
            let body = read_json(&mut req, MAX_BODY_BYTES, true).await?;
            let agent = ops.duplicate_agent(tenant, &id, body).await?;
            json_status(&json!({ "agent": agent_view(&agent) }), 201)
        }
        TenantRoute::TestTool(id, name) => {
            let body = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let trial = ops.tool_trial(tenant, &id, &name, body).await?;
            let tools = WorkerTools::new(
                &trial.config,
                &settings.outbound,
                trial.signing_secret.as_deref(),
            );
            let started = now_ms();
            let result = tools.call(&trial.tool_name, &trial.input).await;
            let ms = now_ms() - started;
            json_response(&match result {
                Ok(output) => json!({ "ok": true, "output": output, "ms": ms }),
                Err(error) => json!({ "ok": false, "error": error, "ms": ms }),
            })
        }
        TenantRoute::TestMcpServer(id) => {
            let body = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let server = ops.mcp_trial(tenant, &id, body).await?;
            let started = now_ms();
            let listed = mcp_client::tools(&settings.outbound, &id, &server, true).await;
            let ms = now_ms() - started;
            json_response(&match listed {
                Ok(tools) => {
                    json!({ "ok": true, "tools": mcp_tool_views(&server, &tools), "ms": ms })
                }
                Err(error) => json!({ "ok": false, "error": error.to_string(), "ms": ms }),
            })
        }
        TenantRoute::DeleteAgent(id) => {
            ops.delete_agent(tenant, &id).await?;
            no_content()
        }
        TenantRoute::ListKeys => {
            let page = ops.list_keys(tenant, &paging()?).await?;
            let items = page.items.iter().map(key_view).collect();
            json_response(&page_view("keys", items, page.next.as_ref()))
        }
        TenantRoute::CreateKey => {
            let body = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let (key, value) = ops.create_key(tenant, body).await?;
            json_status(&json!({ "key": key_view(&key), "value": value }), 201)
        }
        TenantRoute::RevokeKey(id) => {
            ops.revoke_key(tenant, &id).await?;
            no_content()
        }
        TenantRoute::RotateSecret(which) => {
            let value = ops.rotate_secret(tenant, &which).await?;
            json_response(&json!({ "secret": value }))
        }
        TenantRoute::ListConversations => {
            let (rating, channel, status, preview) = conversation_filters(&query)?;
            let filter = ConversationQuery {
                agent_id: query("agentId"),
                search: query("q"),
                rating,
                channel,
                status,
                preview,
                ..ConversationQuery::default()
            };
            let page = ops.list_conversations(tenant, &paging()?, filter).await?;
            let items = page
                .items
                .iter()
                .map(|(c, s)| conversation_list_item(c, s))
                .collect();
            json_response(&page_view("conversations", items, page.next.as_ref()))
        }
        TenantRoute::GetConversation(id) => {
            let (conversation, messages) = ops.conversation(tenant, &id).await?;
            let mut view = tenant_conversation_json(&conversation, &messages);
            view["visitorId"] = json!(conversation.visitor_id);
            if let Some(call) = ops.call_of(tenant, &conversation).await? {
                view["call"] = calls::call_view(&call);
            }
            json_response(&json!({ "conversation": view }))
        }
        TenantRoute::DeleteConversation(id) => {
            ops.delete_conversation(tenant, &id).await?;
            no_content()
        }
        TenantRoute::ListFeedback => {
            let page = ops
                .list_feedback(
                    tenant,
                    &paging()?,
                    query("agentId"),
                    query("rating").as_deref(),
                )
                .await?;
            let items = page.items.iter().map(|f| {
                json!({
                    "conversationId": f.conversation_id, "messageId": f.message_id,
                    "agentId": f.agent_id, "rating": f.rating.as_str(),
                    "feedbackAt": f.feedback_at, "answer": f.answer, "question": f.question,
                })
            });
            json_response(&page_view("feedback", items.collect(), page.next.as_ref()))
        }
        TenantRoute::Usage => {
            let (since, usage) = ops.usage(tenant, query("since")).await?;
            json_response(&json!({ "since": since, "usage": usage }))
        }
        TenantRoute::GetIntegration(name) => {
            let integration = ops.integration(tenant, &name).await?;
            json_response(&json!({ "integration": integrations::view(&integration) }))
        }
        TenantRoute::PutIntegration(name) => {
            let body = read_json(&mut req, MAX_BODY_BYTES, false).await?;
            let integration = ops.put_integration(tenant, &name, body).await?;
            forget_tenant_targets(tenant);
            json_response(&json!({ "integration": integrations::view(&integration) }))
        }
        TenantRoute::DeleteIntegration(name) => {
            ops.delete_integration(tenant, &name).await?;
            forget_tenant_targets(tenant);
            no_content()
        }
        TenantRoute::TestIntegration(name) => {
            let integration = ops.integration(tenant, &name).await?;
            let target =
                target_from_integration(&name, &integration.settings, &integration.secrets)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "The {name} integration sends no traces to test."
                        ))
                    })?;
            let bytes = platform::random_bytes();
            let (mut trace_id, mut span_id) = ([0u8; 16], [0u8; 8]);
            trace_id.copy_from_slice(&bytes[..16]);
            span_id.copy_from_slice(&bytes[16..24]);
            let trace = otlp::test_trace(trace_id, span_id, now_ms(), tenant);
            let redactor = Redactor::new(target.secrets());
            let body = otlp::encode(&trace, None, &redactor);
            let (_, timeout_ms) = operator_targets(env);
            let delivery = deliver_one(&settings.outbound, &target, &body, timeout_ms).await;
            json_response(&json!({
                "ok": delivery.error.is_none(),
                "status": delivery.status,
                "attempts": delivery.attempts,
                "error": delivery.error,
                "traceId": crate::auth::crypto::hex(&trace_id),
                "endpoint": target.host(),
            }))
        }
    }?;
    crate::http::log::tag(response, Some(tenant), None, None)
}

/// Adds the agent's version as its `ETag` (what `If-Match` must name to change it).
fn with_etag(response: Response, version: i64) -> Result<Response, ApiError> {
    response
        .headers()
        .set("etag", &format!("\"{version}\""))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(response)
}

fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_status(204))
}
