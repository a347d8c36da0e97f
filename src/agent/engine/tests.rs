use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::executor::block_on;
use serde_json::json;

use super::*;
use crate::llm::ToolCallFragment;

/// One model call: `Err` fails it before any byte; inside, each item is one network read.
type Script = Result<Vec<Result<ModelEvent, ModelError>>, ModelError>;

#[derive(Default)]
struct ScriptedModel {
    scripts: RefCell<VecDeque<Script>>,
    requests: RefCell<Vec<ModelRequest>>,
}

impl ScriptedModel {
    fn new(scripts: Vec<Script>) -> Self {
        Self {
            scripts: RefCell::new(scripts.into()),
            requests: RefCell::default(),
        }
    }
}

impl Model for ScriptedModel {
    async fn stream<H: ModelEventHandler + 'static>(
        &self,
        request: &ModelRequest,
        mut handler: H,
    ) -> (H, Result<(), ModelError>) {
        self.requests.borrow_mut().push(request.clone());
        let script = self
            .scripts
            .borrow_mut()
            .pop_front()
            .expect("the test scripted this call");
        let events = match script {
            Ok(events) => events,
            Err(error) => return (handler, Err(error)),
        };
        for item in events {
            match item {
                Ok(event) => {
                    if !handler.on_event(event) || !handler.end_batch() {
                        break;
                    }
                }
                Err(error) => return (handler, Err(error)),
            }
        }
        (handler, Ok(()))
    }
}

/// Returns `Pending` once so concurrent tools interleave.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Default)]
struct Tools {
    active: Cell<u32>,
    max_active: Cell<u32>,
    calls: RefCell<Vec<(String, Value)>>,
}

impl ToolRunner for Tools {
    async fn call(&self, name: &str, input: &Value) -> Result<Value, String> {
        self.calls
            .borrow_mut()
            .push((name.to_owned(), input.clone()));
        self.active.set(self.active.get() + 1);
        self.max_active
            .set(self.max_active.get().max(self.active.get()));
        YieldOnce(false).await;
        self.active.set(self.active.get() - 1);
        match name {
            "fails" => Err("backend down".into()),
            "huge" => Ok(json!("x".repeat(MAX_TOOL_OUTPUT_BYTES * 2))),
            _ => Ok(json!({ "tool": name, "input": input })),
        }
    }
}

#[derive(Default)]
struct Sink {
    events: Vec<AgentEvent>,
    accept: Option<usize>,
}

impl EventSink for Sink {
    fn send(&mut self, event: &AgentEvent) {
        self.events.push(event.clone());
    }

    fn flush(&mut self) -> bool {
        self.accept.is_none_or(|n| self.events.len() < n)
    }
}

fn text(s: &str) -> Result<ModelEvent, ModelError> {
    Ok(ModelEvent::Text(s.into()))
}

fn call(index: u32, id: &str, name: &str, args: &str) -> Result<ModelEvent, ModelError> {
    Ok(ModelEvent::ToolCall(ToolCallFragment {
        index: Some(index),
        id: Some(id.into()),
        name: Some(name.into()),
        arguments: args.into(),
    }))
}

fn finish(reason: FinishReason) -> Result<ModelEvent, ModelError> {
    Ok(ModelEvent::Finish(reason))
}

fn done() -> Result<ModelEvent, ModelError> {
    Ok(ModelEvent::Done)
}

fn usage(input: u64, output: u64, cost: f64) -> Result<ModelEvent, ModelError> {
    Ok(ModelEvent::Usage(Usage {
        input_tokens: input,
        output_tokens: output,
        cost,
        embedding_tokens: 0,
    }))
}

fn turn(models: &[&str], tools: &[&str], max_steps: u32) -> Turn {
    Turn {
        message_id: "msg_t1".into(),
        models: models.iter().map(|m| m.to_string()).collect(),
        messages: vec![ChatMessage::User {
            content: "hi".into(),
        }],
        tools: tools
            .iter()
            .map(|t| ToolSpec::function(*t, "", json!({"type": "object"})))
            .collect(),
        temperature: None,
        max_tokens: None,
        max_steps,
        ..Turn::default()
    }
}

fn run(model: &ScriptedModel, tools: &Tools, turn: Turn) -> (TurnOutcome, Vec<AgentEvent>) {
    let (outcome, sink) = block_on(run_turn(model, tools, turn, Sink::default()));
    (outcome, sink.events)
}

#[test]
fn plain_text_turn_streams_in_protocol_order() {
    let model = ScriptedModel::new(vec![Ok(vec![
        Ok(ModelEvent::Model("a/used".into())),
        text("Hel"),
        text("lo"),
        finish(FinishReason::Stop),
        usage(10, 2, 0.001),
        done(),
    ])]);
    let (outcome, events) = run(&model, &Tools::default(), turn(&["a/primary"], &[], 5));
    assert_eq!(
        events,
        vec![
            AgentEvent::StepStart,
            AgentEvent::TextStart { id: "txt_1".into() },
            AgentEvent::TextDelta {
                id: "txt_1".into(),
                delta: "Hel".into()
            },
            AgentEvent::TextDelta {
                id: "txt_1".into(),
                delta: "lo".into()
            },
            AgentEvent::TextEnd { id: "txt_1".into() },
            AgentEvent::StepFinish,
            AgentEvent::Finish {
                reason: FinishReason::Stop
            },
        ]
    );
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::Stop));
    assert_eq!(outcome.model.as_deref(), Some("a/used"));
    assert_eq!(
        outcome.usage,
        Usage {
            input_tokens: 10,
            output_tokens: 2,
            cost: 0.001,
            embedding_tokens: 0,
        }
    );
    assert_eq!(
        outcome.parts,
        vec![
            json!({"type": "step-start"}),
            json!({"type": "text", "text": "Hello", "state": "done"})
        ]
    );
}

#[test]
fn tool_results_feed_the_next_step() {
    let model = ScriptedModel::new(vec![
        Ok(vec![
            call(0, "c1", "get_current_time", "{\"timezone\":"),
            Ok(ModelEvent::ToolCall(ToolCallFragment {
                index: Some(0),
                arguments: "\"Europe/Paris\"}".into(),
                ..Default::default()
            })),
            finish(FinishReason::ToolCalls),
            usage(5, 5, 0.5),
            done(),
        ]),
        Ok(vec![
            text("Noon."),
            finish(FinishReason::Stop),
            usage(7, 1, 0.25),
            done(),
        ]),
    ]);
    let tools = Tools::default();
    let (outcome, events) = run(&model, &tools, turn(&["m"], &["get_current_time"], 5));
    assert_eq!(
        tools.calls.borrow().as_slice(),
        &[(
            "get_current_time".to_string(),
            json!({"timezone": "Europe/Paris"})
        )]
    );
    assert!(events.contains(&AgentEvent::ToolInputAvailable {
        call_id: "c1".into(),
        name: "get_current_time".into(),
        input: json!({"timezone": "Europe/Paris"}),
    }));
    let requests = model.requests.borrow();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].tool_choice, Some(ToolChoice::Auto));
    assert_eq!(
        &requests[1].messages[1..],
        &[
            ChatMessage::Assistant {
                content: None,
                tool_calls: vec![ToolCall::function(
                    "c1",
                    "get_current_time",
                    r#"{"timezone":"Europe/Paris"}"#
                )],
            },
            ChatMessage::Tool {
                tool_call_id: "c1".into(),
                content: r#"{"input":{"timezone":"Europe/Paris"},"tool":"get_current_time"}"#
                    .into(),
            },
        ]
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == AgentEvent::StepStart)
            .count(),
        2
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == AgentEvent::StepFinish)
            .count(),
        2
    );
    assert_eq!(outcome.usage.cost, 0.75);
    assert_eq!(outcome.parts.len(), 4);
    assert_eq!(outcome.parts[1]["state"], "output-available");
}

#[test]
fn parallel_tool_calls_run_concurrently() {
    let model = ScriptedModel::new(vec![
        Ok(vec![
            call(0, "a", "one", "{}"),
            call(1, "b", "two", "{}"),
            finish(FinishReason::ToolCalls),
            done(),
        ]),
        Ok(vec![text("ok"), finish(FinishReason::Stop), done()]),
    ]);
    let tools = Tools::default();
    let (_, events) = run(&model, &tools, turn(&["m"], &["one", "two"], 5));
    assert_eq!(
        tools.max_active.get(),
        2,
        "both tools were in flight at once"
    );
    let outputs = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ToolOutputAvailable { .. }))
        .count();
    assert_eq!(outputs, 2);
}

#[test]
fn rate_limited_primary_falls_back_to_next_model() {
    let model = ScriptedModel::new(vec![
        Err(ModelError::Http {
            status: 429,
            message: "slow down".into(),
        }),
        Ok(vec![
            Ok(ModelEvent::Model("b".into())),
            text("from b"),
            finish(FinishReason::Stop),
            done(),
        ]),
    ]);
    let (outcome, _) = run(&model, &Tools::default(), turn(&["a", "b"], &[], 5));
    let asked: Vec<String> = model
        .requests
        .borrow()
        .iter()
        .map(|r| r.model.clone())
        .collect();
    assert_eq!(asked, vec!["a", "b"]);
    assert_eq!(outcome.model.as_deref(), Some("b"));
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::Stop));
}

#[test]
fn timeout_before_first_token_falls_back() {
    let model = ScriptedModel::new(vec![
        Ok(vec![Err(ModelError::Timeout)]),
        Ok(vec![text("late but fine"), done()]),
    ]);
    let (outcome, events) = run(&model, &Tools::default(), turn(&["a", "b"], &[], 5));
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::Stop));
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == AgentEvent::StepStart)
            .count(),
        1
    );
}

#[test]
fn bad_key_fails_without_fallback_and_reads_well() {
    let model = ScriptedModel::new(vec![Err(ModelError::Http {
        status: 401,
        message: "No auth".into(),
    })]);
    let (outcome, events) = run(&model, &Tools::default(), turn(&["a", "b"], &[], 5));
    assert_eq!(model.requests.borrow().len(), 1);
    let TurnEnd::Failed(message) = &outcome.end else {
        panic!("expected failure")
    };
    assert!(message.contains("API key"), "{message}");
    assert_eq!(
        &events[..],
        &[
            AgentEvent::Error {
                message: message.clone()
            },
            AgentEvent::Finish {
                reason: FinishReason::Error
            }
        ]
    );
}

#[test]
fn mid_stream_error_keeps_partial_text() {
    let model = ScriptedModel::new(vec![Ok(vec![
        text("Half an ans"),
        Ok(ModelEvent::Error("Provider disconnected".into())),
    ])]);
    let (outcome, events) = run(&model, &Tools::default(), turn(&["a", "b"], &[], 5));
    assert_eq!(
        outcome.end,
        TurnEnd::Failed("The AI service stopped answering: Provider disconnected".into())
    );
    assert_eq!(outcome.parts[1]["text"], "Half an ans");
    let tail: Vec<&AgentEvent> = events.iter().rev().take(4).collect();
    assert!(matches!(
        tail[0],
        AgentEvent::Finish {
            reason: FinishReason::Error
        }
    ));
    assert!(matches!(tail[1], AgentEvent::Error { .. }));
    assert_eq!(*tail[2], AgentEvent::StepFinish);
    assert!(matches!(tail[3], AgentEvent::TextEnd { .. }));
}

#[test]
fn stream_cut_without_done_is_an_error() {
    let model = ScriptedModel::new(vec![Ok(vec![text("cut")])]);
    let (outcome, _) = run(&model, &Tools::default(), turn(&["a"], &[], 5));
    assert!(matches!(outcome.end, TurnEnd::Failed(ref m) if m.contains("cut off")));
}

#[test]
fn visitor_leaving_aborts_and_keeps_what_was_said() {
    let model = ScriptedModel::new(vec![Ok(vec![
        text("one "),
        text("two "),
        text("three"),
        done(),
    ])]);
    let sink = Sink {
        accept: Some(3),
        ..Sink::default()
    };
    let (outcome, sink) = block_on(run_turn(
        &model,
        &Tools::default(),
        turn(&["a"], &[], 5),
        sink,
    ));
    assert_eq!(outcome.end, TurnEnd::Aborted);
    assert_eq!(
        outcome.parts[1]["text"], "one ",
        "reading stopped at the first failed delivery"
    );
    assert_eq!(sink.events.len(), 3);
}

#[test]
fn last_step_forbids_tools_and_refuses_extra_calls() {
    let model = ScriptedModel::new(vec![
        Ok(vec![call(0, "a", "one", "{}"), done()]),
        Ok(vec![
            call(0, "b", "one", "{}"),
            finish(FinishReason::ToolCalls),
            done(),
        ]),
    ]);
    let tools = Tools::default();
    let (outcome, events) = run(&model, &tools, turn(&["m"], &["one"], 1));
    assert_eq!(
        model.requests.borrow()[1].tool_choice,
        Some(ToolChoice::None)
    );
    assert_eq!(tools.calls.borrow().len(), 1);
    assert!(events.contains(&AgentEvent::ToolOutputError {
        call_id: "b".into(),
        error: STEP_LIMIT_REACHED.into()
    }));
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::ToolCalls));
}

#[test]
fn bad_arguments_and_failing_tools_are_reported_to_model_and_visitor() {
    let model = ScriptedModel::new(vec![
        Ok(vec![
            call(0, "a", "one", "{not json"),
            call(1, "b", "fails", "{}"),
            call(2, "c", "huge", ""),
            done(),
        ]),
        Ok(vec![text("sorry"), done()]),
    ]);
    let (outcome, events) = run(
        &model,
        &Tools::default(),
        turn(&["m"], &["one", "fails", "huge"], 5),
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, AgentEvent::ToolInputError { call_id, .. } if call_id == "a")));
    assert!(events.contains(&AgentEvent::ToolOutputError {
        call_id: "b".into(),
        error: "backend down".into()
    }));
    let requests = model.requests.borrow();
    let tool_messages: Vec<&ChatMessage> = requests[1]
        .messages
        .iter()
        .filter(|m| matches!(m, ChatMessage::Tool { .. }))
        .collect();
    assert_eq!(tool_messages.len(), 3);
    let ChatMessage::Tool { content, .. } = tool_messages[1] else {
        unreachable!()
    };
    assert_eq!(content, r#"{"error":"backend down"}"#);
    let ChatMessage::Tool { content, .. } = tool_messages[2] else {
        unreachable!()
    };
    assert!(content.len() < MAX_TOOL_OUTPUT_BYTES + 100 && content.contains("[truncated"));
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::Stop));
}

/// An API client's own tool: the model's call is handed back, and the turn ends with it.
#[test]
fn a_client_tool_call_ends_the_turn_unrun() {
    let model = ScriptedModel::new(vec![Ok(vec![
        call(0, "c1", "open_ticket", "{\"topic\":\"refund\"}"),
        finish(FinishReason::ToolCalls),
        usage(5, 5, 0.5),
        done(),
    ])]);
    let tools = Tools::default();
    let mut t = turn(&["m"], &["get_current_time", "open_ticket"], 5);
    t.client_tools = vec!["open_ticket".into()];
    let (outcome, events) = run(&model, &tools, t);
    assert!(
        tools.calls.borrow().is_empty(),
        "the server ran a client's tool"
    );
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::ToolCalls));
    assert_eq!(model.requests.borrow().len(), 1);
    assert!(events.contains(&AgentEvent::ToolInputAvailable {
        call_id: "c1".into(),
        name: "open_ticket".into(),
        input: json!({"topic": "refund"}),
    }));
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::ToolOutputAvailable { .. })));
    assert_eq!(
        events.last(),
        Some(&AgentEvent::Finish {
            reason: FinishReason::ToolCalls
        })
    );
}

/// Server tools first: a step that calls both runs the server's, then returns the client's.
#[test]
fn a_mixed_step_runs_the_server_tools_then_returns_the_clients() {
    let model = ScriptedModel::new(vec![
        Ok(vec![
            call(0, "s1", "get_current_time", "{}"),
            finish(FinishReason::ToolCalls),
            done(),
        ]),
        Ok(vec![
            call(0, "k1", "open_ticket", "not json"),
            call(1, "s2", "lookup_order", "{}"),
            finish(FinishReason::ToolCalls),
            done(),
        ]),
    ]);
    let tools = Tools::default();
    let mut t = turn(
        &["m"],
        &["get_current_time", "lookup_order", "open_ticket"],
        5,
    );
    t.client_tools = vec!["open_ticket".into()];
    let (outcome, events) = run(&model, &tools, t);
    let ran: Vec<String> = tools
        .calls
        .borrow()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(ran, ["get_current_time", "lookup_order"]);
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::ToolCalls));
    assert_eq!(model.requests.borrow().len(), 2);
    // The client's arguments are handed back as written, even when they are not JSON.
    assert!(events.contains(&AgentEvent::ToolInputAvailable {
        call_id: "k1".into(),
        name: "open_ticket".into(),
        input: json!("not json"),
    }));
    assert!(events.contains(&AgentEvent::ToolOutputAvailable {
        call_id: "s2".into(),
        output: json!({"tool": "lookup_order", "input": {}}),
    }));
}

#[test]
fn the_callers_tool_choice_binds_the_first_step_only() {
    let step = |choice: Option<ToolChoice>| {
        let model = ScriptedModel::new(vec![
            Ok(vec![
                call(0, "s1", "get_current_time", "{}"),
                finish(FinishReason::ToolCalls),
                done(),
            ]),
            Ok(vec![text("ok"), finish(FinishReason::Stop), done()]),
        ]);
        let mut t = turn(&["m"], &["get_current_time"], 5);
        t.tool_choice = choice;
        t.sampling.seed = Some(3);
        run(&model, &Tools::default(), t);
        let requests = model.requests.borrow();
        assert!(requests.iter().all(|r| r.sampling.seed == Some(3)));
        requests
            .iter()
            .map(|r| r.tool_choice.clone())
            .collect::<Vec<_>>()
    };
    let forced = ToolChoice::Function("get_current_time".into());
    assert_eq!(
        step(Some(forced.clone())),
        [Some(forced), Some(ToolChoice::Auto)]
    );
    assert_eq!(
        step(Some(ToolChoice::Required)),
        [Some(ToolChoice::Required), Some(ToolChoice::Auto)]
    );
    assert_eq!(
        step(Some(ToolChoice::None)),
        [Some(ToolChoice::None), Some(ToolChoice::None)]
    );
}

#[test]
fn a_tool_loop_stops_at_the_call_budget_and_the_model_answers_in_text() {
    // Budget 7: model (1), three tools (4), model (5), one tool (6); the second of that round
    // is refused (one call is kept back for the answer), so the third step is text only.
    let model = ScriptedModel::new(vec![
        Ok(vec![
            call(0, "a", "one", "{}"),
            call(1, "b", "one", "{}"),
            call(2, "c", "one", "{}"),
            done(),
        ]),
        Ok(vec![
            call(0, "d", "one", "{}"),
            call(1, "e", "one", "{}"),
            done(),
        ]),
        Ok(vec![text("out of calls"), done()]),
    ]);
    let tools = Tools::default();
    let mut t = turn(&["m"], &["one"], 10);
    t.subrequest_budget = 7;
    let (outcome, events) = run(&model, &tools, t);
    assert_eq!(tools.calls.borrow().len(), 4, "three, then one of two");
    let requests = model.requests.borrow();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].tool_choice, Some(ToolChoice::None));
    assert!(events.contains(&AgentEvent::ToolOutputError {
        call_id: "e".into(),
        error: BUDGET_SPENT_TOOL.into()
    }));
    assert_eq!(outcome.end, TurnEnd::Finished(FinishReason::Stop));
}

#[test]
fn fallbacks_that_spend_the_budget_end_the_turn_with_a_readable_error() {
    let failing = || {
        Err(ModelError::Http {
            status: 503,
            message: "down".into(),
        })
    };
    let model = ScriptedModel::new(vec![failing(), failing(), failing()]);
    let mut t = turn(&["a", "b", "c"], &[], 5);
    t.subrequest_budget = 2;
    let (outcome, events) = run(&model, &Tools::default(), t);
    assert_eq!(model.requests.borrow().len(), 2);
    assert_eq!(outcome.end, TurnEnd::Failed(BUDGET_SPENT.into()));
    assert!(events.contains(&AgentEvent::Error {
        message: BUDGET_SPENT.into()
    }));
}

/// Tools whose calls leave a citation and a retrieval behind, as `search_knowledge` does.
#[derive(Default)]
struct Noting {
    notes: RefCell<crate::tools::ToolNotes>,
}

impl ToolRunner for Noting {
    async fn call(&self, _: &str, input: &Value) -> Result<Value, String> {
        let mut notes = self.notes.borrow_mut();
        notes.citations.push(AgentEvent::Citation {
            source_id: "kb1".into(),
            url: Some("https://shop.example/returns".into()),
            title: "Returns".into(),
            metadata: json!({}),
        });
        notes.retrievals.push(crate::tools::Retrieved {
            query: input["query"].as_str().unwrap_or_default().to_owned(),
            hits: Vec::new(),
            started_ms: 7,
        });
        notes.embedding_tokens += 11;
        Ok(json!({ "results": [] }))
    }

    fn take_notes(&self) -> crate::tools::ToolNotes {
        std::mem::take(&mut self.notes.borrow_mut())
    }
}

/// Records what the loop observes besides its events.
#[derive(Default)]
struct Observing {
    events: Vec<AgentEvent>,
    retrievals: Vec<(String, i64)>,
}

impl EventSink for Observing {
    fn send(&mut self, event: &AgentEvent) {
        self.events.push(event.clone());
    }
    fn flush(&mut self) -> bool {
        true
    }
    fn observe(&mut self, observation: Observation<'_>) {
        if let Observation::Retrieval {
            query, started_ms, ..
        } = observation
        {
            self.retrievals.push((query.to_owned(), started_ms));
        }
    }
}

#[test]
fn what_a_tool_call_leaves_is_streamed_stored_and_observed_after_its_result() {
    let model = ScriptedModel::new(vec![
        Ok(vec![
            call(0, "c1", "search_knowledge", r#"{"query":"returns"}"#),
            finish(FinishReason::ToolCalls),
            done(),
        ]),
        Ok(vec![
            text("30 days [1]."),
            finish(FinishReason::Stop),
            done(),
        ]),
    ]);
    let tools = Noting::default();
    let (outcome, sink) = block_on(run_turn(
        &model,
        &tools,
        turn(&["m"], &["search_knowledge"], 5),
        Observing::default(),
    ));
    let output = sink
        .events
        .iter()
        .position(|e| matches!(e, AgentEvent::ToolOutputAvailable { .. }))
        .expect("the tool's result");
    let cited = sink
        .events
        .iter()
        .position(|e| matches!(e, AgentEvent::Citation { .. }))
        .expect("the citation is streamed");
    assert!(cited > output, "cited once the result is in");
    assert_eq!(sink.retrievals, vec![("returns".to_owned(), 7)]);
    assert!(
        outcome
            .parts
            .iter()
            .any(|p| p["type"] == "source-url" && p["url"] == "https://shop.example/returns"),
        "the stored answer keeps it: {:?}",
        outcome.parts
    );
    assert!(tools.take_notes().citations.is_empty(), "taken once");
    assert_eq!(
        outcome.usage.embedding_tokens, 11,
        "the search's query embedding is the turn's usage"
    );
}

#[test]
fn first_request_is_the_request_the_loop_sends_first() {
    for (max_steps, choice) in [
        (3, None),
        (0, None),
        (2, Some(ToolChoice::Required)),
        (0, Some(ToolChoice::None)),
    ] {
        let mut planned = turn(&["a/primary", "b/fallback"], &["lookup"], max_steps);
        planned.tool_choice = choice;
        planned.temperature = Some(0.3);
        planned.max_tokens = Some(99);
        let expected = first_request(&planned);
        let model = ScriptedModel::new(vec![Ok(vec![text("ok")])]);
        run(&model, &Tools::default(), planned);
        assert_eq!(
            model.requests.borrow()[0],
            expected,
            "max_steps {max_steps}"
        );
    }
}
