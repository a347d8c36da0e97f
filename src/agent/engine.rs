//! The agent loop: stream a model step, run the tools it asks for, feed the results back,
//! repeat until the model answers in text or the step limit is reached.

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{json, Value};

use super::message::MessageBuilder;
use super::AgentEvent;
use crate::llm::tool_calls::{CallUpdate, ToolCallAccumulator};
use crate::llm::{
    ChatMessage, FinishReason, Model, ModelError, ModelEvent, ModelRequest, ModelStream, ToolCall,
    ToolChoice, ToolSpec, Usage,
};
use crate::tools::{cap_output, ToolRunner, MAX_TOOL_OUTPUT_BYTES};

/// Text given to the model and visitor when the model calls tools after its last allowed step.
pub const STEP_LIMIT_REACHED: &str = "Tool step limit reached; the tool was not run.";

/// Receives events as they happen; `false` means the visitor has gone.
pub trait EventSink {
    /// Delivers one event.
    fn send(&mut self, event: &AgentEvent) -> bool;
}

/// Everything one turn needs.
#[derive(Debug, Clone)]
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

/// Runs one turn, streaming events to `sink`.
pub async fn run_turn<M: Model, T: ToolRunner, S: EventSink>(
    model: &M,
    tools: &T,
    turn: Turn,
    sink: &mut S,
) -> TurnOutcome {
    let mut run = Run {
        out: Output {
            sink,
            builder: MessageBuilder::new(),
            gone: false,
        },
        usage: Usage::default(),
        model_used: None,
        model_index: 0,
        blocks: 0,
        call_prefix: format!("call_{}_", turn.message_id.trim_start_matches("msg_")),
    };
    run.out.emit(AgentEvent::Start {
        message_id: turn.message_id.clone(),
    });
    let end = run.steps(model, tools, turn).await;
    match &end {
        TurnEnd::Finished(reason) => run.out.emit(AgentEvent::Finish { reason: *reason }),
        TurnEnd::Failed(message) => {
            run.out.emit(AgentEvent::Error {
                message: message.clone(),
            });
            run.out.emit(AgentEvent::Finish {
                reason: FinishReason::Error,
            });
        }
        TurnEnd::Aborted => {}
    }
    TurnOutcome {
        parts: run.out.builder.finish(),
        model: run.model_used,
        end,
        usage: run.usage,
    }
}

struct Output<'s, S: EventSink> {
    sink: &'s mut S,
    builder: MessageBuilder,
    gone: bool,
}

impl<S: EventSink> Output<'_, S> {
    fn emit(&mut self, event: AgentEvent) {
        self.builder.apply(&event);
        if !self.gone && !self.sink.send(&event) {
            self.gone = true;
        }
    }
}

/// What one model step ended with.
enum Step {
    /// The model answered; tool calls (if any) wait to run.
    Answered {
        reason: FinishReason,
        text: String,
        calls: Vec<crate::llm::tool_calls::PendingCall>,
    },
    /// The step failed before any content, so another model may take it.
    Retry(ModelError),
    /// The turn is over.
    End(TurnEnd),
}

struct Run<'s, S: EventSink> {
    out: Output<'s, S>,
    usage: Usage,
    model_used: Option<String>,
    model_index: usize,
    blocks: u32,
    call_prefix: String,
}

impl<S: EventSink> Run<'_, S> {
    async fn steps<M: Model, T: ToolRunner>(
        &mut self,
        model: &M,
        tools: &T,
        mut turn: Turn,
    ) -> TurnEnd {
        if turn.models.is_empty() {
            return TurnEnd::Failed("This agent has no model configured.".into());
        }
        for step in 0..=turn.max_steps {
            let last_step = step == turn.max_steps;
            let mut request = ModelRequest {
                model: String::new(),
                messages: std::mem::take(&mut turn.messages),
                tools: turn.tools.clone(),
                tool_choice: Some(if last_step {
                    ToolChoice::None
                } else {
                    ToolChoice::Auto
                }),
                temperature: turn.temperature,
                max_tokens: turn.max_tokens,
            };
            let answered = loop {
                let stream = match self.open(model, &turn.models, &mut request).await {
                    Ok(stream) => stream,
                    Err(ModelError::Aborted) => return TurnEnd::Aborted,
                    Err(error) => return TurnEnd::Failed(error.visitor_message()),
                };
                match self.stream_step(stream).await {
                    Step::Retry(error) if self.model_index + 1 < turn.models.len() => {
                        let _ = error;
                        self.model_index += 1;
                    }
                    Step::Retry(ModelError::Aborted) => return TurnEnd::Aborted,
                    Step::Retry(error) => return TurnEnd::Failed(error.visitor_message()),
                    Step::End(end) => return end,
                    Step::Answered {
                        reason,
                        text,
                        calls,
                    } => break (reason, text, calls),
                }
            };
            turn.messages = request.messages;
            let (reason, text, calls) = answered;
            if calls.is_empty() {
                self.out.emit(AgentEvent::StepFinish);
                return TurnEnd::Finished(reason);
            }
            let results = self.run_tools(tools, &calls, last_step).await;
            if self.out.gone {
                return TurnEnd::Aborted;
            }
            self.out.emit(AgentEvent::StepFinish);
            if last_step {
                return TurnEnd::Finished(FinishReason::ToolCalls);
            }
            turn.messages.push(ChatMessage::Assistant {
                content: (!text.is_empty()).then_some(text),
                tool_calls: calls
                    .iter()
                    .zip(&results)
                    .map(|(call, (arguments, _))| {
                        ToolCall::function(&call.id, &call.name, arguments)
                    })
                    .collect(),
            });
            for (call, (_, content)) in calls.iter().zip(results) {
                turn.messages.push(ChatMessage::Tool {
                    tool_call_id: call.id.clone(),
                    content,
                });
            }
        }
        TurnEnd::Finished(FinishReason::ToolCalls)
    }

    /// Opens a stream on the current model, moving down the fallback chain on errors that allow it.
    async fn open<M: Model>(
        &mut self,
        model: &M,
        chain: &[String],
        request: &mut ModelRequest,
    ) -> Result<ModelStream, ModelError> {
        loop {
            request.model = chain[self.model_index].clone();
            match model.open(request).await {
                Ok(stream) => return Ok(stream),
                Err(error) if error.allows_fallback() && self.model_index + 1 < chain.len() => {
                    self.model_index += 1
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn stream_step(&mut self, mut stream: ModelStream) -> Step {
        let mut accumulator = ToolCallAccumulator::new(self.call_prefix.clone());
        self.call_prefix.push('x');
        let mut text_block: Option<String> = None;
        let mut reasoning_block: Option<String> = None;
        let mut step_text = String::new();
        let mut step_usage = Usage::default();
        let mut finish: Option<FinishReason> = None;
        let mut started = false;
        let mut done = false;
        let mut updates = Vec::new();
        let failure = loop {
            let Some(item) = stream.next().await else {
                break None;
            };
            let event = match item {
                Ok(event) => event,
                Err(error) => break Some(error),
            };
            let is_content = matches!(
                event,
                ModelEvent::Text(_) | ModelEvent::Reasoning(_) | ModelEvent::ToolCall(_)
            );
            if is_content && !started {
                started = true;
                self.out.emit(AgentEvent::StepStart);
            }
            match event {
                ModelEvent::Model(name) => self.model_used = Some(name),
                ModelEvent::Text(delta) => {
                    self.close(&mut reasoning_block, false);
                    let id = self.open_block(&mut text_block, true);
                    step_text.push_str(&delta);
                    self.out.emit(AgentEvent::TextDelta { id, delta });
                }
                ModelEvent::Reasoning(delta) => {
                    self.close(&mut text_block, true);
                    let id = self.open_block(&mut reasoning_block, false);
                    self.out.emit(AgentEvent::ReasoningDelta { id, delta });
                }
                ModelEvent::ToolCall(fragment) => {
                    self.close(&mut text_block, true);
                    self.close(&mut reasoning_block, false);
                    accumulator.push(fragment, &mut updates);
                    for update in updates.drain(..) {
                        self.out.emit(match update {
                            CallUpdate::Started { id, name } => {
                                AgentEvent::ToolInputStart { call_id: id, name }
                            }
                            CallUpdate::ArgumentsDelta { id, delta } => {
                                AgentEvent::ToolInputDelta { call_id: id, delta }
                            }
                        });
                    }
                }
                ModelEvent::Usage(usage) => step_usage = usage,
                ModelEvent::Finish(reason) => finish = Some(reason),
                ModelEvent::Error(message) => break Some(ModelError::Stream(message)),
                ModelEvent::Done => {
                    done = true;
                    break None;
                }
            }
            if self.out.gone {
                break Some(ModelError::Aborted);
            }
        };
        drop(stream);
        self.close(&mut text_block, true);
        self.close(&mut reasoning_block, false);
        self.usage.add(&step_usage);
        let failure =
            failure.or_else(|| (!done && finish.is_none()).then_some(ModelError::Truncated));
        if let Some(error) = failure {
            if self.out.gone || error == ModelError::Aborted {
                return Step::End(TurnEnd::Aborted);
            }
            if !started && error.allows_fallback() {
                return Step::Retry(error);
            }
            if started {
                self.out.emit(AgentEvent::StepFinish);
            }
            return Step::End(TurnEnd::Failed(error.visitor_message()));
        }
        if !started {
            self.out.emit(AgentEvent::StepStart);
        }
        Step::Answered {
            reason: finish.unwrap_or(FinishReason::Stop),
            text: step_text,
            calls: accumulator.finish(),
        }
    }

    /// Runs the step's tool calls in parallel; returns (arguments sent back, result text) per call.
    async fn run_tools<T: ToolRunner>(
        &mut self,
        tools: &T,
        calls: &[crate::llm::tool_calls::PendingCall],
        limit_reached: bool,
    ) -> Vec<(String, String)> {
        let mut results: Vec<(String, String)> = Vec::with_capacity(calls.len());
        let mut pending = FuturesUnordered::new();
        for (slot, call) in calls.iter().enumerate() {
            let parsed = if call.arguments.trim().is_empty() {
                Ok(json!({}))
            } else {
                serde_json::from_str::<Value>(&call.arguments)
            };
            match parsed {
                Ok(input @ Value::Object(_)) => {
                    results.push((input.to_string(), String::new()));
                    self.out.emit(AgentEvent::ToolInputAvailable {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        input: input.clone(),
                    });
                    if limit_reached {
                        results[slot].1 = json!({ "error": STEP_LIMIT_REACHED }).to_string();
                        self.out.emit(AgentEvent::ToolOutputError {
                            call_id: call.id.clone(),
                            error: STEP_LIMIT_REACHED.into(),
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
                    self.out.emit(AgentEvent::ToolInputError {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        input: Value::String(call.arguments.clone()),
                        error,
                    });
                }
            }
        }
        while let Some((slot, result)) = pending.next().await {
            let call_id = calls[slot].id.clone();
            match result {
                Ok(value) => {
                    let (output, text) = cap_output(value, MAX_TOOL_OUTPUT_BYTES);
                    results[slot].1 = text;
                    self.out
                        .emit(AgentEvent::ToolOutputAvailable { call_id, output });
                }
                Err(error) => {
                    results[slot].1 = json!({ "error": error }).to_string();
                    self.out
                        .emit(AgentEvent::ToolOutputError { call_id, error });
                }
            }
            if self.out.gone {
                break;
            }
        }
        results
    }

    fn open_block(&mut self, block: &mut Option<String>, text: bool) -> String {
        if let Some(id) = block {
            return id.clone();
        }
        self.blocks += 1;
        let id = format!("{}{}", if text { "txt_" } else { "rsn_" }, self.blocks);
        self.out.emit(if text {
            AgentEvent::TextStart { id: id.clone() }
        } else {
            AgentEvent::ReasoningStart { id: id.clone() }
        });
        *block = Some(id.clone());
        id
    }

    fn close(&mut self, block: &mut Option<String>, text: bool) {
        if let Some(id) = block.take() {
            self.out.emit(if text {
                AgentEvent::TextEnd { id }
            } else {
                AgentEvent::ReasoningEnd { id }
            });
        }
    }
}

#[cfg(test)]
mod tests;
