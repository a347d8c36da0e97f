//! `POST /api/agents/{agent}/chat`: one chat turn, streamed as the AI SDK UI message stream.
//!
//! Before answering, the handler validates the body and loads the agent (usually from the
//! isolate cache), so bad requests and unknown agents get a JSON error with the right status. It
//! then returns the stream at once, with no store round trip in front of the first byte; the
//! turn runs under `ctx.wait_until`: it reads the conversation, stores the user message (before
//! the model is called), runs the agent loop, and stores the answer, also when the visitor
//! disconnects (partial, marked aborted).

use serde_json::json;
use wasm_bindgen::prelude::*;
use worker::{
    console_error, AbortSignal, Context, Env, Headers, Request, Response, ResponseBuilder,
};

use super::chat_body::{self, ChatBody, MAX_BODY_BYTES};
use super::handler::load_agent;
use crate::agent::context::{self, Role};
use crate::agent::{run_turn, AgentEvent, EventSink, Turn, TurnEnd, TurnOutcome};
use crate::error::ApiError;
use crate::llm::client::HttpModel;
use crate::llm::FinishReason;
use crate::platform::{self, now_ms, random_id};
use crate::settings::Settings;
use crate::store::d1::D1Store;
use crate::store::{Agent, Conversation, MessageStatus, Store, StoredMessage, TurnStart};
use crate::stream::ui_message::{self, DONE};
use crate::tools::runner::WorkerTools;

/// Attempts to store the answer before giving up (the turn has already been streamed).
const PERSIST_ATTEMPTS: u32 = 3;
/// What the visitor reads when the user message cannot be stored.
const NOT_SAVED: &str = "Your message could not be saved, so it was not sent. Please try again.";

#[wasm_bindgen(module = "/src/js/stream.js")]
extern "C" {
    /// The response body the engine writes into (see `src/js/stream.js`).
    type Output;

    #[wasm_bindgen(constructor)]
    fn new() -> Output;

    #[wasm_bindgen(method, getter)]
    fn readable(this: &Output) -> worker::web_sys::ReadableStream;

    #[wasm_bindgen(method)]
    fn write(this: &Output, bytes: &[u8]) -> bool;

    #[wasm_bindgen(method)]
    fn close(this: &Output);
}

/// Handles a chat request.
pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    agent_id: &str,
) -> Result<Response, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| ApiError::BadRequest(format!("Could not read the body: {e}")))?;
    let body = chat_body::parse(&bytes)?;
    let store = D1Store::from_env(env)?;
    let agent = load_agent(&store, agent_id).await?;
    let settings = platform::settings(env);
    if !settings.model_configured() {
        return Err(ApiError::NotConfigured(
            Settings::missing_key_message().into(),
        ));
    }
    let conversation_id = body.chat_id.clone().unwrap_or_else(|| random_id("chat"));
    let message_id = random_id("msg");
    let headers = Headers::new();
    for (name, value) in ui_message::HEADERS {
        headers
            .set(name, value)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    headers
        .set("x-conversation-id", &conversation_id)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let output = Output::new();
    let stream = output.readable();
    let visitor = AbortSignal::from(req.inner().signal());
    ctx.wait_until(async move {
        let mut sink = OutputSink {
            output,
            buffer: Vec::with_capacity(1024),
        };
        sink.send(&AgentEvent::Start {
            message_id: message_id.clone(),
        });
        sink.flush();
        // The store work happens after the stream has started, so the visitor sees the answer
        // begin at once; its failures (even "not your conversation") arrive in band.
        let (start, history) = match plan_turn(&store, &agent, conversation_id, body).await {
            Ok(planned) => planned,
            Err(error) => {
                if let Some(detail) = error.log_detail() {
                    console_error!("planning the turn failed: {detail}");
                }
                return sink.fail(&error.to_string());
            }
        };
        if let Err(e) = store.start_turn(&start).await {
            console_error!("storing the user message failed: {e}");
            return sink.fail(NOT_SAVED);
        }
        let allowed_hosts = settings.webhook_allow_hosts.clone();
        let tools = WorkerTools::new(&agent.config, &allowed_hosts);
        let turn = Turn {
            message_id: message_id.clone(),
            models: agent.config.model_chain(),
            messages: context::build(
                &agent.config.system_prompt,
                history.iter().map(|m| (m.role, m.parts.as_slice())),
            ),
            tools: tools.specs(),
            temperature: agent.config.temperature,
            max_tokens: agent.config.max_tokens,
            max_steps: agent.config.max_steps,
        };
        let model = HttpModel::new(settings, Some(visitor));
        let (outcome, mut sink) = run_turn(&model, &tools, turn, sink).await;
        let message = assistant_message(message_id, &start.conversation, outcome);
        persist(&store, &message).await;
        sink.end();
    });

    Ok(ResponseBuilder::new()
        .with_status(200)
        .with_headers(headers)
        .stream(stream))
}

/// Works out what the turn writes and the history it answers, with one read of the store.
async fn plan_turn(
    store: &D1Store,
    agent: &Agent,
    conversation_id: String,
    body: ChatBody,
) -> Result<(TurnStart, Vec<StoredMessage>), ApiError> {
    let now = now_ms();
    let existing = match &body.chat_id {
        Some(id) => store.conversation(id).await?,
        None => None,
    };
    let (conversation, mut history, create) = match existing {
        Some((conversation, _)) if conversation.agent_id != agent.id => {
            return Err(ApiError::NotFound("Conversation"))
        }
        Some((conversation, history)) => (conversation, history, false),
        None => {
            let conversation = Conversation {
                id: conversation_id,
                tenant_id: agent.tenant_id.clone(),
                agent_id: agent.id.clone(),
                created_at: now,
                updated_at: now,
            };
            (conversation, Vec::new(), true)
        }
    };
    let known = body
        .message_id
        .as_ref()
        .and_then(|id| history.iter().position(|m| &m.id == id));
    let mut replace_after = None;
    let mut user_message = None;
    match known {
        // The client resent a stored user message (regenerate or retry): answer it again.
        Some(pos) if history[pos].role == Role::User => {
            if pos + 1 < history.len() {
                replace_after = Some(history[pos].seq);
                history.truncate(pos + 1);
            }
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "That message id belongs to an answer; send the user message with a new id.".into(),
            ))
        }
        None => {
            let message = StoredMessage {
                id: body.message_id.unwrap_or_else(|| random_id("msg")),
                conversation_id: conversation.id.clone(),
                tenant_id: conversation.tenant_id.clone(),
                seq: 0,
                role: Role::User,
                parts: vec![json!({ "type": "text", "text": body.text })],
                status: MessageStatus::Complete,
                model: None,
                finish_reason: None,
                usage: Default::default(),
                error: None,
                created_at: now,
            };
            history.push(message.clone());
            user_message = Some(message);
        }
    }
    let start = TurnStart {
        conversation,
        create,
        replace_after,
        user_message,
    };
    Ok((start, history))
}

/// Encodes events into a buffer and writes it to the response body once per flush.
struct OutputSink {
    output: Output,
    buffer: Vec<u8>,
}

impl OutputSink {
    /// Ends the stream with an error the visitor can read.
    fn fail(&mut self, message: &str) {
        self.send(&AgentEvent::Error {
            message: message.to_owned(),
        });
        self.send(&AgentEvent::Finish {
            reason: FinishReason::Error,
        });
        self.end();
    }

    /// Flushes, terminates the stream with `[DONE]` and closes it.
    fn end(&mut self) {
        self.buffer.extend_from_slice(DONE);
        self.flush();
        self.output.close();
    }
}

impl EventSink for OutputSink {
    fn send(&mut self, event: &AgentEvent) {
        ui_message::encode(event, &mut self.buffer);
    }

    fn flush(&mut self) -> bool {
        if self.buffer.is_empty() {
            return true;
        }
        let delivered = self.output.write(&self.buffer);
        self.buffer.clear();
        delivered
    }
}

fn assistant_message(
    id: String,
    conversation: &Conversation,
    outcome: TurnOutcome,
) -> StoredMessage {
    let (status, finish_reason, error) = match outcome.end {
        TurnEnd::Finished(reason) => (
            MessageStatus::Complete,
            Some(reason.as_str().to_owned()),
            None,
        ),
        TurnEnd::Failed(message) => (
            MessageStatus::Error,
            Some("error".to_owned()),
            Some(message),
        ),
        TurnEnd::Aborted => (MessageStatus::Aborted, None, None),
    };
    StoredMessage {
        id,
        conversation_id: conversation.id.clone(),
        tenant_id: conversation.tenant_id.clone(),
        seq: 0,
        role: Role::Assistant,
        parts: outcome.parts,
        status,
        model: outcome.model,
        finish_reason,
        usage: outcome.usage,
        error,
        created_at: now_ms(),
    }
}

async fn persist(store: &D1Store, message: &StoredMessage) {
    for attempt in 1..=PERSIST_ATTEMPTS {
        match store.append_message(message).await {
            Ok(()) => return,
            Err(e) => console_error!(
                "storing answer {} failed (attempt {attempt}): {e}",
                message.id
            ),
        }
    }
}
