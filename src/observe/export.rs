//! Sends a turn's export after the answer, under the outbound policy: each target gets the
//! same body, with a timeout per attempt and a bounded retry; failures are counted in a JSON
//! log line and never reach the visitor.

use futures::future::join_all;
use serde_json::json;
use worker::console_log;

use super::config::{self, retry_pause_ms, retryable, EXPORT_ATTEMPTS};
use super::ExportTarget;
use crate::app::observe::Export;
use crate::outbound::fetch::{send, Outbound, OutboundError};
use crate::outbound::Policy;

/// The operator's targets and the export timeout, from vars and secrets.
pub fn operator_targets(env: &worker::Env) -> (Vec<ExportTarget>, u32) {
    let get = |name: &str| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    };
    (config::from_env(get), config::export_timeout_ms(get))
}

/// How one target's delivery went.
struct Delivery {
    status: Option<u16>,
    attempts: u32,
    error: Option<String>,
}

async fn deliver_one(
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
