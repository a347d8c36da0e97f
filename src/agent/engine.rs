//! The agent loop: stream a model step, run the tools it asks for, feed the results back,
//! repeat until the model answers in text or the step limit is reached.
//!
//! Model events are pushed into the loop synchronously (`ModelEventHandler`), a network read
//! at a time, and events leave through the sink in one flush per read. Nothing here polls a
//! future per chunk: on Workers each such crossing between JavaScript and wasm costs CPU.

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Value};

use super::events::Observation;
use super::message::MessageBuilder;
use super::AgentEvent;
use crate::llm::tool_calls::{CallUpdate, PendingCall, ToolCallAccumulator};
use crate::llm::{
    ChatMessage, FinishReason, Model, ModelError, ModelEvent, ModelEventHandler, ModelRequest,
    Sampling, ToolCall, ToolChoice, ToolSpec, Usage,
};
use crate::tools::{cap_output, ToolRunner, MAX_TOOL_OUTPUT_BYTES};

/// Text given to the model and visitor when the model calls tools after its last allowed step.
pub const STEP_LIMIT_REACHED: &str = "Tool step limit reached; the tool was not run.";

/// Tool result when the turn's budget of outbound calls would not leave room for the answer.
pub const BUDGET_SPENT_TOOL: &str =
    "This answer has used up its outside calls; the tool was not run.";

/// The visitor's error when not even the answering model call fits the budget.
pub const BUDGET_SPENT: &str =
    "This answer needed more outside calls than one request may make. Please ask a narrower question.";

/// Where a turn's events go: queued by `send`, delivered by `flush`.
pub trait EventSink {
    /// Queues one event.
    fn send(&mut self, event: &AgentEvent);
    /// Delivers the queued events; `false` means the visitor has gone.
    fn flush(&mut self) -> bool;
    /// Notes what the visitor does not see (model calls and their ends), for tracing; called
    /// also after the visitor has gone.
    fn observe(&mut self, _observation: Observation<'_>) {}
}

/// Everything one turn needs.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    /// Id of the assistant message this turn produces.
    pub message_id: String,
    /// Models to try, primary first.
    pub models: Vec<String>,
    /// Context: system prompt, history, the new user message.
    pub messages: Vec<ChatMessage>,
    /// Tools offered to the model.
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Completion token cap per step.
    pub max_tokens: Option<u32>,
    /// Tool rounds allowed before the model must answer in text.
    pub max_steps: u32,
    /// Names among `tools` that the caller runs itself (an API client's own tools): a step that
    /// calls one runs the server's tools of that step, then ends the turn with the calls.
    pub client_tools: Vec<String>,
    /// What the caller asked of tools: `None` keeps the model to text in every step, and
    /// `Required` or a `Function` binds the first step only (later steps are `Auto`).
    pub tool_choice: Option<ToolChoice>,
    /// Other sampling settings the caller passed through.
    pub sampling: Sampling,
    /// Outbound calls (model attempts and tool calls) the loop may make, so a tool loop ends
    /// with an answer before the platform's per-request subrequest limit fails it; 0: no limit.
    pub subrequest_budget: u32,
}

/// The tool choice of step `step` (from 0): text only in the last allowed step and whenever the
/// caller said `none`; what the caller asked for in the first step; else the model decides.
fn tool_choice_of(turn: &Turn, step: u32, last_step: bool) -> ToolChoice {
    match &turn.tool_choice {
        _ if last_step => ToolChoice::None,
        Some(ToolChoice::None) => ToolChoice::None,
        Some(choice) if step == 0 => choice.clone(),
        _ => ToolChoice::Auto,
    }
}

/// The request of step `step` (from 0) with `messages`, to the turn's `model_index`-th model.
fn step_request(
    turn: &Turn,
    step: u32,
    last_step: bool,
    messages: Vec<ChatMessage>,
    model_index: usize,
) -> ModelRequest {
    ModelRequest {
        model: turn.models.get(model_index).cloned().unwrap_or_default(),
        messages,
        tools: turn.tools.clone(),
        tool_choice: Some(tool_choice_of(turn, step, last_step)),
        temperature: turn.temperature,
        max_tokens: turn.max_tokens,
        sampling: turn.sampling.clone(),
    }
}

/// The request `run_turn` sends the model first for `turn`, so a surface can send it before
/// the turn is sure to run (`HttpModel::prefetch`).
pub fn first_request(turn: &Turn) -> ModelRequest {
    step_request(turn, 0, turn.max_steps == 0, turn.messages.clone(), 0)
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    /// The model finished.
    Finished(FinishReason),
    /// The turn failed; the message is for the visitor.
    Failed(String),
    /// The visitor went away.
    Aborted,
}

/// What a turn produced, for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    /// UIMessage parts of the assistant message.
    pub parts: Vec<Value>,
    /// The model that actually answered last.
    pub model: Option<String>,
    /// How it ended.
    pub end: TurnEnd,
    /// Token usage and cost over all steps.
    pub usage: Usage,
}

/// Runs one turn, streaming events to `sink`; returns the outcome and the sink.
///
/// The caller sends `AgentEvent::Start` itself, before any work it must finish first (such as
/// storing the user message), so the visitor sees the answer begin at once.
pub async fn run_turn<M: Model, T: ToolRunner, S: EventSink + 'static>(
    model: &M,
    tools: &T,
    turn: Turn,
    sink: S,
) -> (TurnOutcome, S) {
    let run = Run {
        sink,
        builder: MessageBuilder::new(),
        gone: false,
        usage: Usage::default(),
        model_used: None,
        sources: Vec::new(),
        blocks: 0,
        attempts: 0,
        call_prefix: format!("call_{}_", turn.message_id.trim_start_matches("msg_")),
        step: StepState::new(String::new()),
    };
    let (mut run, end) = steps(model, tools, turn, run).await;
    match &end {
        TurnEnd::Finished(reason) => run.emit(AgentEvent::Finish { reason: *reason }),
        TurnEnd::Failed(message) => {
            run.emit(AgentEvent::Error {
                message: message.clone(),
            });
            run.emit(AgentEvent::Finish {
                reason: FinishReason::Error,
            });
        }
        TurnEnd::Aborted => {}
    }
    run.flush();
    let outcome = TurnOutcome {
        parts: run.builder.finish(),
        model: run.model_used,
        end,
        usage: run.usage,
    };
    (outcome, run.sink)
}

async fn steps<M: Model, T: ToolRunner, S: EventSink + 'static>(
    model: &M,
    tools: &T,
    mut turn: Turn,
    mut run: Run<S>,
) -> (Run<S>, TurnEnd) {
    if turn.models.is_empty() {
        return (
            run,
            TurnEnd::Failed("This agent has no model configured.".into()),
        );
    }
    let mut model_index = 0;
    let mut budget = Budget::new(turn.subrequest_budget);
    let mut forced_last = false;
    for step in 0..=turn.max_steps {
        let last_step = step == turn.max_steps || forced_last;
        let messages = std::mem::take(&mut turn.messages);
        let mut request = step_request(&turn, step, last_step, messages, 0);
        loop {
            if !budget.take(1) {
                return (run, TurnEnd::Failed(BUDGET_SPENT.into()));
            }
            request.model = turn.models[model_index].clone();
            run.begin_step();
            run.sink.observe(Observation::ModelCall {
                request: &request,
                attempt: run.attempts,
            });
            let (returned, result) = model.stream(&request, run).await;
            run = returned;
            match run.end_step(result) {
                StepEnd::Answered => break,
                StepEnd::Retry(_) if model_index + 1 < turn.models.len() => model_index += 1,
                StepEnd::Retry(error) => return (run, TurnEnd::Failed(error.visitor_message())),
                StepEnd::End(end) => return (run, end),
            }
        }
        turn.messages = request.messages;
        let reason = run.step.finish.unwrap_or(FinishReason::Stop);
        let text = std::mem::take(&mut run.step.text);
        let calls = std::mem::take(&mut run.step.accumulator).finish();
        if calls.is_empty() {
            run.emit(AgentEvent::StepFinish);
            return (run, TurnEnd::Finished(reason));
        }
        let for_client = |call: &PendingCall| turn.client_tools.contains(&call.name);
        let (results, refused) = run
            .run_tools(tools, &calls, last_step, &for_client, &mut budget)
            .await;
        if run.gone {
            return (run, TurnEnd::Aborted);
        }
        run.emit(AgentEvent::StepFinish);
        // The caller runs its own tools: the turn ends with their calls, as OpenAI's does.
        if calls.iter().any(for_client) {
            return (run, TurnEnd::Finished(FinishReason::ToolCalls));
        }
        if last_step {
            return (run, TurnEnd::Finished(FinishReason::ToolCalls));
        }
        // Calls refused for the budget: the next step is the model's last, in text.
        forced_last = refused;
        turn.messages.push(ChatMessage::Assistant {
            content: (!text.is_empty()).then_some(text),
            tool_calls: calls
                .iter()
                .zip(&results)
                .map(|(call, (arguments, _))| ToolCall::function(&call.id, &call.name, arguments))
                .collect(),
        });
        for (call, (_, content)) in calls.iter().zip(results) {
            turn.messages.push(ChatMessage::Tool {
                tool_call_id: call.id.clone(),
                content,
            });
        }
    }
    (run, TurnEnd::Finished(FinishReason::ToolCalls))
}

/// What is left of a turn's outbound calls.
struct Budget {
    /// `None`: no limit.
    left: Option<u32>,
}

impl Budget {
    fn new(limit: u32) -> Self {
        Self {
            left: (limit > 0).then_some(limit),
        }
    }

    /// Spends `n` calls if they are left.
    fn take(&mut self, n: u32) -> bool {
        match &mut self.left {
            None => true,
            Some(left) if *left >= n => {
                *left -= n;
                true
            }
            Some(_) => false,
        }
    }

    /// Spends one call for a tool, keeping one back for the model's answer after it.
    fn take_for_tool(&mut self) -> bool {
        match self.left {
            None => true,
            Some(left) if left >= 2 => self.take(1),
            Some(_) => false,
        }
    }
}

/// What one model step ended with.
enum StepEnd {
    /// The model answered; `Run::step` holds its text and tool calls.
    Answered,
    /// The step failed before any content, so another model may take it.
    Retry(ModelError),
    /// The turn is over.
    End(TurnEnd),
}

/// The state of the model call in progress.
struct StepState {
    accumulator: ToolCallAccumulator,
    text_block: Option<String>,
    reasoning_block: Option<String>,
    text: String,
    usage: Usage,
    finish: Option<FinishReason>,
    started: bool,
    done: bool,
    failure: Option<ModelError>,
    updates: Vec<CallUpdate>,
    /// The model the provider said answered this call.
    model: Option<String>,
}

/// The kinds of streamed text block.
#[derive(Debug, Clone, Copy)]
enum Block {
    Text,
    Reasoning,
}

impl StepState {
    fn block(&mut self, kind: Block) -> &mut Option<String> {
        match kind {
            Block::Text => &mut self.text_block,
            Block::Reasoning => &mut self.reasoning_block,
        }
    }

    fn new(call_prefix: String) -> Self {
        Self {
            accumulator: ToolCallAccumulator::new(call_prefix),
            text_block: None,
            reasoning_block: None,
            text: String::new(),
            usage: Usage::default(),
            finish: None,
            started: false,
            done: false,
            failure: None,
            updates: Vec::new(),
            model: None,
        }
    }
}

/// A turn in progress: the sink, what has been said, and the current step.
struct Run<S: EventSink> {
    sink: S,
    builder: MessageBuilder,
    gone: bool,
    usage: Usage,
    model_used: Option<String>,
    /// Pages cited so far, so a page cited twice is listed once.
    sources: Vec<String>,
    blocks: u32,
    attempts: u32,
    call_prefix: String,
    step: StepState,
}

impl<S: EventSink> ModelEventHandler for Run<S> {
    fn on_event(&mut self, event: ModelEvent) -> bool {
        self.handle(event);
        self.reading()
    }

    fn end_batch(&mut self) -> bool {
        self.flush();
        self.reading()
    }
}

impl<S: EventSink> Run<S> {
    fn emit(&mut self, event: AgentEvent) {
        self.builder.apply(&event);
        if !self.gone {
            self.sink.send(&event);
        }
    }

    fn flush(&mut self) {
        if !self.gone && !self.sink.flush() {
            self.gone = true;
        }
    }

    fn reading(&self) -> bool {
        !self.gone && !self.step.done && self.step.failure.is_none()
    }

    fn begin_step(&mut self) {
        self.attempts += 1;
        self.step = StepState::new(format!("{}{}_", self.call_prefix, self.attempts));
    }

    fn handle(&mut self, event: ModelEvent) {
        let is_content = matches!(
            event,
            ModelEvent::Text(_) | ModelEvent::Reasoning(_) | ModelEvent::ToolCall(_)
        );
        if is_content && !self.step.started {
            self.step.started = true;
            self.emit(AgentEvent::StepStart);
        }
        match event {
            ModelEvent::Model(name) => {
                self.step.model = Some(name.clone());
                self.model_used = Some(name);
            }
            ModelEvent::Text(delta) => {
                self.close(Block::Reasoning);
                let id = self.open(Block::Text);
                self.step.text.push_str(&delta);
                self.emit(AgentEvent::TextDelta { id, delta });
            }
            ModelEvent::Reasoning(delta) => {
                self.close(Block::Text);
                let id = self.open(Block::Reasoning);
                self.emit(AgentEvent::ReasoningDelta { id, delta });
            }
            ModelEvent::ToolCall(fragment) => {
                self.close(Block::Text);
                self.close(Block::Reasoning);
                let mut updates = std::mem::take(&mut self.step.updates);
                self.step.accumulator.push(fragment, &mut updates);
                for update in updates.drain(..) {
                    self.emit(match update {
                        CallUpdate::Started { id, name } => {
                            AgentEvent::ToolInputStart { call_id: id, name }
                        }
                        CallUpdate::ArgumentsDelta { id, delta } => {
                            AgentEvent::ToolInputDelta { call_id: id, delta }
                        }
                    });
                }
                self.step.updates = updates;
            }
            ModelEvent::Source { url, title } => {
                if !self.sources.contains(&url) {
                    self.sources.push(url.clone());
                    let source_id = format!("src_{}", self.sources.len());
                    self.emit(AgentEvent::SourceUrl {
                        source_id,
                        url,
                        title,
                    });
                }
            }
            ModelEvent::Usage(usage) => self.step.usage = usage,
            ModelEvent::Finish(reason) => self.step.finish = Some(reason),
            ModelEvent::Error(message) => self.step.failure = Some(ModelError::Stream(message)),
            ModelEvent::Done => self.step.done = true,
        }
    }

    fn end_step(&mut self, result: Result<(), ModelError>) -> StepEnd {
        self.close(Block::Text);
        self.close(Block::Reasoning);
        let usage = self.step.usage;
        self.usage.add(&usage);
        let truncated = !self.step.done && self.step.finish.is_none();
        let failure = self
            .step
            .failure
            .take()
            .or(result.err())
            .or_else(|| truncated.then_some(ModelError::Truncated));
        let model = self.step.model.take();
        let fallback = !self.gone
            && !self.step.started
            && failure
                .as_ref()
                .is_some_and(|e| *e != ModelError::Aborted && e.allows_fallback());
        self.sink.observe(Observation::ModelCallEnd {
            model: model.as_deref(),
            usage: &usage,
            finish: self.step.finish,
            error: failure.as_ref(),
            fallback,
        });
        if self.gone {
            return StepEnd::End(TurnEnd::Aborted);
        }
        if let Some(error) = failure {
            if error == ModelError::Aborted {
                return StepEnd::End(TurnEnd::Aborted);
            }
            if !self.step.started && error.allows_fallback() {
                return StepEnd::Retry(error);
            }
            if self.step.started {
                self.emit(AgentEvent::StepFinish);
            }
            return StepEnd::End(TurnEnd::Failed(error.visitor_message()));
        }
        if !self.step.started {
            self.emit(AgentEvent::StepStart);
        }
        StepEnd::Answered
    }

    /// Runs the step's tool calls in parallel, except those `for_client` (the caller runs them)
    /// and those `budget` has no room for; returns (arguments sent back, result text) per call,
    /// and whether any call was refused for the budget.
    async fn run_tools<T: ToolRunner>(
        &mut self,
        tools: &T,
        calls: &[PendingCall],
        limit_reached: bool,
        for_client: &dyn Fn(&PendingCall) -> bool,
        budget: &mut Budget,
    ) -> (Vec<(String, String)>, bool) {
        let mut refused = false;
        let mut results: Vec<(String, String)> = Vec::with_capacity(calls.len());
        let mut pending = FuturesUnordered::new();
        for (slot, call) in calls.iter().enumerate() {
            let parsed = if call.arguments.trim().is_empty() {
                Ok(json!({}))
            } else {
                serde_json::from_str::<Value>(&call.arguments)
            };
            if for_client(call) {
                // Handed back as the model wrote it: the caller judges its own arguments.
                results.push((call.arguments.clone(), String::new()));
                self.emit(AgentEvent::ToolInputAvailable {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    input: parsed.unwrap_or_else(|_| Value::String(call.arguments.clone())),
                });
                continue;
            }
            match parsed {
                Ok(input @ Value::Object(_)) => {
                    results.push((input.to_string(), String::new()));
                    self.emit(AgentEvent::ToolInputAvailable {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        input: input.clone(),
                    });
                    let not_run = if limit_reached {
                        Some(STEP_LIMIT_REACHED)
                    } else if !budget.take_for_tool() {
                        refused = true;
                        Some(BUDGET_SPENT_TOOL)
                    } else {
                        None
                    };
                    if let Some(reason) = not_run {
                        results[slot].1 = json!({ "error": reason }).to_string();
                        self.emit(AgentEvent::ToolOutputError {
                            call_id: call.id.clone(),
                            error: reason.into(),
                        });
                    } else {
                        pending.push(async move { (slot, tools.call(&call.name, &input).await) });
                    }
                }
                _ => {
                    let error = format!(
                        "The arguments for {} were not a JSON object: {}",
                        call.name, call.arguments
                    );
                    results.push(("{}".into(), json!({ "error": error }).to_string()));
                    self.emit(AgentEvent::ToolInputError {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        input: Value::String(call.arguments.clone()),
                        error,
                    });
                }
            }
        }
        self.flush();
        while let Some((slot, result)) = pending.next().await {
            let call_id = calls[slot].id.clone();
            match result {
                Ok(value) => {
                    let (output, text) = cap_output(value, MAX_TOOL_OUTPUT_BYTES);
                    results[slot].1 = text;
                    self.emit(AgentEvent::ToolOutputAvailable { call_id, output });
                }
                Err(error) => {
                    results[slot].1 = json!({ "error": error }).to_string();
                    self.emit(AgentEvent::ToolOutputError { call_id, error });
                }
            }
            let notes = tools.take_notes();
            self.usage.embedding_tokens += notes.embedding_tokens;
            for retrieval in &notes.retrievals {
                self.sink.observe(Observation::Retrieval {
                    query: &retrieval.query,
                    hits: &retrieval.hits,
                    started_ms: retrieval.started_ms,
                });
            }
            for citation in notes.citations {
                self.emit(citation);
            }
            self.flush();
            if self.gone {
                break;
            }
        }
        (results, refused)
    }

    /// The id of the open block of `kind`, opening one (with its start event) if needed.
    fn open(&mut self, kind: Block) -> String {
        if let Some(id) = self.step.block(kind) {
            return id.clone();
        }
        self.blocks += 1;
        let id = match kind {
            Block::Text => format!("txt_{}", self.blocks),
            Block::Reasoning => format!("rsn_{}", self.blocks),
        };
        self.emit(match kind {
            Block::Text => AgentEvent::TextStart { id: id.clone() },
            Block::Reasoning => AgentEvent::ReasoningStart { id: id.clone() },
        });
        *self.step.block(kind) = Some(id.clone());
        id
    }

    /// Closes the open block of `kind`, if any.
    fn close(&mut self, kind: Block) {
        if let Some(id) = self.step.block(kind).take() {
            self.emit(match kind {
                Block::Text => AgentEvent::TextEnd { id },
                Block::Reasoning => AgentEvent::ReasoningEnd { id },
            });
        }
    }
}

#[cfg(test)]
mod tests;
