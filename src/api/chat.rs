//! `POST /api/agents/{agent}/chat`: one chat turn, streamed as the AI SDK UI message stream.
//!
//! The user message is stored before the model is called. The turn runs under
//! `ctx.wait_until`, so when the visitor disconnects it still stores the partial answer
//! (marked aborted) after cancelling the upstream call.

use serde_json::json;
use wasm_bindgen::prelude::*;
use worker::{
    console_error, AbortSignal, Context, Env, Headers, Request, Response, ResponseBuilder,
};

use super::chat_body::{self, MAX_BODY_BYTES};
use super::handler::load_agent;
use crate::agent::context::{self, Role};
use crate::agent::{run_turn, AgentEvent, EventSink, Turn, TurnEnd, TurnOutcome};
use crate::error::ApiError;
use crate::llm::client::HttpModel;
use crate::platform::{self, now_ms, random_id};
use crate::settings::Settings;
use crate::store::d1::D1Store;
use crate::store::{Conversation, MessageStatus, Store, StoredMessage};
use crate::stream::ui_message::{self, DONE};
use crate::tools::runner::WorkerTools;

/// Attempts to store the answer before giving up (the turn has already been streamed).
const PERSIST_ATTEMPTS: u32 = 3;

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

    let conversation = match &body.chat_id {
        Some(id) => match store.conversation(id).await? {
            Some(existing) if existing.agent_id == agent.id => existing,
            Some(_) => return Err(ApiError::NotFound("Conversation")),
            None => new_conversation(&store, id.clone(), &agent.tenant_id, &agent.id).await?,
        },
        None => new_conversation(&store, random_id("chat"), &agent.tenant_id, &agent.id).await?,
    };

    let mut history = store.messages(&conversation.id).await?;
    let known = body
        .message_id
        .as_ref()
        .and_then(|id| history.iter().position(|m| &m.id == id));
    match known {
        // The client resent a stored user message (regenerate or retry): answer it again.
        Some(pos) if history[pos].role == Role::User => {
            if pos + 1 < history.len() {
                store
                    .delete_messages_after(&conversation.id, history[pos].seq)
                    .await?;
                history.truncate(pos + 1);
            }
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "That message id belongs to an answer; send the user message with a new id.".into(),
            ))
        }
        None => {
            let mut message = StoredMessage {
                id: body.message_id.clone().unwrap_or_else(|| random_id("msg")),
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
                created_at: now_ms(),
            };
            message.seq = store.append_message(&message).await?;
            history.push(message);
        }
    }

    let tools = WorkerTools::new(&agent.config);
    let turn = Turn {
        message_id: random_id("msg"),
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
    drop(tools);

    let output = Output::new();
    let body = output.readable();
    let visitor = AbortSignal::from(req.inner().signal());
    let conversation_id = conversation.id.clone();
    ctx.wait_until(async move {
        let model = HttpModel::new(settings, Some(visitor));
        let tools = WorkerTools::new(&agent.config);
        let sink = OutputSink {
            output,
            buffer: Vec::with_capacity(1024),
        };
        let message_id = turn.message_id.clone();
        let (outcome, sink) = run_turn(&model, &tools, turn, sink).await;
        let message = assistant_message(message_id, &conversation, outcome);
        persist(&store, &message).await;
        sink.output.write(DONE);
        sink.output.close();
    });

    let headers = Headers::new();
    for (name, value) in ui_message::HEADERS {
        headers
            .set(name, value)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    headers
        .set("x-conversation-id", &conversation_id)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(ResponseBuilder::new()
        .with_status(200)
        .with_headers(headers)
        .stream(body))
}

async fn new_conversation(
    store: &D1Store,
    id: String,
    tenant_id: &str,
    agent_id: &str,
) -> Result<Conversation, ApiError> {
    let now = now_ms();
    let conversation = Conversation {
        id,
        tenant_id: tenant_id.to_owned(),
        agent_id: agent_id.to_owned(),
        created_at: now,
        updated_at: now,
    };
    store.create_conversation(&conversation).await?;
    Ok(conversation)
}

/// Encodes events into a buffer and writes it to the response body once per flush.
struct OutputSink {
    output: Output,
    buffer: Vec<u8>,
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
            Ok(_) => return,
            Err(e) => console_error!(
                "storing answer {} failed (attempt {attempt}): {e}",
                message.id
            ),
        }
    }
}
