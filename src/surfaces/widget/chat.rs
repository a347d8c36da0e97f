//! `POST /api/agents/{agent}/chat`: one chat turn, streamed as the AI SDK UI message stream.
//!
//! Before answering, the handler validates the body and loads the agent (usually from the
//! isolate cache), so bad requests and unknown agents get a JSON error with the right status. It
//! then returns the stream at once, with no store round trip in front of the first byte; the
//! turn runs under `ctx.wait_until`: it reads the conversation, stores the user message (while
//! the model is called), runs the agent loop, and stores the answer, also when the visitor
//! disconnects (partial, marked aborted).

use worker::{console_error, AbortSignal, Context, Env, Headers, Response, ResponseBuilder};

use super::body::{self as chat_body, ChatBody, MAX_BODY_BYTES};
use std::cell::RefCell;
use std::rc::Rc;

use crate::agent::context;
use crate::agent::{AgentEvent, EventSink, TurnEnd};
use crate::app::access::tenant_of_key;
use crate::app::knowledge as app_knowledge;
use crate::app::observe as tracing;
use crate::app::turn::{self, TurnPlan, TurnRead, TurnRequest};
use crate::auth::crypto::hex;
use crate::auth::keys;
use crate::dates::{utc_day, utc_month};
use crate::error::ApiError;
use crate::http::log;
use crate::http::output::{BodySink, Encode, Output};
use crate::http::request::read_body;
use crate::http::Inbound;
use crate::knowledge::client::{embedding_settings, HttpEmbedder};
use crate::llm::client::HttpModel;
use crate::llm::{FinishReason, Usage};
use crate::observe::export::{begin_turn, deliver, operator_targets, tenant_targets};
use crate::observe::TraceMeta;
use crate::platform::{self, now_ms, random_id};
use crate::settings::Settings;
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::{Agent, ConversationState, Store, StoreError, TurnQuery};
use crate::stream::ui_message::{self, DONE};
use crate::tools::runner::WorkerTools;

/// Handles a chat request from `visitor_id`, already authorised and rate-limited.
pub async fn handle(
    mut req: Inbound,
    env: &Env,
    ctx: &Context,
    store: AnyStore,
    agent: Agent,
    visitor_id: &str,
) -> Result<Response, ApiError> {
    // A preview mark needs the tenant's secret key (the dashboard sends it); it is checked
    // against the store only when a new conversation asks for one, in `plan_turn`.
    let preview_key = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .and_then(|h| keys::bearer(&h).map(str::to_owned));
    let bytes = read_body(&mut req, MAX_BODY_BYTES).await?;
    let mut body = chat_body::parse(&bytes, agent.config.limits.max_message_chars as usize)?;
    let system_prompt = turn::system_prompt(&agent, body.context_note());
    let visitor_id = visitor_id.to_owned();
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
    headers
        .set(log::TRACE, &hex(&tracing::trace_id_for(&message_id)))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let embeddings = embedding_settings(env);
    let output = Output::new();
    let stream = output.readable();
    let visitor = AbortSignal::from(req.inner().signal());
    let (mut targets, export_timeout_ms) = operator_targets(env);
    let started_ms = now_ms();
    let preview = preview_key.clone();
    let meta = TraceMeta {
        surface: "widget".into(),
        channel: body.channel.clone(),
        tenant_id: agent.tenant_id.clone(),
        agent_id: agent.id.clone(),
        conversation_id: Some(conversation_id.clone()),
        user_id: Some(visitor_id.clone()),
        message_id: message_id.clone(),
        input: Some(body.text.clone()),
        environment: None,
    };
    let policy = settings.outbound.clone();
    ctx.wait_until(async move {
        let mut sink = BodySink::new(Rc::new(RefCell::new(UiEncoder)), Some(output));
        sink.send(&AgentEvent::Start {
            message_id: message_id.clone(),
        });
        sink.flush();
        let model = HttpModel::new(settings.clone(), Some(visitor));
        let outbound = settings.outbound.clone();
        let embedder = HttpEmbedder(embeddings);
        let preview_asked = body.preview && preview_key.is_some();
        let guessable = body.starts_conversation && !preview_asked;
        let chat_id = body.chat_id.take();
        let request = turn_request(conversation_id, &visitor_id, &mut body);
        // The tools (the MCP servers' listings, usually cached) do not depend on the store, so
        // they are ready by the time it answers. With them, a question that starts a
        // conversation is sent to the model at once, as it will most likely be planned
        // (`turn::guess`): the model's first token then overlaps the store's round trip. The
        // turn keeps that response only if it plans exactly the same request.
        let tools = async {
            let tools = WorkerTools::new(&agent.config, &outbound, agent.signing_secret.as_deref())
                .with_knowledge(&store, &embedder, &agent)
                .with_remote_tools(&agent.id)
                .await;
            let guess = guessable
                .then(|| {
                    turn::guess::first_request_of_new_conversation(
                        &agent,
                        &request,
                        &system_prompt,
                        &message_id,
                        tools.specs(),
                        settings.subrequest_budget,
                    )
                })
                .flatten();
            if let Some(guess) = guess {
                model.prefetch(&guess);
            }
            tools
        };
        // The store work happens after the stream has started, so the visitor sees the answer
        // begin at once; its failures (even "not your conversation") arrive in band. The
        // tenant's own trace targets (cached per isolate) are read alongside.
        let (tools, planned, tenant_targets) = futures::join!(
            tools,
            plan_turn(
                &store,
                &agent,
                request.clone(),
                chat_id.as_deref(),
                preview_key.filter(|_| preview_asked)
            ),
            tenant_targets(&store, &agent.tenant_id)
        );
        targets.extend(tenant_targets);
        let extra: Vec<&str> = preview.as_deref().into_iter().collect();
        let (tracing, mut recorder) = begin_turn(&targets, &agent, meta, &settings, &extra);
        recorder.started_at(started_ms);
        let (
            TurnPlan {
                mut start,
                history,
                models,
            },
            started,
        ) = match planned {
            Ok(planned) => planned,
            Err(error) => {
                if let Some(detail) = error.log_detail() {
                    console_error!("planning the turn failed: {detail}");
                }
                // A guess sent to the model is cancelled with the client.
                drop(model);
                fail(&mut sink, &error.to_string());
                let end = TurnEnd::Failed(error.to_string());
                let finished = tracing.finish(recorder, &end, &Usage::default());
                if let Some(export) = finished.export {
                    deliver(&policy, &export, export_timeout_ms).await;
                }
                return;
            }
        };
        // Once the answer is stored, a late retry of this start must not change anything.
        start.answer_id = Some(message_id.clone());
        // A question the read could not store (a regenerated answer, a preview's first
        // message, a store that failed) is written while the model is called, not before: no
        // store round trip more in front of the first token. Both finish before the answer is
        // stored. When the store cannot take the user message now, the visitor still gets the
        // answer and the writes are retried after it (bounded), rather than failing the turn.
        let write_start = async {
            if started {
                return None;
            }
            match store.start_turn(&start).await {
                Ok(()) => None,
                Err(e) => {
                    console_error!("storing the user message failed, answering anyway: {e}");
                    Some(start.clone())
                }
            }
        };
        let answer = async {
            // Knowledge: the passages go into the system prompt, the citations to the visitor
            // before the answer, and into the stored message.
            let mut system_prompt = system_prompt;
            let cited = app_knowledge::ground_stored_turn(
                &store,
                &embedder,
                &agent,
                &history,
                &mut recorder,
                now_ms(),
                &mut system_prompt,
            )
            .await;
            for event in &cited {
                sink.send(event);
            }
            let turn = turn::stored_turn(
                &agent,
                message_id.clone(),
                models,
                &system_prompt,
                &history,
                tools.specs(),
                settings.subrequest_budget,
            );
            let (outcome, sink, recorder) =
                tracing::run(&model, &tools, turn, sink, recorder).await;
            (outcome, sink, recorder, cited)
        };
        // The answer is polled first, so the model request leaves before the write's own work
        // (statements built, bound, handed to the store) is done in front of it.
        let ((mut outcome, mut sink, recorder, cited), unsaved_start) =
            futures::join!(answer, write_start);
        turn::guess::spent(&agent.tenant_id, &agent.id, outcome.usage.cost);
        let finished = tracing.finish(recorder, &outcome.end, &outcome.usage);
        app_knowledge::cite(&mut outcome, &cited);
        let mut message = turn::answer_message(message_id, &start.conversation, outcome, now_ms());
        message.timing = serde_json::to_string(&finished.summary).ok();
        let day = utc_day(message.created_at);
        // Normally the answer is stored before `[DONE]`, so a client that reloads at once sees
        // it. When that fails (or the user message is still unsaved), the stream ends first and
        // the writes are retried after it.
        let stored = unsaved_start.is_none()
            && store
                .append_answer(&message, &agent.id, &day)
                .await
                .inspect_err(|e| console_error!("storing the answer failed, retrying: {e}"))
                .is_ok();
        end(&mut sink);
        // After the answer: the export and any write still owed run side by side; neither
        // can change what the visitor already has.
        let export = async {
            if let Some(export) = &finished.export {
                deliver(&policy, export, export_timeout_ms).await;
            }
        };
        let persist = async {
            if stored {
                return;
            }
            if let Some(start) = unsaved_start {
                if !retry(|| store.start_turn(&start), "the user message").await {
                    return;
                }
            }
            retry(
                || store.append_answer(&message, &agent.id, &day),
                "the answer",
            )
            .await;
        };
        futures::join!(export, persist);
    });

    Ok(ResponseBuilder::new()
        .with_status(200)
        .with_headers(headers)
        .stream(stream))
}

/// Whether `presented` is a live secret key of the tenant (a visitor cannot mark a preview).
async fn is_tenant_key(store: &AnyStore, presented: &str, tenant_id: &str) -> bool {
    let Some(lookup) = keys::secret_lookup(presented) else {
        return false;
    };
    match store.keys_by_lookup(lookup).await {
        Ok(candidates) => tenant_of_key(presented, &candidates).is_ok_and(|t| t == tenant_id),
        Err(_) => false,
    }
}

/// The turn a chat body asks for, with fresh ids for what the client did not name.
fn turn_request(conversation_id: String, visitor_id: &str, body: &mut ChatBody) -> TurnRequest {
    TurnRequest {
        conversation_id,
        fresh_message_id: random_id("msg"),
        visitor_id: visitor_id.to_owned(),
        now: now_ms(),
        page_url: body.page_url().map(str::to_owned),
        channel: body.channel.clone(),
        message_id: body.message_id.take(),
        text: std::mem::take(&mut body.text),
        preview: false,
    }
}

/// Reads the store once and plans the turn (`app::turn::plan`); a new question is stored in
/// the same round trip when the read allows it (`Store::begin_turn`), and the plan says so
/// (the second value). When the store is unreachable but the agent's config is cached, the turn
/// is answered without history: ownership cannot be checked, so the exchange goes into a
/// conversation of its own. A preview mark (`preview_key`: the key it was asked with) is
/// checked against the store after the read, so such a turn's first message is stored after
/// it too.
async fn plan_turn(
    store: &AnyStore,
    agent: &Agent,
    mut request: TurnRequest,
    chat_id: Option<&str>,
    preview_key: Option<String>,
) -> Result<(TurnPlan, bool), ApiError> {
    let month = utc_month(request.now);
    let eager = preview_key
        .is_none()
        .then(|| turn::eager_start(agent, &request));
    let query = TurnQuery {
        tenant_id: &agent.tenant_id,
        agent_id: &agent.id,
        conversation_id: chat_id,
        resent_message_id: match &eager {
            Some(eager) => Some(eager.message.id.as_str()),
            None => request.message_id.as_deref(),
        },
        month: &month,
        history_limit: context::MAX_HISTORY_MESSAGES as u32,
    };
    let scope = store.tenant_scope(&agent.tenant_id);
    let TurnRead {
        context,
        stored,
        unreachable,
    } = turn::read(&scope, &query, eager.as_ref()).await?;
    if let Some(detail) = unreachable {
        console_error!("store unreachable, answering without history: {detail}");
        request.conversation_id = random_id("chat");
    }
    if let Some(presented) = preview_key.as_deref() {
        if matches!(context.conversation, ConversationState::Missing) {
            request.preview = is_tenant_key(store, presented, &agent.tenant_id).await;
        }
    }
    let plan = turn::plan(agent, context, request)?;
    let stored =
        stored && eager.is_some_and(|eager| turn::eager_start_matches(&plan.start, &eager));
    Ok((plan, stored))
}

/// The AI SDK UI message stream encoder.
struct UiEncoder;

impl Encode for UiEncoder {
    fn encode(&mut self, event: &AgentEvent, out: &mut Vec<u8>) {
        ui_message::encode(event, out);
    }
}

/// Ends the stream with an error the visitor can read.
fn fail(sink: &mut BodySink, message: &str) {
    sink.send(&AgentEvent::Error {
        message: message.to_owned(),
    });
    sink.send(&AgentEvent::Finish {
        reason: FinishReason::Error,
    });
    end(sink);
}

/// Flushes, terminates the stream with `[DONE]` and closes it.
fn end(sink: &mut BodySink) {
    sink.buffer().extend_from_slice(DONE);
    sink.close();
}

/// Retries a store write after the answer (`app::turn::persist`), pausing with worker timers.
async fn retry<F, Fut>(write: F, what: &str) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    turn::persist(
        write,
        |ms| worker::Delay::from(std::time::Duration::from_millis(ms)),
        |attempt, e| console_error!("storing {what} failed (attempt {attempt}): {e}"),
    )
    .await
}
