//! One call on the ConversationRelay WebSocket. The first frame must be a `setup` carrying the
//! call token; then each whole `prompt` is a turn of the turn service, spoken back as `text`
//! tokens through the speech filter and ended with `last: true`. While a turn runs the socket
//! is still read: an `interrupt` stops the turn and aborts the model request at once, a hang-up
//! does the same, and the time limit ends the call with a spoken goodbye.
//!
//! An answer is stored when the next thing happens (the caller's next words, an interruption,
//! the end of the call), so an answer the caller cut short is stored as what they heard.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use serde_json::{json, Value};
use worker::{console_error, AbortController, Delay, WebSocket, WebsocketEvent};

use super::call::{self, CallTools, Requests};
use super::relay::{self, Inbound, Setup};
use super::speech::Speech;
use super::token::CallToken;
use crate::agent::context;
use crate::agent::{AgentEvent, TurnEnd};
use crate::app::knowledge as app_knowledge;
use crate::app::observe as tracing;
use crate::app::turn::{self, TurnRequest};
use crate::dates::{utc_day, utc_month};
use crate::http::output::{BodySink, Encode, Transport};
use crate::knowledge::client::HttpEmbedder;
use crate::knowledge::embed::EmbeddingSettings;
use crate::llm::client::HttpModel;
use crate::observe::export::{begin_turn, deliver, tenant_targets};
use crate::observe::{ExportTarget, TraceMeta};
use crate::platform::{now_ms, random_id};
use crate::settings::Settings;
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::{
    Agent, Call, Conversation, ConversationState, ConversationWindow, MessageStatus, Store,
    StoreError, StoredMessage, TurnContext, TurnQuery, TurnStart,
};
use crate::tools::runner::{local_weekday_and_time, WorkerTools};

/// How long the relay waits for Twilio's `setup` message, in ms.
const SETUP_WAIT_MS: u64 = 10_000;

/// What the caller hears when the model fails; the call goes on.
const APOLOGY: &str = "Sorry, I had trouble answering that. Could you say it again?";
/// What the caller hears when the time limit ends the call.
const GOODBYE: &str =
    "We have reached the time limit for this call. Thank you for calling, goodbye.";
/// What the caller hears before a transfer asked for with the key.
const CONNECTING: &str = "Connecting you to a person now.";

/// Everything a call needs from the request that opened it.
pub struct CallContext {
    /// The agent the number reaches.
    pub agent: Agent,
    /// The store.
    pub store: AnyStore,
    /// Model and outbound settings.
    pub settings: Settings,
    /// Signs and checks call tokens.
    pub token_secret: String,
    /// The operator's trace targets and the export timeout (`observe::export`).
    pub traces: (Vec<ExportTarget>, u32),
    /// Where knowledge retrieval embeds the caller's question.
    pub embeddings: EmbeddingSettings,
}

/// What one running turn shares with the loop that reads the socket.
struct Live {
    stopped: Cell<bool>,
    heard: RefCell<Option<String>>,
    controller: RefCell<Option<AbortController>>,
}

impl Live {
    fn new() -> Self {
        Self {
            stopped: Cell::new(false),
            heard: RefCell::new(None),
            controller: RefCell::new(Some(AbortController::default())),
        }
    }

    /// Stops the turn now: the sink refuses more, the model request is aborted.
    fn stop(&self, heard: Option<String>) {
        self.stopped.set(true);
        if heard.is_some() {
            *self.heard.borrow_mut() = heard;
        }
        if let Some(controller) = self.controller.borrow_mut().take() {
            controller.abort();
        }
    }
}

/// An answer waiting to be stored (see the module notes).
struct Pending {
    message: StoredMessage,
}

/// The turn in progress and what it shares with the loop.
type Running = (Pin<Box<dyn Future<Output = Done>>>, Rc<Live>);

/// How a turn ended, for the loop.
enum Done {
    /// The agent answered (fully, partly, or with an error).
    Answered(Option<Pending>, Requests),
    /// The turn was refused (spend cap, message limit); the text was spoken, the call ends.
    Refused,
}

/// How the call ended, as its record says.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    Completed,
    HungUp,
    Handoff,
    TimeLimit,
    Refused,
}

/// Runs a call until it ends; never returns early on bad input (it closes the socket).
pub async fn run(ws: WebSocket, context: CallContext) {
    let Ok(mut events) = ws.events() else {
        return;
    };
    // Twilio sends `setup` first; a socket that never does is closed, not kept open.
    let first = async {
        loop {
            match events.next().await {
                Some(Ok(WebsocketEvent::Message(m))) => {
                    if let Inbound::Setup(setup) = relay::parse(&m.text().unwrap_or_default()) {
                        return Some(setup);
                    }
                }
                _ => return None,
            }
        }
    };
    let setup = match select(Box::pin(first), pause(SETUP_WAIT_MS)).await {
        Either::Left((Some(setup), _)) => setup,
        Either::Left((None, _)) => return,
        Either::Right(_) => {
            let _ = ws.close(Some(1008), Some("No setup message."));
            return;
        }
    };
    let context = Rc::new(context);
    let Some((mut call, known)) = start_call(&context, &setup).await else {
        let _ = ws.close(Some(1008), Some("This call is not allowed."));
        return;
    };
    let caller = Caller {
        conversation_id: call.conversation_id.clone(),
        visitor_id: call::mask_number(&setup.from),
        known: Rc::new(RefCell::new(known)),
    };
    let can_hand_off = can_hand_off(&context.agent);
    let phone = &context.agent.config.phone;
    let limit = Duration::from_secs(u64::from(phone.max_call_seconds));
    let mut deadline = Box::pin(Delay::from(limit));
    let mut running: Option<Running> = None;
    let mut pending: Option<Pending> = None;
    let mut queued: Option<String> = None;
    let mut interruptions = 0u32;
    let mut errors: Vec<String> = Vec::new();
    let mut requests = Requests::default();
    let ending = loop {
        enum Wake {
            Event(Option<worker::Result<WebsocketEvent>>),
            Turn(Done),
            Deadline,
        }
        let wake = {
            let turn_done = async {
                match running.as_mut() {
                    Some((turn, _)) => turn.await,
                    None => std::future::pending().await,
                }
            };
            let next = events.next();
            futures::pin_mut!(turn_done);
            match select(next, select(turn_done, deadline.as_mut())).await {
                Either::Left((event, _)) => Wake::Event(event),
                Either::Right((Either::Left((done, _)), _)) => Wake::Turn(done),
                Either::Right((Either::Right(_), _)) => Wake::Deadline,
            }
        };
        let mut prompt: Option<String> = None;
        match wake {
            Wake::Turn(done) => {
                running = None;
                match done {
                    Done::Refused => {
                        let _ = ws.send_with_str(relay::end(&json!({ "ended": "refused" })));
                        break Ending::Refused;
                    }
                    Done::Answered(answer, asked) => {
                        store_pending(&context, std::mem::replace(&mut pending, answer)).await;
                        if asked.message.is_some() {
                            requests.message = asked.message;
                        }
                        if let Some(handoff) = asked.handoff {
                            let _ = ws.send_with_str(relay::end(&handoff));
                            requests.handoff = Some(handoff);
                            break Ending::Handoff;
                        }
                        prompt = queued.take();
                    }
                }
            }
            Wake::Deadline => {
                if let Some((turn, live)) = running.take() {
                    live.stop(None);
                    if let Done::Answered(answer, _) = turn.await {
                        store_pending(&context, std::mem::replace(&mut pending, answer)).await;
                    }
                }
                let _ = ws.send_with_str(relay::text(GOODBYE, true));
                let _ = ws.send_with_str(relay::end(&json!({ "ended": "time-limit" })));
                break Ending::TimeLimit;
            }
            Wake::Event(Some(Ok(WebsocketEvent::Message(m)))) => {
                match relay::parse(&m.text().unwrap_or_default()) {
                    Inbound::Prompt { text, last: true } if !text.trim().is_empty() => {
                        prompt = Some(text);
                    }
                    Inbound::Interrupt { heard, .. } => {
                        interruptions += 1;
                        match &running {
                            Some((_, live)) => live.stop(Some(heard)),
                            None => {
                                if let Some(answer) = pending.as_mut() {
                                    cut_to_heard(answer, &heard);
                                }
                            }
                        }
                    }
                    Inbound::Dtmf { digit } if phone.dtmf => {
                        if phone.human_digit.as_deref() == Some(digit.as_str()) && can_hand_off {
                            if let Some((turn, live)) = running.take() {
                                live.stop(None);
                                if let Done::Answered(answer, _) = turn.await {
                                    store_pending(
                                        &context,
                                        std::mem::replace(&mut pending, answer),
                                    )
                                    .await;
                                }
                            }
                            let handoff = call::handoff_data(
                                &format!("The caller pressed {digit} to reach a person."),
                                "The caller asked for a person with the keypad.",
                            );
                            let _ = ws.send_with_str(relay::text(CONNECTING, true));
                            let _ = ws.send_with_str(relay::end(&handoff));
                            requests.handoff = Some(handoff);
                            break Ending::Handoff;
                        }
                        prompt = Some(if phone.human_digit.as_deref() == Some(digit.as_str()) {
                            format!("(The caller pressed {digit} to reach a person.)")
                        } else {
                            format!("(The caller pressed {digit} on the keypad.)")
                        });
                    }
                    Inbound::Error { description } => {
                        console_error!("ConversationRelay reported: {description}");
                        if errors.len() < 10 {
                            errors.push(description);
                        }
                    }
                    _ => {}
                }
            }
            // The caller hung up (or the socket failed): stop the answer, keep what was said.
            Wake::Event(_) => {
                let mut ending = Ending::Completed;
                if let Some((turn, live)) = running.take() {
                    live.stop(None);
                    if let Done::Answered(answer, asked) = turn.await {
                        // A turn may still be storing what was said after its answer was
                        // spoken in full: only an answer cut short is a hang-up mid-answer.
                        if answer
                            .as_ref()
                            .is_none_or(|p| p.message.status != MessageStatus::Complete)
                        {
                            ending = Ending::HungUp;
                        }
                        store_pending(&context, std::mem::replace(&mut pending, answer)).await;
                        if asked.message.is_some() {
                            requests.message = asked.message;
                        }
                    }
                }
                break ending;
            }
        }
        if let Some(text) = prompt {
            if running.is_some() {
                // The caller spoke again before the answer was done: answer that next.
                queued = Some(text);
            } else {
                let live = Rc::new(Live::new());
                let turn = answer(
                    context.clone(),
                    caller.clone(),
                    ws.clone(),
                    live.clone(),
                    text,
                    pending.take(),
                    can_hand_off,
                );
                running = Some((Box::pin(turn), live));
            }
        }
    };
    store_pending(&context, pending.take()).await;
    finish_call(
        &context,
        &mut call,
        ending,
        &requests,
        interruptions,
        errors,
    )
    .await;
    drop(events);
    let _ = ws.close(Some(1000), Some("call ended"));
}

/// Whether a person can take the call now: a number is set and, with hours, it is open.
fn can_hand_off(agent: &Agent) -> bool {
    let phone = &agent.config.phone;
    if !phone.can_hand_off() {
        return false;
    }
    match &phone.handoff_hours {
        None => true,
        Some(hours) => local_weekday_and_time(&hours.timezone)
            .is_some_and(|(weekday, time)| hours.contains(&weekday, &time)),
    }
}

/// Checks the call token and opens the call's conversation and record, with what its turns
/// plan from (the conversation's window and the month's spend); `None` refuses it.
async fn start_call(context: &CallContext, setup: &Setup) -> Option<(Call, TurnContext)> {
    let agent = &context.agent;
    let token = setup.parameter("token").unwrap_or_default();
    let Some(claims) = CallToken::verify(token, &context.token_secret, now_ms() / 1000) else {
        console_error!("relay refused: no valid call token");
        return None;
    };
    if claims.agent_id != agent.id
        || claims.tenant_id != agent.tenant_id
        || claims.call_sid != setup.call_sid
    {
        console_error!("relay refused: the call token is for another call or agent");
        return None;
    }
    let now = now_ms();
    let conversation_id = call::conversation_id(&setup.call_sid);
    let scope = context.store.tenant_scope(&agent.tenant_id);
    let month = utc_month(now);
    let query = TurnQuery {
        tenant_id: &agent.tenant_id,
        agent_id: &agent.id,
        conversation_id: Some(&conversation_id),
        resent_message_id: None,
        month: &month,
        history_limit: context::MAX_HISTORY_MESSAGES as u32,
    };
    // The tenant's trace targets are read now too, so the first turn finds them cached.
    let (read, _) = futures::join!(
        scope.turn_context(&query),
        tenant_targets(&context.store, &agent.tenant_id)
    );
    let mut known = read.ok()?;
    match &known.conversation {
        ConversationState::Foreign => return None,
        ConversationState::Found(_) => {}
        ConversationState::Missing => {
            let start = TurnStart {
                conversation: Conversation {
                    id: conversation_id.clone(),
                    tenant_id: agent.tenant_id.clone(),
                    agent_id: agent.id.clone(),
                    visitor_id: Some(call::mask_number(&setup.from)),
                    created_at: now,
                    updated_at: now,
                    page_url: None,
                    channel: Some("phone".into()),
                    preview: false,
                },
                create: true,
                replace_after: None,
                user_message: None,
                answer_id: None,
            };
            if let Err(e) = context.store.start_turn(&start).await {
                console_error!("opening the call's conversation failed: {e}");
                return None;
            }
            known.conversation = ConversationState::Found(ConversationWindow {
                conversation: start.conversation,
                messages: Vec::new(),
                message_count: 0,
                resent: None,
            });
        }
    }
    let record = Call {
        conversation_id,
        tenant_id: agent.tenant_id.clone(),
        agent_id: agent.id.clone(),
        call_sid: setup.call_sid.clone(),
        caller: setup.from.clone(),
        callee: setup.to.clone(),
        started_at: now,
        ended_at: None,
        outcome: None,
        details: json!({ "sessionId": setup.session_id }),
    };
    if let Err(e) = scope.save_call(&record).await {
        console_error!("recording the call failed: {e}");
    }
    Some((record, known))
}

/// Saves how the call ended, merged with what the `<Connect action>` callback may have saved.
async fn finish_call(
    context: &CallContext,
    record: &mut Call,
    ending: Ending,
    requests: &Requests,
    interruptions: u32,
    errors: Vec<String>,
) {
    let scope = context.store.tenant_scope(&context.agent.tenant_id);
    if let Ok(Some(saved)) = scope.call(&record.conversation_id).await {
        *record = saved;
    }
    let outcome = match ending {
        Ending::Handoff => "handoff",
        Ending::TimeLimit => "time-limit",
        Ending::Refused => "refused",
        _ if requests.message.is_some() => "message",
        Ending::HungUp => "hangup",
        Ending::Completed => "completed",
    };
    // The callback knows better when it came first (a failed session).
    if record.outcome.is_none() || ending == Ending::Handoff {
        record.outcome = Some(outcome.into());
    }
    record.ended_at = record.ended_at.or(Some(now_ms()));
    if let Value::Object(details) = &mut record.details {
        details.insert("interruptions".into(), json!(interruptions));
        if let Some(handoff) = &requests.handoff {
            details.insert("handoff".into(), handoff.clone());
        }
        if let Some(message) = &requests.message {
            details.insert("message".into(), message.clone());
        }
        if !errors.is_empty() {
            details.insert("errors".into(), json!(errors));
        }
    }
    let saved = turn::persist(
        || scope.save_call(record),
        pause,
        |attempt, e| console_error!("saving the call failed (attempt {attempt}): {e}"),
    )
    .await;
    if !saved {
        console_error!("the call {} was not recorded", record.call_sid);
    }
}

fn pause(ms: u64) -> Delay {
    Delay::from(Duration::from_millis(ms))
}

/// Stores a finished answer (with its usage).
async fn store_pending(context: &CallContext, pending: Option<Pending>) {
    let Some(Pending { message, .. }) = pending else {
        return;
    };
    let day = utc_day(message.created_at);
    let agent_id = &context.agent.id;
    turn::persist(
        || context.store.append_answer(&message, agent_id, &day),
        pause,
        |attempt, e: &StoreError| {
            console_error!("storing the call's answer failed (attempt {attempt}): {e}")
        },
    )
    .await;
}

/// Marks an answer as cut short by the caller, keeping only what they heard.
fn cut_to_heard(pending: &mut Pending, heard: &str) {
    pending.message.parts = call::heard_parts(&pending.message.parts, heard);
    pending.message.status = MessageStatus::Aborted;
    pending.message.finish_reason = Some("interrupted".into());
}

/// Who the call is, for each turn.
#[derive(Clone)]
struct Caller {
    conversation_id: String,
    visitor_id: String,
    /// The call's conversation as its turns left it: only this call writes to it, so each
    /// turn plans from here instead of reading the store before the model is called.
    known: Rc<RefCell<TurnContext>>,
}

/// One turn: store the previous answer, plan, store the question, run the engine into the
/// socket, and hand back the answer to store.
async fn answer(
    context: Rc<CallContext>,
    caller: Caller,
    ws: WebSocket,
    live: Rc<Live>,
    text: String,
    previous: Option<Pending>,
    can_hand_off: bool,
) -> Done {
    let agent = &context.agent;
    let phone = &agent.config.phone;
    let message_id = random_id("msg");
    let settings = &context.settings;
    let now = now_ms();
    // The turn plans from the call's own view of its conversation, with the previous answer
    // in it: no store round trip before the model is called.
    let mut read = caller.known.borrow().clone();
    if let Some(previous) = &previous {
        read = read.with_message(&previous.message, context::MAX_HISTORY_MESSAGES);
    }
    let mut targets = context.traces.0.clone();
    // Cached since the call started (`start_call` read them).
    targets.extend(tenant_targets(&context.store, &agent.tenant_id).await);
    let (tracing, mut recorder) = begin_turn(
        &targets,
        agent,
        TraceMeta {
            surface: "voice".into(),
            channel: Some("phone".into()),
            tenant_id: agent.tenant_id.clone(),
            agent_id: agent.id.clone(),
            conversation_id: Some(caller.conversation_id.clone()),
            user_id: Some(caller.visitor_id.clone()),
            message_id: message_id.clone(),
            input: Some(text.clone()),
            environment: None,
        },
        settings,
        &[context.token_secret.as_str()],
    );
    let before = read.clone();
    let planned = turn::plan(
        agent,
        read,
        TurnRequest {
            conversation_id: caller.conversation_id.clone(),
            message_id: None,
            fresh_message_id: random_id("msg"),
            text,
            visitor_id: caller.visitor_id.clone(),
            now,
            page_url: None,
            channel: Some("phone".into()),
            preview: false,
        },
    );
    let turn::TurnPlan {
        mut start,
        history,
        models,
    } = match planned {
        Ok(plan) => plan,
        Err(error) => {
            if let Some(detail) = error.log_detail() {
                console_error!("planning the call's turn failed: {detail}");
            }
            let _ = ws.send_with_str(relay::text(&error.to_string(), true));
            return Done::Refused;
        }
    };
    start.answer_id = Some(message_id.clone());
    // The previous answer and then the caller's words are stored while the model is called
    // (in that order, so the transcript keeps it); both are done before this answer is handed
    // back to be stored.
    let write_start = async {
        store_pending(&context, previous).await;
        turn::persist(
            || context.store.start_turn(&start),
            pause,
            |attempt, e| {
                console_error!("storing the caller's words failed (attempt {attempt}): {e}")
            },
        )
        .await
    };
    let speak = async {
        let outbound = context.settings.outbound.clone();
        let call_tools = CallTools::new(can_hand_off);
        let embedder = HttpEmbedder(context.embeddings.clone());
        let tools = WorkerTools::new(&agent.config, &outbound, agent.signing_secret.as_deref())
            .with_local(&call_tools)
            .with_knowledge(&context.store, &embedder, agent)
            .with_remote_tools(&agent.id)
            .await;
        let mut system_prompt =
            call::system_prompt(&agent.config.system_prompt, phone, can_hand_off);
        // Knowledge, as on every surface; the citations are kept with the transcript, not spoken.
        let cited = app_knowledge::ground_stored_turn(
            &context.store,
            &embedder,
            agent,
            &history,
            &mut recorder,
            now_ms(),
            &mut system_prompt,
        )
        .await;
        let turn = turn::stored_turn(
            agent,
            message_id.clone(),
            models,
            &system_prompt,
            &history,
            tools.specs(),
            context.settings.subrequest_budget,
        );
        let signal = live
            .controller
            .borrow()
            .as_ref()
            .map(AbortController::signal);
        let model = HttpModel::new(context.settings.clone(), signal);
        let speaker = Rc::new(RefCell::new(Speaker {
            speech: Speech::new(),
            filler: phone.filler.trim().to_owned(),
            filler_said: false,
        }));
        let socket = Socket {
            ws: ws.clone(),
            live: live.clone(),
        };
        let sink = BodySink::over(speaker, Box::new(socket));
        let (mut outcome, mut sink, recorder) =
            tracing::run(&model, &tools, turn, sink, recorder).await;
        sink.close();
        let failed = matches!(outcome.end, TurnEnd::Failed(_));
        let finished = tracing.finish(recorder, &outcome.end, &outcome.usage);
        app_knowledge::cite(&mut outcome, &cited);
        let mut message = turn::answer_message(message_id, &start.conversation, outcome, now_ms());
        message.timing = serde_json::to_string(&finished.summary).ok();
        if let Some(export) = finished.export {
            // The call goes on while the trace is sent: the next turn never waits for it.
            let (policy, timeout_ms) = (context.settings.outbound.clone(), context.traces.1);
            worker::wasm_bindgen_futures::spawn_local(async move {
                deliver(&policy, &export, timeout_ms).await;
            });
        }
        let mut pending = Pending { message };
        if let Some(heard) = live.heard.borrow_mut().take() {
            cut_to_heard(&mut pending, &heard);
        }
        if failed {
            console_error!("the model failed during a call; the caller heard an apology");
        }
        let requests = call_tools.requests.borrow().clone();
        (pending, requests)
    };
    // Speaking is polled first, so the model request leaves before the writes' own work is
    // done in front of it.
    let ((pending, requests), started) = futures::join!(speak, write_start);
    let mut known = before;
    if let Some(question) = start.user_message.as_ref().filter(|_| started) {
        known = known.with_message(question, context::MAX_HISTORY_MESSAGES);
    }
    *caller.known.borrow_mut() = known;
    if !started {
        // The caller heard the answer, but their words are not stored: keeping the answer
        // alone would make a transcript that answers nothing.
        console_error!("the caller's words could not be stored; their answer is left out");
    }
    Done::Answered(started.then_some(pending), requests)
}

/// Speaks a turn's events: text through the speech filter, a filler while a tool runs, an
/// apology for an error. The phone's encoder for the one event sink of every surface.
struct Speaker {
    speech: Speech,
    filler: String,
    filler_said: bool,
}

impl Speaker {
    /// Ends what is held back as a word and appends `words` after a space.
    fn say_apart(&mut self, words: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(self.speech.push(" ").as_bytes());
        if out.last().is_some_and(|b| *b != b' ') {
            out.push(b' ');
        }
        out.extend_from_slice(words.as_bytes());
    }
}

impl Encode for Speaker {
    fn encode(&mut self, event: &AgentEvent, out: &mut Vec<u8>) {
        match event {
            AgentEvent::TextDelta { delta, .. } => {
                out.extend_from_slice(self.speech.push(delta).as_bytes());
            }
            AgentEvent::ToolInputAvailable { name, .. }
                if !self.filler_said
                    && !self.filler.is_empty()
                    && name != call::TRANSFER
                    && name != call::TAKE_MESSAGE =>
            {
                self.filler_said = true;
                let filler = std::mem::take(&mut self.filler);
                self.say_apart(&filler, out);
                out.push(b' ');
                self.filler = filler;
            }
            AgentEvent::Error { .. } => self.say_apart(APOLOGY, out),
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.speech.finish().as_bytes());
    }
}

/// The call's socket as a sink's transport: one `text` frame per flush, the last one with
/// `last: true` (unless the caller cut in, which stops every frame).
struct Socket {
    ws: WebSocket,
    live: Rc<Live>,
}

impl Transport for Socket {
    fn write(&self, bytes: &[u8]) -> bool {
        if self.live.stopped.get() {
            return false;
        }
        let frame = relay::text(&String::from_utf8_lossy(bytes), false);
        self.ws.send_with_str(frame).is_ok()
    }

    fn end(&self, tail: &[u8]) {
        if !self.live.stopped.get() {
            let _ = self
                .ws
                .send_with_str(relay::text(&String::from_utf8_lossy(tail), true));
        }
    }

    fn gone(&self) -> bool {
        self.live.stopped.get()
    }
}
