//! The one tracing hook of a turn, whichever surface runs it: `begin` decides from the trace
//! id which targets take the trace (their sample rates) and what it may capture, and gathers
//! the secrets the export must never contain; the surface wraps its sink in the returned
//! recorder (`TracedSink`), runs the engine, and `finish` turns the recording into the
//! per-turn summary and one encoded export for the targets. Sending it is the glue's job
//! (`observe::export`), after the answer.

use crate::agent::{run_turn, EventSink, Turn, TurnEnd, TurnOutcome};
use crate::auth::crypto::sha256;
use crate::llm::Model;
use crate::llm::Usage;
use crate::observe::config::capture_for;
use crate::observe::{
    otlp, ExportTarget, Redactor, TraceMeta, TracedSink, TurnRecorder, TurnSummary,
};
use crate::store::Agent;
use crate::tools::ToolRunner;

/// A turn's tracing in progress: where its trace goes and what to keep out of it.
pub struct Tracing {
    targets: Vec<ExportTarget>,
    redactor: Redactor,
    release: Option<String>,
}

/// One export: the body, sent to each target.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The trace id, lowercase hex.
    pub trace_id: String,
    /// OTLP/HTTP JSON body.
    pub body: String,
    /// Where it goes.
    pub targets: Vec<ExportTarget>,
}

/// What a finished turn leaves for the glue.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Timings, tokens, cost and models of the turn (kept whether or not it is exported).
    pub summary: TurnSummary,
    /// The export, when a target takes this trace.
    pub export: Option<Export>,
}

/// The secrets of an agent that a trace could otherwise carry: its signing and identity
/// secrets and the values of its webhook tools' headers.
pub fn agent_secrets(agent: &Agent) -> Vec<String> {
    let mut secrets: Vec<String> = agent
        .config
        .tools
        .webhooks
        .iter()
        .flat_map(|w| w.headers.values().cloned())
        .collect();
    secrets.extend(agent.signing_secret.clone());
    secrets.extend(agent.identity_secret.clone());
    secrets
}

/// The trace id of the turn that produces answer `message_id`: derived from it, so a later
/// event about the answer (the visitor's rating becoming a Langfuse score) finds its trace
/// without reading anything, and the sampling decision can be taken again.
pub fn trace_id_for(message_id: &str) -> [u8; 16] {
    let digest = sha256(format!("trace:{message_id}").as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// Starts tracing a turn of `agent`. `targets` are the operator's and the tenant's, `secrets`
/// the platform's own (provider key and the like), `seed` 32 random bytes (for span ids; the
/// trace id comes from the answer's id), `clock` the time in ms.
pub fn begin(
    targets: &[ExportTarget],
    agent: &Agent,
    meta: TraceMeta,
    secrets: &[&str],
    mut seed: [u8; 32],
    clock: Box<dyn Fn() -> i64>,
    release: Option<String>,
) -> (Tracing, TurnRecorder) {
    let trace_id = trace_id_for(&meta.message_id);
    seed[..16].copy_from_slice(&trace_id);
    let takers: Vec<&ExportTarget> = targets.iter().filter(|t| t.takes(&trace_id)).collect();
    let capture = capture_for(&takers);
    let redactor = Redactor::new(
        agent_secrets(agent)
            .into_iter()
            .chain(secrets.iter().map(|s| s.to_string()))
            .chain(takers.iter().flat_map(|t| t.secrets().map(str::to_owned))),
    );
    let recorder = TurnRecorder::new(meta, capture, redactor.clone(), seed, clock);
    let tracing = Tracing {
        targets: takers.into_iter().cloned().collect(),
        redactor,
        release,
    };
    (tracing, recorder)
}

/// Runs a turn through the engine with its events recorded on the way to the surface's sink:
/// the one way every surface runs a turn (widget, voice, `/v1`, …), so each is traced alike and
/// the sink comes back for the surface to end its stream.
pub async fn run<M: Model, T: ToolRunner, S: EventSink + 'static>(
    model: &M,
    tools: &T,
    turn: Turn,
    sink: S,
    recorder: TurnRecorder,
) -> (TurnOutcome, S, TurnRecorder) {
    let (mut outcome, traced) = run_turn(model, tools, turn, TracedSink::new(sink, recorder)).await;
    let (sink, recorder) = traced.into_parts();
    // The grounding's query embedding is the turn's too, stored with the answer's usage.
    outcome.usage.embedding_tokens += recorder.embedding_tokens();
    (outcome, sink, recorder)
}

impl Tracing {
    /// Ends the turn: the summary, and the encoded export when a target takes the trace.
    pub fn finish(self, recorder: TurnRecorder, end: &TurnEnd, usage: &Usage) -> Finished {
        let (trace, summary) = recorder.finish(end, usage);
        let export = trace.map(|trace| Export {
            trace_id: summary.trace_id.clone().unwrap_or_default(),
            body: otlp::encode(&trace, self.release.as_deref(), &self.redactor),
            targets: self.targets,
        });
        Finished { summary, export }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentConfig;
    use crate::llm::FinishReason;
    use crate::observe::TargetKind;
    use serde_json::json;

    fn agent() -> Agent {
        let config: AgentConfig = serde_json::from_value(json!({
            "model": "m",
            "tools": { "webhooks": [{
                "name": "crm", "description": "d", "url": "https://crm.example/x",
                "headers": { "x-api-key": "crm-secret-value-123" }
            }] }
        }))
        .expect("config");
        Agent {
            id: "a1".into(),
            tenant_id: "t1".into(),
            config,
            enabled: true,
            tenant_active: true,
            publishable_keys: vec![],
            identity_secret: Some("identity-secret-456".into()),
            signing_secret: Some("signing-secret-789".into()),
            tenant_spend_cap: None,
            created_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    fn target(rate: f64) -> ExportTarget {
        let mut t =
            ExportTarget::langfuse("https://lf.example", "pk-lf-public", "sk-lf-secret-key");
        t.sample_rate = rate;
        t
    }

    fn meta(input: &str) -> TraceMeta {
        TraceMeta {
            surface: "widget".into(),
            tenant_id: "t1".into(),
            agent_id: "a1".into(),
            input: Some(input.into()),
            ..TraceMeta::default()
        }
    }

    #[test]
    fn the_export_never_contains_a_secret_of_the_agent_or_the_target() {
        let targets = [target(1.0)];
        let input = "crm-secret-value-123 signing-secret-789 identity-secret-456 sk-lf-secret-key sk-or-provider-key-0001";
        let (tracing, recorder) = begin(
            &targets,
            &agent(),
            meta(input),
            &["sk-or-provider-key-0001"],
            [7; 32],
            Box::new(|| 1_000),
            None,
        );
        let finished = tracing.finish(
            recorder,
            &TurnEnd::Finished(FinishReason::Stop),
            &Usage::default(),
        );
        let export = finished.export.expect("sampled");
        for secret in input.split(' ') {
            assert!(
                !export.body.contains(secret),
                "{secret} leaked: {}",
                export.body
            );
        }
        assert!(export.body.contains("[redacted]"));
        assert_eq!(export.targets.len(), 1);
        assert_eq!(export.targets[0].kind, TargetKind::Langfuse);
        assert_eq!(
            finished.summary.trace_id.as_deref(),
            Some(export.trace_id.as_str())
        );
    }

    #[test]
    fn the_trace_id_follows_from_the_answer_id() {
        let (tracing, recorder) = begin(
            &[target(1.0)],
            &agent(),
            TraceMeta {
                message_id: "msg_1".into(),
                ..meta("hi")
            },
            &[],
            [7; 32],
            Box::new(|| 5),
            None,
        );
        assert_eq!(
            recorder.trace_id(),
            crate::auth::crypto::hex(&trace_id_for("msg_1"))
        );
        assert_ne!(trace_id_for("msg_1"), trace_id_for("msg_2"));
        let finished = tracing.finish(recorder, &TurnEnd::Aborted, &Usage::default());
        assert_eq!(
            finished.export.map(|e| e.trace_id),
            Some(crate::auth::crypto::hex(&trace_id_for("msg_1")))
        );
    }

    #[test]
    fn a_target_that_does_not_sample_the_trace_gets_nothing() {
        let (tracing, recorder) = begin(
            &[target(0.0)],
            &agent(),
            meta("hi"),
            &[],
            [7; 32],
            Box::new(|| 5),
            None,
        );
        let finished = tracing.finish(recorder, &TurnEnd::Aborted, &Usage::default());
        assert!(finished.export.is_none());
        assert_eq!(finished.summary.total_ms, 0);
    }
}
