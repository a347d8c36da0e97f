//! The endpoints a web page calls: every request must carry the agent's publishable key from
//! an allowed origin; chat and history also need the visitor's token (chat issues one on first
//! contact). Rate limits are counted here, before any work.

use serde::Deserialize;
use serde_json::json;
use worker::{Context, Env, Response};

use super::{chat, conversations};
use crate::app::access::{
    check_identity, check_visitor_token, check_widget_caller, publishable_key, usable_agent,
    KEY_HEADER, TOKEN_HEADER,
};
use crate::auth::keys::KeyKind;
use crate::auth::rate_limit::{Check, Scope};
use crate::auth::visitor::{is_valid_user_id, user_hash_matches, Visitor};
use crate::error::ApiError;
use crate::http::request::read_json;
use crate::http::response::json_response;
use crate::http::routes::WidgetRoute;
use crate::http::url_parts;
use crate::http::Inbound;
use crate::http::{log, rate};
use crate::observe::export::{score_feedback, targets_for};
use crate::observe::TargetKind;
use crate::platform::{self, now_ms, random_id};
use crate::store::any::AnyStore;
use crate::store::Agent;
use crate::store::{Rating, Store};

/// Largest body of the visitor endpoint.
const MAX_VISITOR_BODY: usize = 4 * 1024;

/// Handles a widget request.
pub async fn handle(
    req: Inbound,
    env: &Env,
    ctx: &Context,
    route: WidgetRoute,
) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let store = AnyStore::from_env(env)?;
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let agent_id = match route.agent_id() {
        Some(id) => id.to_owned(),
        None => agent_of_key(&store, header(KEY_HEADER).as_deref()).await?,
    };
    let agent = usable_agent(store.live_agent(&agent_id).await?)?;
    check_widget_caller(
        &agent,
        header(KEY_HEADER).as_deref(),
        effective_origin(&req).as_deref(),
    )?;
    let secret = settings.token_secret()?.to_owned();
    let now_secs = now_ms() / 1000;
    let presented =
        check_visitor_token(&agent, header(TOKEN_HEADER).as_deref(), &secret, now_secs)?;
    let ip = header("cf-connecting-ip").unwrap_or_else(|| "unknown".into());
    let limits = &agent.config.limits;
    let ip_check = Check::new(
        Scope::Ip,
        &format!("{}:{ip}", agent.tenant_id),
        limits.ip_per_minute,
    );

    // For the request log, before the agent moves into a handler.
    let who = (agent.tenant_id.clone(), agent.id.clone());
    let response = match route {
        WidgetRoute::Config { .. } | WidgetRoute::KeyConfig => {
            rate::enforce(env, &[ip_check]).await?;
            public_config(&agent)
        }
        WidgetRoute::Visitor { .. } => {
            rate::enforce(env, &[ip_check]).await?;
            let mut req = req;
            let body: VisitorBody = read_json(&mut req, MAX_VISITOR_BODY, true).await?;
            let visitor = identify(&agent, presented, body, now_secs)?;
            json_response(&json!({
                "token": visitor.sign(&secret),
                "visitorId": visitor.visitor_id,
                "verified": visitor.verified,
                "expiresAt": visitor.expires_at * 1000,
            }))
        }
        WidgetRoute::Conversation {
            conversation_id, ..
        } => {
            let visitor = require_token(presented)?;
            check_identity(&agent, Some(&visitor))?;
            rate::enforce(env, &[ip_check]).await?;
            conversations::handle(&store, &agent, &visitor, &conversation_id).await
        }
        WidgetRoute::Feedback {
            conversation_id,
            message_id,
            ..
        } => {
            let visitor = require_token(presented)?;
            check_identity(&agent, Some(&visitor))?;
            rate::enforce(env, &[ip_check]).await?;
            let mut req = req;
            let body: FeedbackBody = read_json(&mut req, MAX_VISITOR_BODY, false).await?;
            let rating = match body.rating.as_deref() {
                None => None,
                Some(text) => Some(Rating::parse(text).ok_or_else(|| {
                    ApiError::invalid("rating", "The rating must be \"up\", \"down\" or null.")
                })?),
            };
            let response = conversations::rate(
                &store,
                &agent,
                &visitor,
                &conversation_id,
                &message_id,
                rating,
            )
            .await?;
            // The rating becomes a Langfuse score on the answer's trace, after the answer.
            let (targets, timeout_ms) = targets_for(env, &store, &agent.tenant_id).await;
            if targets.iter().any(|t| t.kind == TargetKind::Langfuse) {
                let policy = settings.outbound.clone();
                ctx.wait_until(async move {
                    let helpful = rating.map(|r| r == Rating::Up);
                    score_feedback(&policy, &targets, &message_id, helpful, timeout_ms).await;
                });
            }
            Ok(response)
        }
        WidgetRoute::Chat { .. } => {
            check_identity(&agent, presented.as_ref())?;
            let issue = presented.as_ref().is_none_or(|v| v.needs_renewal(now_secs));
            let visitor = match presented {
                Some(v) if issue => v.renewed(now_secs),
                Some(v) => v,
                None => Visitor::anonymous(&agent.tenant_id, random_id("v"), now_secs),
            };
            let checks = [
                ip_check,
                Check::new(
                    Scope::Visitor,
                    &format!("{}:{}", agent.tenant_id, visitor.visitor_id),
                    limits.visitor_per_minute,
                ),
                Check::new(Scope::Tenant, &agent.tenant_id, limits.tenant_per_minute),
            ];
            rate::enforce(env, &checks).await?;
            let response = chat::handle(req, env, ctx, store, agent, &visitor.visitor_id).await?;
            if issue {
                response
                    .headers()
                    .set(TOKEN_HEADER, &visitor.sign(&secret))
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
            Ok(response)
        }
    }?;
    log::tag(response, Some(&who.0), Some(&who.1), None)
}

/// The 401 for an endpoint that needs the visitor's token.
fn require_token(presented: Option<Visitor>) -> Result<Visitor, ApiError> {
    presented.ok_or_else(|| {
        ApiError::unauthorized(
            "unauthorized",
            format!("Send the visitor token in the {TOKEN_HEADER} header."),
        )
    })
}

/// The agent a publishable key belongs to.
async fn agent_of_key(store: &AnyStore, key: Option<&str>) -> Result<String, ApiError> {
    let key = publishable_key(key)?;
    store
        .keys_by_lookup(key)
        .await?
        .into_iter()
        .find(|(k, _)| k.kind == KeyKind::Publishable)
        .and_then(|(k, _)| k.agent_id)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_key",
                "This publishable key is unknown or was revoked.",
            )
        })
}

/// Body of the feedback endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    rating: Option<String>,
}

/// The page's origin: the `Origin` header, or this worker's own origin for a same-origin
/// request (browsers omit `Origin` on same-origin GETs but send `Sec-Fetch-Site`).
fn effective_origin(req: &Inbound) -> Option<String> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    if let Some(origin) = header("origin") {
        return Some(origin);
    }
    if header("sec-fetch-site").as_deref() == Some("same-origin") {
        return url_parts::origin(&req.inner().url()).map(str::to_owned);
    }
    None
}

/// Body of the visitor endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VisitorBody {
    user_id: Option<String>,
    user_hash: Option<String>,
}

/// The visitor a token should name: a verified user when the body proves one, else the
/// presented visitor renewed, else a new anonymous visitor.
fn identify(
    agent: &Agent,
    presented: Option<Visitor>,
    body: VisitorBody,
    now_secs: i64,
) -> Result<Visitor, ApiError> {
    let Some(user_id) = body.user_id else {
        check_identity(agent, presented.as_ref())?;
        return Ok(match presented {
            Some(v) => v.renewed(now_secs),
            None => Visitor::anonymous(&agent.tenant_id, random_id("v"), now_secs),
        });
    };
    if !is_valid_user_id(&user_id) {
        return Err(ApiError::invalid(
            "userId",
            "userId must have 1 to 256 characters and no control characters.",
        ));
    }
    let hash = body.user_hash.unwrap_or_default();
    let verified = agent
        .identity_secret
        .as_deref()
        .is_some_and(|secret| user_hash_matches(&user_id, &hash, secret));
    if !verified {
        return Err(ApiError::unauthorized(
            "identity_invalid",
            "The user could not be verified: userHash must be the hex HMAC-SHA256 of userId with the tenant's identity secret.",
        ));
    }
    Ok(Visitor::verified_user(&agent.tenant_id, &user_id, now_secs))
}

/// What any page may know about an agent: its look, never its prompt, model or tools.
fn public_config(agent: &Agent) -> Result<Response, ApiError> {
    let config = &agent.config;
    json_response(&json!({
        "agentId": agent.id,
        "name": config.name,
        "branding": config.branding,
        "welcomeMessage": config.welcome_message,
        "starterPrompts": config.starter_prompts,
        "requireVerifiedUser": config.require_verified_user,
        "maxMessageChars": config.limits.max_message_chars,
        "locale": config.locale,
        "sendPageContext": config.send_page_context,
    }))
}
