//! A visitor's rating of an answer becomes a Langfuse score on that answer's trace: a
//! `user-feedback` boolean (1 helpful, 0 not), upserted under an id derived from the answer so
//! a changed rating replaces it and a cleared one deletes it.

use serde_json::json;

use super::config::{ExportTarget, TargetKind, LANGFUSE_OTEL_PATH};
use crate::auth::crypto::hex;

/// The score's name in Langfuse.
pub const FEEDBACK_SCORE: &str = "user-feedback";

/// One request to Langfuse's public API.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRequest {
    /// `POST` (create or replace) or `DELETE` (the rating was cleared).
    pub method: &'static str,
    /// Full URL.
    pub url: String,
    /// JSON body, for `POST`.
    pub body: Option<String>,
}

/// The score id of answer `message_id` (stable, so a new rating replaces the old one).
pub fn score_id(message_id: &str) -> String {
    format!("feedback-{message_id}")
}

/// What to send to `target` for a rating (`Some(true)` helpful, `Some(false)` not, `None`
/// cleared) of the answer whose trace is `trace_id`; `None` when the target is not Langfuse or
/// did not take that trace.
pub fn feedback_request(
    target: &ExportTarget,
    trace_id: &[u8; 16],
    message_id: &str,
    helpful: Option<bool>,
) -> Option<ScoreRequest> {
    if target.kind != TargetKind::Langfuse || !target.takes(trace_id) {
        return None;
    }
    let host = target.endpoint.strip_suffix(LANGFUSE_OTEL_PATH)?;
    let id = score_id(message_id);
    Some(match helpful {
        Some(helpful) => ScoreRequest {
            method: "POST",
            url: format!("{host}/api/public/scores"),
            body: Some(
                json!({
                    "id": id,
                    "traceId": hex(trace_id),
                    "name": FEEDBACK_SCORE,
                    "value": if helpful { 1 } else { 0 },
                    "dataType": "BOOLEAN",
                    "comment": if helpful { "rated helpful by the visitor" } else { "rated not helpful by the visitor" },
                })
                .to_string(),
            ),
        },
        None => ScoreRequest {
            method: "DELETE",
            url: format!("{host}/api/public/scores/{id}"),
            body: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_rating_is_a_boolean_score_on_the_answers_trace() {
        let target = ExportTarget::langfuse("https://lf.example", "pk", "sk");
        let trace = [9u8; 16];
        let up = feedback_request(&target, &trace, "msg_1", Some(true)).expect("langfuse");
        assert_eq!(
            (up.method, up.url.as_str()),
            ("POST", "https://lf.example/api/public/scores")
        );
        let body: Value = serde_json::from_str(up.body.as_deref().expect("body")).expect("json");
        assert_eq!(body["traceId"], hex(&trace));
        assert_eq!(
            (
                body["name"].as_str(),
                body["value"].as_i64(),
                body["dataType"].as_str()
            ),
            (Some(FEEDBACK_SCORE), Some(1), Some("BOOLEAN"))
        );
        assert_eq!(body["id"], "feedback-msg_1");
        let down = feedback_request(&target, &trace, "msg_1", Some(false)).expect("langfuse");
        assert!(down.body.expect("body").contains(r#""value":0"#));
        let cleared = feedback_request(&target, &trace, "msg_1", None).expect("langfuse");
        assert_eq!(
            (cleared.method, cleared.url.as_str()),
            (
                "DELETE",
                "https://lf.example/api/public/scores/feedback-msg_1"
            )
        );
    }

    #[test]
    fn other_backends_and_unsampled_traces_get_nothing() {
        let mut target = ExportTarget::langfuse("https://lf.example", "pk", "sk");
        target.kind = TargetKind::Otlp;
        assert!(feedback_request(&target, &[9; 16], "m", Some(true)).is_none());
        let mut target = ExportTarget::langfuse("https://lf.example", "pk", "sk");
        target.sample_rate = 0.0;
        assert!(feedback_request(&target, &[9; 16], "m", Some(true)).is_none());
    }
}
