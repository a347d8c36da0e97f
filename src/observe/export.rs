//! Sends a turn's export after the answer, under the outbound policy: each target gets the
//! same body, with a timeout per attempt and a bounded retry; failures are counted in a JSON
//! log line and never reach the visitor.

use std::cell::RefCell;

use futures::future::join_all;
use serde_json::json;
use worker::{console_error, console_log};

use super::config::{self, retry_pause_ms, retryable, EXPORT_ATTEMPTS};
use super::ExportTarget;
use super::{TraceMeta, TurnRecorder};
use crate::app::observe::{Export, Tracing};
use crate::outbound::fetch::{send, Outbound, OutboundError};
use crate::outbound::Policy;
use crate::platform::now_ms;
use crate::settings::Settings;
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::Agent;

/// The operator's targets and the export timeout, from vars and secrets.
pub fn operator_targets(env: &worker::Env) -> (Vec<ExportTarget>, u32) {
    let get = |name: &str| crate::platform::config_value(env, name);
    (config::from_env(get), config::export_timeout_ms(get))
}

/// Starts tracing a turn for a surface's glue: the platform's secrets (and `extra`, such as a
/// presented key) kept out of the export, span ids from the runtime's randomness.
pub fn begin_turn(
    targets: &[ExportTarget],
    agent: &Agent,
    meta: TraceMeta,
    settings: &Settings,
    extra: &[&str],
) -> (Tracing, TurnRecorder) {
    let secrets: Vec<&str> = settings.secrets().chain(extra.iter().copied()).collect();
    crate::app::observe::begin(
        targets,
        agent,
        meta,
        &secrets,
        crate::platform::random_bytes(),
        Box::new(now_ms),
        None,
    )
}

/// How long a tenant's trace integrations are kept per isolate, in ms (as the agent cache).
const TENANT_TARGETS_TTL_MS: i64 = 30_000;
/// Tenants whose targets one isolate keeps at most.
const TENANT_TARGETS_KEPT: usize = 256;

thread_local! {
    static TENANT_TARGETS: RefCell<Vec<(String, i64, Vec<ExportTarget>)>> = const { RefCell::new(Vec::new()) };
}

/// Forgets what this isolate knows of a tenant's trace integrations (after a change).
pub fn forget_tenant_targets(tenant_id: &str) {
    TENANT_TARGETS.with(|cache| cache.borrow_mut().retain(|(t, _, _)| t != tenant_id));
}

/// Forgets every tenant's trace integrations this isolate knows (after a change made elsewhere).
pub fn forget_all_tenant_targets() {
    TENANT_TARGETS.with(|cache| cache.borrow_mut().clear());
}

/// The tenant's own `langfuse` and `otlp` targets: read once per 30 s per isolate, so a turn
/// seldom pays a store round trip for them; none when the store cannot say.
pub async fn tenant_targets(store: &AnyStore, tenant_id: &str) -> Vec<ExportTarget> {
    let now = now_ms();
    let cached = TENANT_TARGETS.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|(t, at, _)| t == tenant_id && now - at < TENANT_TARGETS_TTL_MS)
            .map(|(_, _, targets)| targets.clone())
    });
    if let Some(targets) = cached {
        return targets;
    }
    let scope = store.tenant_scope(tenant_id);
    let (langfuse, otlp) = futures::join!(scope.integration("langfuse"), scope.integration("otlp"));
    let mut targets = Vec::new();
    for read in [langfuse, otlp] {
        match read {
            Ok(Some(i)) => targets.extend(config::target_from_integration(
                &i.name,
                &i.settings,
                &i.secrets,
            )),
            Ok(None) => {}
            Err(e) => {
                console_error!("reading the trace integrations failed, not exporting them: {e}");
                return targets;
            }
        }
    }
    TENANT_TARGETS.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.retain(|(t, _, _)| t != tenant_id);
        if cache.len() >= TENANT_TARGETS_KEPT {
            cache.remove(0);
        }
        cache.push((tenant_id.to_owned(), now, targets.clone()));
    });
    targets
}

/// Every target of a tenant's turns: the operator's and the tenant's own, and the timeout.
pub async fn targets_for(
    env: &worker::Env,
    store: &AnyStore,
    tenant_id: &str,
) -> (Vec<ExportTarget>, u32) {
    let (mut targets, timeout_ms) = operator_targets(env);
    targets.extend(tenant_targets(store, tenant_id).await);
    (targets, timeout_ms)
}

/// How one target's delivery went.
pub struct Delivery {
    /// The last HTTP status, when one came.
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed; `None` when delivered.
    pub error: Option<String>,
}

/// Sends `body` to `target` with the bounded retry.
pub async fn deliver_one(
    policy: &Policy,
    target: &ExportTarget,
    body: &str,
    timeout_ms: u32,
) -> Delivery {
    // The operator's own endpoint (from the environment) may be a private collector; a
    // tenant's endpoint meets the rules every tenant request meets.
    let policy = if target.operator {
        policy.trusting(&target.endpoint)
    } else {
        policy.clone()
    };
    let mut delivery = Delivery {
        status: None,
        attempts: 0,
        error: None,
    };
    for attempt in 1..=EXPORT_ATTEMPTS {
        delivery.attempts = attempt;
        let request = Outbound {
            method: "POST",
            url: &target.endpoint,
            headers: vec![("content-type".into(), "application/json".into())],
            credentials: target.headers.clone(),
            body: Some(body),
            timeout_ms,
        };
        match send(&policy, request).await {
            Ok((status, _)) if (200..300).contains(&status) => {
                delivery.status = Some(status);
                delivery.error = None;
                return delivery;
            }
            Ok((status, text)) => {
                delivery.status = Some(status);
                delivery.error = Some(text.chars().take(200).collect());
            }
            Err(OutboundError::Refused(reason)) => {
                delivery.error = Some(reason);
                return delivery;
            }
            Err(e) => {
                delivery.status = None;
                delivery.error = Some(e.to_string());
            }
        }
        if !retryable(delivery.status) || attempt == EXPORT_ATTEMPTS {
            break;
        }
        let pause = std::time::Duration::from_millis(retry_pause_ms(attempt));
        worker::Delay::from(pause).await;
    }
    delivery
}

/// Sends `export` to each of its targets at once; logs one JSON line per target.
pub async fn deliver(policy: &Policy, export: &Export, timeout_ms: u32) {
    let sends = export
        .targets
        .iter()
        .map(|target| deliver_one(policy, target, &export.body, timeout_ms));
    let results = join_all(sends).await;
    for (target, delivery) in export.targets.iter().zip(results) {
        let ok = delivery.error.is_none();
        let line = json!({
            "level": if ok { "info" } else { "warn" },
            "event": "trace.export",
            "traceId": export.trace_id,
            "target": match target.kind { super::TargetKind::Langfuse => "langfuse", super::TargetKind::Otlp => "otlp" },
            "host": target.host(),
            "ok": ok,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "bytes": export.body.len(),
            "error": delivery.error,
        });
        console_log!("{line}");
    }
}

/// Sends the rating of answer `message_id` to every Langfuse target that took its trace, as a
/// score (one attempt each, within the timeout); logs one JSON line per target.
pub async fn score_feedback(
    policy: &Policy,
    targets: &[ExportTarget],
    message_id: &str,
    helpful: Option<bool>,
    timeout_ms: u32,
) {
    let trace_id = crate::app::observe::trace_id_for(message_id);
    let sends = targets.iter().filter_map(|target| {
        let request = super::score::feedback_request(target, &trace_id, message_id, helpful)?;
        let policy = if target.operator {
            policy.trusting(&target.endpoint)
        } else {
            policy.clone()
        };
        Some(async move {
            let outbound = Outbound {
                method: request.method,
                url: &request.url,
                headers: vec![("content-type".into(), "application/json".into())],
                // Langfuse's public API takes the same Basic auth; not its ingestion header.
                credentials: target
                    .headers
                    .iter()
                    .filter(|(name, _)| name == "authorization")
                    .cloned()
                    .collect(),
                body: request.body.as_deref(),
                timeout_ms,
            };
            let result = send(&policy, outbound).await;
            let line = json!({
                "level": if matches!(result, Ok((200..=299, _))) { "info" } else { "warn" },
                "event": "trace.score",
                "traceId": crate::auth::crypto::hex(&trace_id),
                "host": target.host(),
                "method": request.method,
                "status": result.as_ref().ok().map(|(status, _)| *status),
                "error": result.as_ref().err().map(ToString::to_string),
            });
            console_log!("{line}");
        })
    });
    join_all(sends).await;
}
