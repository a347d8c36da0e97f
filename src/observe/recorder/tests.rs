use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures::executor::block_on;
use serde_json::{json, Value};

use super::*;
use crate::agent::{run_turn, Turn};
use crate::llm::{
    ChatMessage, Model, ModelError, ModelEvent, ModelEventHandler, ModelRequest, ToolCallFragment,
};
use crate::observe::otlp;
use crate::tools::ToolRunner;

type Script = Result<Vec<ModelEvent>, ModelError>;

struct Scripted(RefCell<VecDeque<Script>>);

impl Model for Scripted {
    async fn stream<H: ModelEventHandler + 'static>(
        &self,
        _request: &ModelRequest,
        mut handler: H,
    ) -> (H, Result<(), ModelError>) {
        let script = self.0.borrow_mut().pop_front().expect("scripted");
        let events = match script {
            Ok(events) => events,
            Err(e) => return (handler, Err(e)),
        };
        for event in events {
            if !handler.on_event(event) || !handler.end_batch() {
                break;
            }
        }
        (handler, Ok(()))
    }
}

struct Tools;

impl ToolRunner for Tools {
    async fn call(&self, name: &str, input: &Value) -> Result<Value, String> {
        match name {
            "fails" => Err("backend down, key sk-or-v1-abcdefgh12345678".into()),
            _ => Ok(json!({ "echo": input, "header": "hunter2-webhook-secret" })),
        }
    }
}

/// A sink that accepts `accept` flushes, then reports the visitor gone.
struct Sink {
    flushes: Cell<u32>,
    accept: u32,
}

impl EventSink for Sink {
    fn send(&mut self, _event: &AgentEvent) {}
    fn flush(&mut self) -> bool {
        self.flushes.set(self.flushes.get() + 1);
        self.flushes.get() <= self.accept
    }
}

fn text(s: &str) -> ModelEvent {
    ModelEvent::Text(s.into())
}

fn done(reason: FinishReason) -> Vec<ModelEvent> {
    vec![
        ModelEvent::Usage(Usage {
            input_tokens: 10,
            output_tokens: 5,
            cost: 0.001,
            embedding_tokens: 0,
        }),
        ModelEvent::Finish(reason),
        ModelEvent::Done,
    ]
}

fn tool_call(id: &str, name: &str, args: &str) -> ModelEvent {
    ModelEvent::ToolCall(ToolCallFragment {
        index: Some(0),
        id: Some(id.into()),
        name: Some(name.into()),
        arguments: args.into(),
    })
}

fn recorder(capture: Capture) -> TurnRecorder {
    let now = Rc::new(Cell::new(1_760_000_000_000i64));
    let clock = {
        let now = now.clone();
        Box::new(move || {
            now.set(now.get() + 10);
            now.get()
        })
    };
    let meta = TraceMeta {
        surface: "widget".into(),
        channel: Some("inline".into()),
        tenant_id: "t1".into(),
        agent_id: "a1".into(),
        conversation_id: Some("chat_1".into()),
        user_id: Some("v_1".into()),
        message_id: "msg_1".into(),
        input: Some("What is my token hunter2-webhook-secret?".into()),
        environment: None,
    };
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
    TurnRecorder::new(
        meta,
        capture,
        Redactor::new(["hunter2-webhook-secret"]),
        seed,
        clock,
    )
}

const ALL: Capture = Capture {
    spans: true,
    content: true,
};

fn run(
    scripts: Vec<Script>,
    models: &[&str],
    capture: Capture,
    accept: u32,
) -> (Option<Trace>, TurnSummary, TurnEnd) {
    let model = Scripted(RefCell::new(scripts.into()));
    let turn = Turn {
        message_id: "msg_1".into(),
        models: models.iter().map(|m| m.to_string()).collect(),
        messages: vec![ChatMessage::User {
            content: "hi".into(),
        }],
        tools: Vec::new(),
        temperature: Some(0.5),
        max_tokens: Some(100),
        max_steps: 3,
        ..Turn::default()
    };
    let sink = TracedSink::new(
        Sink {
            flushes: Cell::new(0),
            accept,
        },
        recorder(capture),
    );
    let (outcome, sink) = block_on(run_turn(&model, &Tools, turn, sink));
    let (_, recorder) = sink.into_parts();
    let (trace, summary) = recorder.finish(&outcome.end, &outcome.usage);
    (trace, summary, outcome.end)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match span.attribute(key) {
        Some(AttrValue::Str(s)) => Some(s),
        _ => None,
    }
}

fn kinds(trace: &Trace) -> Vec<&str> {
    trace
        .spans
        .iter()
        .map(|s| attr(s, "langfuse.observation.type").unwrap_or("?"))
        .collect()
}

#[test]
fn a_plain_answer_is_a_root_and_one_generation() {
    let mut script = vec![
        ModelEvent::Model("main/model-v2".into()),
        text("Hel"),
        text("lo"),
    ];
    script.extend(done(FinishReason::Stop));
    let (trace, summary, _) = run(vec![Ok(script)], &["main/model"], ALL, 100);
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "generation"]);
    let (root, generation) = (&trace.spans[0], &trace.spans[1]);
    assert_eq!(root.parent, None);
    assert_eq!(generation.parent, Some(root.span_id));
    assert_ne!(generation.span_id, root.span_id);
    assert_eq!(attr(root, "session.id"), Some("chat_1"));
    assert_eq!(attr(root, "user.id"), Some("v_1"));
    assert_eq!(attr(root, "langfuse.trace.metadata.tenantId"), Some("t1"));
    assert_eq!(attr(root, "langfuse.trace.output"), Some("Hello"));
    assert_eq!(
        attr(root, "langfuse.trace.input"),
        Some("What is my token [redacted]?")
    );
    assert_eq!(
        attr(generation, "langfuse.observation.model.name"),
        Some("main/model-v2")
    );
    assert_eq!(attr(generation, "gen_ai.request.model"), Some("main/model"));
    assert_eq!(
        attr(generation, "langfuse.observation.output"),
        Some("Hello")
    );
    assert_eq!(
        attr(generation, "langfuse.observation.usage_details"),
        Some(r#"{"input":10,"output":5,"total":15}"#)
    );
    assert_eq!(
        attr(generation, "langfuse.observation.model.parameters"),
        Some(r#"{"max_tokens":100,"temperature":0.5}"#)
    );
    let first = attr(generation, "langfuse.observation.completion_start_time").expect("ttft");
    assert!(first.ends_with('Z') && first.len() == 24, "{first}");
    assert!(root.start_ms <= generation.start_ms && generation.end_ms <= root.end_ms);
    assert!(generation.start_ms < generation.end_ms);
    assert_eq!(summary.models.len(), 1);
    assert!(summary.first_token_ms.is_some_and(|t| t > 0));
    assert_eq!(summary.output_tokens, 5);
    assert_eq!(summary.trace_id.as_deref(), Some(&*hex(&trace.trace_id)));
}

#[test]
fn a_tool_loop_has_a_span_per_call_between_two_generations() {
    let mut first = vec![tool_call("c1", "lookup", r#"{"q":"x"}"#)];
    first.extend(done(FinishReason::ToolCalls));
    let mut second = vec![text("Done")];
    second.extend(done(FinishReason::Stop));
    let (trace, summary, _) = run(vec![Ok(first), Ok(second)], &["m"], ALL, 100);
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "generation", "tool", "generation"]);
    let tool = &trace.spans[2];
    assert_eq!(tool.parent, Some(trace.spans[0].span_id));
    assert_eq!(attr(tool, "gen_ai.tool.name"), Some("lookup"));
    assert_eq!(
        attr(tool, "langfuse.observation.input"),
        Some(r#"{"q":"x"}"#)
    );
    let output = attr(tool, "langfuse.observation.output").expect("output");
    assert!(
        output.contains("[redacted]") && !output.contains("hunter2"),
        "{output}"
    );
    assert!(trace.spans[1].end_ms <= tool.start_ms && tool.end_ms <= trace.spans[3].start_ms);
    assert_eq!(summary.tools.len(), 1);
    assert_eq!(summary.models.len(), 2);
    assert_eq!(summary.input_tokens, 20);
}

#[test]
fn a_failing_tool_is_an_error_span_with_the_key_redacted() {
    let mut first = vec![tool_call("c1", "fails", "{}")];
    first.extend(done(FinishReason::ToolCalls));
    let mut second = vec![text("Sorry")];
    second.extend(done(FinishReason::Stop));
    let (trace, summary, _) = run(vec![Ok(first), Ok(second)], &["m"], ALL, 100);
    let trace = trace.expect("sampled");
    let tool = &trace.spans[2];
    assert_eq!(attr(tool, "langfuse.observation.level"), Some("ERROR"));
    assert_eq!(
        tool.status,
        SpanStatus::Error("backend down, key [redacted]".into())
    );
    assert!(summary.tools[0].error);
}

#[test]
fn a_fallback_is_an_event_on_the_generation_that_answered() {
    let mut answer = vec![text("ok")];
    answer.extend(done(FinishReason::Stop));
    let down = ModelError::Http {
        status: 503,
        message: "overloaded".into(),
    };
    let (trace, summary, _) = run(
        vec![Err(down), Ok(answer)],
        &["primary", "backup"],
        ALL,
        100,
    );
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "generation"]);
    let generation = &trace.spans[1];
    assert_eq!(
        attr(generation, "langfuse.observation.model.name"),
        Some("backup")
    );
    assert_eq!(
        attr(generation, "langfuse.observation.level"),
        Some("WARNING")
    );
    assert_eq!(generation.events.len(), 1);
    assert_eq!(generation.events[0].name, "model.fallback");
    assert_eq!(
        generation.events[0].attributes[0],
        ("gen_ai.request.model", AttrValue::Str("primary".into()))
    );
    let models: Vec<_> = summary
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.error.is_some()))
        .collect();
    assert_eq!(models, [("primary", true), ("backup", false)]);
}

#[test]
fn when_every_model_fails_one_error_generation_holds_the_attempts() {
    let down = || ModelError::Http {
        status: 503,
        message: "overloaded".into(),
    };
    let (trace, _, end) = run(vec![Err(down()), Err(down())], &["a", "b"], ALL, 100);
    assert!(matches!(end, TurnEnd::Failed(_)));
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "generation"]);
    assert_eq!(trace.spans[1].events.len(), 2);
    assert!(matches!(trace.spans[1].status, SpanStatus::Error(_)));
    assert!(matches!(trace.spans[0].status, SpanStatus::Error(_)));
}

#[test]
fn a_mid_stream_error_marks_the_generation_and_the_turn() {
    let script = vec![text("Part"), ModelEvent::Error("upstream exploded".into())];
    let (trace, _, _) = run(vec![Ok(script)], &["m", "backup"], ALL, 100);
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "generation"]);
    let generation = &trace.spans[1];
    assert_eq!(
        attr(generation, "langfuse.observation.level"),
        Some("ERROR")
    );
    assert!(
        generation.events.is_empty(),
        "no fallback once text streamed"
    );
    assert_eq!(
        attr(generation, "langfuse.observation.output"),
        Some("Part")
    );
    assert_eq!(
        attr(&trace.spans[0], "langfuse.observation.level"),
        Some("ERROR")
    );
}

#[test]
fn an_aborted_turn_is_still_traced_and_says_so() {
    let script = vec![text("a"), text("b"), text("c")];
    let (trace, summary, end) = run(vec![Ok(script)], &["m"], ALL, 1);
    assert_eq!(end, TurnEnd::Aborted);
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "generation"]);
    assert_eq!(
        attr(&trace.spans[0], "langfuse.trace.metadata.outcome"),
        Some("aborted")
    );
    assert_eq!(
        attr(&trace.spans[0], "langfuse.observation.level"),
        Some("WARNING")
    );
    assert!(summary.total_ms > 0);
}

#[test]
fn content_capture_off_exports_no_inputs_or_outputs() {
    let mut first = vec![tool_call("c1", "lookup", r#"{"q":"x"}"#)];
    first.extend(done(FinishReason::ToolCalls));
    let mut second = vec![text("Done")];
    second.extend(done(FinishReason::Stop));
    let capture = Capture {
        spans: true,
        content: false,
    };
    let (trace, _, _) = run(vec![Ok(first), Ok(second)], &["m"], capture, 100);
    let trace = trace.expect("sampled");
    let body = otlp::encode(&trace, None, &Redactor::default());
    for key in ["input", "output"] {
        assert!(
            !body.contains(&format!("langfuse.observation.{key}\"")),
            "{body}"
        );
        assert!(!body.contains(&format!("langfuse.trace.{key}\"")), "{body}");
    }
    assert!(!body.contains("Done") && !body.contains("What is my"));
    assert!(body.contains("langfuse.observation.usage_details"));
}

#[test]
fn an_unsampled_turn_keeps_only_the_summary() {
    let mut script = vec![text("hi")];
    script.extend(done(FinishReason::Stop));
    let (trace, summary, _) = run(vec![Ok(script)], &["m"], Capture::default(), 100);
    assert!(trace.is_none());
    assert_eq!(summary.trace_id, None);
    assert_eq!(summary.models.len(), 1);
    assert_eq!(summary.cost, 0.001);
}

#[test]
fn a_retrieval_is_a_retriever_span_with_scores() {
    let mut recorder = recorder(ALL);
    let start = (recorder.clock)();
    recorder.retrieval(
        "refund policy",
        &[RetrievalHit {
            source: "doc_1#3".into(),
            score: 0.82,
            text: Some("Refunds within 30 days.".into()),
        }],
        start,
    );
    let (trace, _) = recorder.finish(&TurnEnd::Finished(FinishReason::Stop), &Usage::default());
    let trace = trace.expect("sampled");
    assert_eq!(kinds(&trace), ["agent", "retriever"]);
    let span = &trace.spans[1];
    assert_eq!(
        attr(span, "langfuse.observation.input"),
        Some("refund policy")
    );
    let hits: Value =
        serde_json::from_str(attr(span, "langfuse.observation.output").expect("hits"))
            .expect("json");
    assert_eq!(hits[0]["score"], json!(0.82));
}

#[test]
fn the_otlp_body_has_hex_ids_nanosecond_strings_and_key_value_lists() {
    let mut script = vec![text("Hello")];
    script.extend(done(FinishReason::Stop));
    let (trace, _, _) = run(vec![Ok(script)], &["m"], ALL, 100);
    let trace = trace.expect("sampled");
    let body: Value =
        serde_json::from_str(&otlp::encode(&trace, Some("1.2"), &Redactor::default()))
            .expect("json");
    let spans = &body["resourceSpans"][0]["scopeSpans"][0]["spans"];
    let root = &spans[0];
    let trace_id = root["traceId"].as_str().expect("id");
    assert_eq!(trace_id.len(), 32);
    assert!(trace_id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(root["spanId"].as_str().map(str::len), Some(16));
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(spans[1]["parentSpanId"], root["spanId"]);
    assert_eq!(spans[1]["traceId"], root["traceId"]);
    let start = root["startTimeUnixNano"].as_str().expect("string nanos");
    assert!(start.ends_with("000000") && start.len() == 19);
    assert!(root["attributes"].is_array());
    assert!(root["attributes"][0]["key"].is_string());
    let tokens = spans[1]["attributes"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["key"] == "gen_ai.usage.output_tokens")
        .expect("tokens");
    assert_eq!(tokens["value"]["intValue"], "5");
}
