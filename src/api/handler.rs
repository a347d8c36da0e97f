//! Entry point of every request: route, run the handler, turn errors into JSON responses.

use std::cell::RefCell;

use serde_json::json;
use worker::{console_error, Context, Env, Request, Response};

use super::routes::{resolve, NoMatch, Route};
use super::{chat, conversations};
use crate::error::ApiError;
use crate::platform;
use crate::store::cache::AgentCache;
use crate::store::d1::D1Store;
use crate::store::{Agent, Store};

/// Handles one request.
pub async fn handle(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let method = req.method().to_string();
    let result = match resolve(&method, &path) {
        Ok(Route::Chat { agent_id }) => chat::handle(req, &env, &ctx, &agent_id).await,
        Ok(Route::Conversation {
            agent_id,
            conversation_id,
        }) => conversations::handle(&env, &agent_id, &conversation_id).await,
        Ok(Route::Health) => health(&env),
        Err(NoMatch::NotFound) => Err(ApiError::NoRoute(path)),
        Err(NoMatch::WrongMethod) => Err(ApiError::MethodNotAllowed(method)),
    };
    match result {
        Ok(response) => Ok(response),
        Err(error) => error_response(&error),
    }
}

/// The JSON error response for `error`.
pub fn error_response(error: &ApiError) -> worker::Result<Response> {
    if let Some(detail) = error.log_detail() {
        console_error!("{}: {}", error.code(), detail);
    }
    let response = Response::from_bytes(error.body().into_bytes())?.with_status(error.status());
    response.headers().set("content-type", "application/json")?;
    Ok(response)
}

thread_local! {
    /// Agents this isolate has loaded recently (see `store::cache`).
    static AGENTS: RefCell<AgentCache> = RefCell::new(AgentCache::default());
}

/// Loads an agent that may chat (from the isolate cache while fresh): 404 when unknown, 403
/// when switched off.
pub async fn load_agent(store: &D1Store, agent_id: &str) -> Result<Agent, ApiError> {
    let now = platform::now_ms();
    let agent = match AGENTS.with(|cache| cache.borrow().get(agent_id, now)) {
        Some(agent) => agent,
        None => {
            let agent = store
                .agent(agent_id)
                .await?
                .ok_or(ApiError::NotFound("Agent"))?;
            AGENTS.with(|cache| cache.borrow_mut().put(agent.clone(), now));
            agent
        }
    };
    if !agent.enabled || !agent.tenant_active {
        return Err(ApiError::Unavailable(
            "This agent is not available right now.".into(),
        ));
    }
    Ok(agent)
}

fn health(env: &Env) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let body = json!({
        "status": "ok",
        "store": "d1",
        "model": { "configured": settings.model_configured() },
    });
    json_response(&body)
}

/// A 200 JSON response.
pub fn json_response(body: &serde_json::Value) -> Result<Response, ApiError> {
    Response::from_json(body).map_err(|e| ApiError::Internal(e.to_string()))
}
