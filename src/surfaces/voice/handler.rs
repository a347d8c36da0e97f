//! The endpoints Twilio calls for a phone agent. Each is checked against the tenant's Auth
//! Token (`X-Twilio-Signature`) before anything else is done for the caller: the incoming-call
//! webhook answers TwiML, the relay upgrades to the WebSocket the call runs on
//! (`session.rs`), and the `<Connect action>` callback records how the call ended and dials a
//! person after a handoff.

use serde_json::{json, Value};
use worker::{console_error, Context, Env, Response, WebSocketPair};

use super::call::{self, after_session, conversation_id, is_call_sid};
use super::session::{self, CallContext};
use super::signature;
use super::token::CallToken;
use super::twiml;
use crate::app::integrations;
use crate::error::ApiError;
use crate::http::request::read_body;
use crate::http::routes::VoiceRoute;
use crate::http::url_parts::{self, form_pairs};
use crate::http::Inbound;
use crate::platform::{self, now_ms};
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::Agent;

/// Largest webhook body (Twilio's are about 1 KB).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// What a valid call to an agent that is off hears.
const NOT_TAKING_CALLS: &str =
    "Sorry, this line is not taking calls right now. Please try again later. Goodbye.";

/// Handles a Twilio request.
pub async fn handle(
    mut req: Inbound,
    env: &Env,
    ctx: &Context,
    route: VoiceRoute,
) -> Result<Response, ApiError> {
    let agent_id = match &route {
        VoiceRoute::Incoming(id) | VoiceRoute::Relay(id) | VoiceRoute::Ended(id) => id.clone(),
    };
    let store = AnyStore::from_env(env)?;
    let agent = store
        .live_agent(&agent_id)
        .await?
        .ok_or(ApiError::NotFound("Agent"))?;
    let twilio = store
        .tenant_scope(&agent.tenant_id)
        .integration("twilio")
        .await?
        .ok_or_else(|| {
            ApiError::NotConfigured(
                "Twilio is not set up for this account: add its credentials under Integrations."
                    .into(),
            )
        })?;
    let auth_token = integrations::text(&twilio, "authToken").unwrap_or_default();
    let url = public_url(&req, env)?;
    let presented = req
        .headers()
        .get(signature::HEADER)
        .ok()
        .flatten()
        .unwrap_or_default();
    let forged = || {
        ApiError::Forbidden(
            "This request is not signed by Twilio with this account's Auth Token.".into(),
        )
    };
    match route {
        VoiceRoute::Relay(_) => {
            let upgrade = req.headers().get("upgrade").ok().flatten();
            if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
                return Err(ApiError::UpgradeRequired);
            }
            // Twilio signs the wss:// address of the TwiML; the worker sees it as http(s)://.
            let ws_url = match url.split_once("://") {
                Some(("http", rest)) => format!("ws://{rest}"),
                Some(("https", rest)) => format!("wss://{rest}"),
                _ => url.clone(),
            };
            if !signature::is_valid(auth_token, &presented, &ws_url, &[]) {
                return Err(forged());
            }
            relay(env, ctx, store, agent)
        }
        VoiceRoute::Incoming(_) | VoiceRoute::Ended(_) => {
            let body = read_body(&mut req, MAX_FORM_BYTES).await?;
            let params = form_pairs(&String::from_utf8_lossy(&body));
            if !signature::is_valid(auth_token, &presented, &url, &params) {
                return Err(forged());
            }
            let field = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            // The token signs for its own account only.
            if field("AccountSid") != integrations::text(&twilio, "accountSid") {
                return Err(forged());
            }
            let call_sid = field("CallSid")
                .filter(|s| is_call_sid(s))
                .ok_or_else(|| ApiError::BadRequest("The request has no valid CallSid.".into()))?;
            if let VoiceRoute::Ended(_) = route {
                return ended(&store, &agent, call_sid, &field).await;
            }
            incoming(env, &agent, &url, call_sid)
        }
    }
}

/// The URL Twilio requested: the request's own, or under `PUBLIC_URL` when the worker is
/// reached through a proxy that rewrites the host (a tunnel to `wrangler dev`).
fn public_url(req: &Inbound, env: &Env) -> Result<String, ApiError> {
    // The raw string: `Request::url()` would parse it with the `url` crate, whose IDNA tables
    // alone are a third of the wasm.
    let url = req.inner().url();
    let own = url.as_str();
    let Some(base) = env
        .var("PUBLIC_URL")
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(own.to_owned());
    };
    let origin_len = url_parts::origin(own).map_or(0, str::len);
    Ok(format!(
        "{}{}",
        base.trim_end_matches('/'),
        &own[origin_len..]
    ))
}

/// The incoming-call webhook: TwiML that connects the call to the relay.
fn incoming(env: &Env, agent: &Agent, url: &str, call_sid: &str) -> Result<Response, ApiError> {
    if !agent.tenant_active {
        return Err(ApiError::Unavailable("This account is suspended.".into()));
    }
    let phone = &agent.config.phone;
    if !agent.enabled || !phone.enabled {
        return xml(twiml::say_and_hang_up(NOT_TAKING_CALLS, &phone.language));
    }
    let settings = platform::settings(env);
    let secret = settings.token_secret()?;
    let token = CallToken::new(&agent.tenant_id, &agent.id, call_sid, now_ms() / 1000).sign(secret);
    // The webhook's own URL, without its query: the relay and the callback sit next to it.
    let base = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/');
    let relay = match base.split_once("://") {
        Some(("http", rest)) => format!("ws://{rest}/relay"),
        Some((_, rest)) => format!("wss://{rest}/relay"),
        None => return Err(ApiError::Internal(format!("no scheme in {base}"))),
    };
    let action = format!("{base}/ended");
    xml(twiml::connect(&action, &relay, phone, &[("token", &token)]))
}

/// The relay WebSocket: accepted at once; the call runs until either side closes it.
fn relay(env: &Env, ctx: &Context, store: AnyStore, agent: Agent) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let token_secret = settings.token_secret()?.to_owned();
    let internal = |e: worker::Error| ApiError::Internal(e.to_string());
    let WebSocketPair { client, server } = WebSocketPair::new().map_err(internal)?;
    server.accept().map_err(internal)?;
    let context = CallContext {
        agent,
        store,
        settings,
        token_secret,
        traces: crate::observe::export::operator_targets(env),
        embeddings: crate::knowledge::client::embedding_settings(env),
    };
    ctx.wait_until(session::run(server, context));
    Response::from_websocket(client).map_err(internal)
}

/// The `<Connect action>` callback: records how the call ended, then `<Dial>` after a
/// handoff, else `<Hangup/>`.
async fn ended<'a>(
    store: &AnyStore,
    agent: &Agent,
    call_sid: &str,
    field: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Response, ApiError> {
    let handoff = field("HandoffData").filter(|d| !d.is_empty());
    let scope = store.tenant_scope(&agent.tenant_id);
    let conversation = conversation_id(call_sid);
    match scope.call(&conversation).await {
        Ok(Some(mut record)) => {
            record.outcome = Some(call::outcome(
                handoff,
                field("ErrorCode"),
                record.outcome.as_deref(),
            ));
            record.ended_at = record.ended_at.or(Some(now_ms()));
            if let Value::Object(details) = &mut record.details {
                for (key, name) in [
                    ("sessionStatus", "SessionStatus"),
                    ("errorCode", "ErrorCode"),
                    ("errorMessage", "ErrorMessage"),
                ] {
                    if let Some(value) = field(name).filter(|v| !v.is_empty()) {
                        details.insert(key.into(), json!(value));
                    }
                }
                if let Some(secs) = field("SessionDuration").and_then(|d| d.parse::<i64>().ok()) {
                    details.insert("durationSecs".into(), json!(secs));
                }
            }
            if let Err(e) = scope.save_call(&record).await {
                console_error!("recording the end of call {call_sid} failed: {e}");
            }
        }
        Ok(None) => {}
        Err(e) => console_error!("reading call {call_sid} failed: {e}"),
    }
    xml(after_session(handoff, &agent.config.phone))
}

fn xml(body: String) -> Result<Response, ApiError> {
    let mut response = Response::ok(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    response
        .headers_mut()
        .set("content-type", twiml::CONTENT_TYPE)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(response)
}
