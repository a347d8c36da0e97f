//! The OpenAI-compatible endpoints: authenticate the key (`app::access`), parse the request
//! (`request`), hand the turn to the turn service and encode what comes back (`encode`).
//!
//! A stream starts as soon as the request is checked (key and agent from the isolate cache, no
//! store round trip in front of the first byte); the spend check, the stored conversation (when
//! asked for) and the usage are written under `ctx.wait_until`, as on the widget surface. A
//! refusal found then (a spend cap) arrives as the stream's error event. A non-streamed
//! completion does the same work before it answers, so every refusal has its HTTP status.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{console_error, AbortSignal, Context, Env, Headers, Response, ResponseBuilder};

use super::encode::{self, Encoder, Meta};
use super::models;
use super::request::{self, CompletionRequest, MAX_BODY_BYTES};
use crate::agent::{first_request, EventSink, Turn, TurnEnd, TurnOutcome};
use crate::app::access::{api_caller, api_key_lookup, bearer_token, callable_agent, ApiCaller};
use crate::app::knowledge as app_knowledge;
use crate::app::observe as tracing;
use crate::app::turn::{self, StatelessPlan, StatelessRequest};
use crate::auth::rate_limit::{Check, Scope};
use crate::dates::{utc_day, utc_month};
use crate::error::ApiError;
use crate::http::output::{BodySink, Output};
use crate::http::rate;
use crate::http::request::read_body;
use crate::http::response::{json_response, openai_error_response};
use crate::http::routes::OpenAiRoute;
use crate::http::Inbound;
use crate::knowledge::client::{embedding_settings, HttpEmbedder};
use crate::knowledge::embed::EmbeddingSettings;
use crate::llm::client::HttpModel;
use crate::llm::{ModelRequest, Sampling, ToolChoice, ToolSpec, Usage};
use crate::observe::export::{begin_turn, deliver, operator_targets, tenant_targets};
use crate::observe::{ExportTarget, TraceMeta, TurnRecorder};
use crate::platform::{self, now_ms, random_id};
use crate::settings::Settings;
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::{Agent, Store, StoreError, TurnQuery, TurnStart};
use crate::tools::runner::WorkerTools;

/// Requests a minute an API key may make when it sets no limit of its own.
pub const DEFAULT_KEY_PER_MINUTE: u32 = 300;
/// Most agents `GET /v1/models` lists for a key that reaches every agent.
pub const MAX_LISTED_MODELS: u32 = 500;

/// What an OpenAI-compatible request ended with, and whether the page that sent it may read
/// it (the key is marked for browser use).
pub struct Reply {
    /// The response, or the error to answer in OpenAI's shape.
    pub result: Result<Response, ApiError>,
    /// Whether to send CORS headers.
    pub cors: bool,
}

/// Handles an OpenAI-compatible request.
pub async fn handle(req: Inbound, env: &Env, ctx: &Context, route: OpenAiRoute) -> Reply {
    let mut cors = false;
    let result = serve(req, env, ctx, route, &mut cors).await;
    Reply { result, cors }
}

async fn serve(
    req: Inbound,
    env: &Env,
    ctx: &Context,
    route: OpenAiRoute,
    cors: &mut bool,
) -> Result<Response, ApiError> {
    let store = AnyStore::from_env(env)?;
    let authorization = req.headers().get("authorization").ok().flatten();
    let presented = bearer_token(authorization.as_deref())?;
    let lookup = api_key_lookup(presented)?;
    let caller = api_caller(presented, &store.live_keys(lookup).await?)?;
    *cors = caller.scope.browser;
    let per_key = Check::new(
        Scope::Key,
        &caller.key_id,
        caller.scope.per_minute.unwrap_or(DEFAULT_KEY_PER_MINUTE),
    );
    rate::enforce(env, &[per_key]).await?;
    match route {
        OpenAiRoute::Models => json_response(&models::list(&listed_agents(&store, &caller).await?)),
        OpenAiRoute::Model(model) => {
            let agent_id = model.strip_prefix(request::MODEL_PREFIX).unwrap_or(&model);
            let agent = callable_agent(&caller, &model, store.live_agent(agent_id).await?)?;
            json_response(&models::model(&agent))
        }
        OpenAiRoute::ChatCompletions => completions(req, env, ctx, store, caller).await,
    }
}

/// The agents a key may call, enabled ones only.
async fn listed_agents(store: &AnyStore, caller: &ApiCaller) -> Result<Vec<Agent>, ApiError> {
    let agents = match &caller.scope.agents {
        Some(ids) => {
            let mut agents = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(agent) = store.live_agent(id).await? {
                    agents.push(agent);
                }
            }
            agents
        }
        None => {
            store
                .tenant_scope(&caller.tenant_id)
                .agents(None, MAX_LISTED_MODELS)
                .await?
        }
    };
    Ok(agents
        .into_iter()
        .filter(|a| a.tenant_id == caller.tenant_id && a.enabled && a.tenant_active)
        .collect())
}

/// `POST /v1/chat/completions`.
async fn completions(
    mut req: Inbound,
    env: &Env,
    ctx: &Context,
    store: AnyStore,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    let bytes = read_body(&mut req, MAX_BODY_BYTES).await?;
    let request = request::parse(&bytes)?;
    let agent = callable_agent(
        &caller,
        &request.model,
        store.live_agent(&request.agent_id).await?,
    )?;
    let settings = platform::settings(env);
    if !settings.model_configured() {
        return Err(ApiError::NotConfigured(
            Settings::missing_key_message().into(),
        ));
    }
    let ip = req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into());
    let limits = &agent.config.limits;
    rate::enforce(
        env,
        &[
            Check::new(
                Scope::Ip,
                &format!("{}:{ip}", agent.tenant_id),
                limits.ip_per_minute,
            ),
            Check::new(Scope::Tenant, &agent.tenant_id, limits.tenant_per_minute),
        ],
    )
    .await?;
    turn::check_messages(&agent, &request.messages)?;
    let visitor = AbortSignal::from(req.inner().signal());
    let call = Call::new(agent, caller, request)?;
    let traces = operator_targets(env);
    let runtime = Runtime {
        settings,
        visitor,
        embeddings: embedding_settings(env),
    };
    if !call.stream {
        let (encoder, usage) = call.execute(&store, runtime, traces, None).await?;
        let encoder = encoder.borrow();
        if let Some(failure) = encoder.failure() {
            // The question (and the failed answer) may be stored: say where, as on success.
            let error = ApiError::ModelFailed(failure.to_owned());
            let mut response =
                openai_error_response(&error).map_err(|e| ApiError::Internal(e.to_string()))?;
            call.conversation_header(response.headers_mut())?;
            return Ok(response);
        }
        let mut response = json_response(&encoder.completion(&usage))?;
        call.conversation_header(response.headers_mut())?;
        return Ok(response);
    }
    let mut headers = Headers::new();
    for (name, value) in encode::STREAM_HEADERS {
        headers
            .set(name, value)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    call.conversation_header(&mut headers)?;
    let output = Output::new();
    let body = output.readable();
    ctx.wait_until(async move {
        let executed = call.execute(&store, runtime, traces, Some(output)).await;
        if let Err(error) = executed {
            if let Some(detail) = error.log_detail() {
                console_error!("planning the API turn failed: {detail}");
            }
        }
    });
    Ok(ResponseBuilder::new()
        .with_status(200)
        .with_headers(headers)
        .stream(body))
}

/// What a call runs with from its request and the environment.
struct Runtime {
    settings: Settings,
    /// Aborts when the caller goes away.
    visitor: AbortSignal,
    embeddings: EmbeddingSettings,
}

/// One checked completion request, ready to run.
struct Call {
    agent: Agent,
    /// The answer's id (and so its trace's).
    answer_id: String,
    stream: bool,
    stateless: StatelessRequest,
    meta: Meta,
    include_usage: bool,
    client_tools: Vec<ToolSpec>,
    tool_choice: Option<ToolChoice>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    sampling: Sampling,
}

impl Call {
    fn new(agent: Agent, caller: ApiCaller, request: CompletionRequest) -> Result<Self, ApiError> {
        let server_tools = crate::tools::Registry::for_agent(&agent.config).specs();
        for (i, tool) in request.tools.iter().enumerate() {
            if server_tools.iter().any(|s| s.name() == tool.name()) {
                return Err(ApiError::invalid(
                    format!("tools[{i}].function.name"),
                    format!(
                        "This agent has a tool of its own named {}; give yours another name.",
                        tool.name()
                    ),
                ));
            }
        }
        if let Some(ToolChoice::Function(name)) = &request.tool_choice {
            let offered = |specs: &[ToolSpec]| specs.iter().any(|s| s.name() == name);
            if !offered(&server_tools) && !offered(&request.tools) {
                return Err(ApiError::invalid(
                    "tool_choice",
                    format!("tool_choice names {name}, which is not among the tools."),
                ));
            }
        }
        let now = now_ms();
        let store = request.store || agent.config.store_api_conversations;
        let max_tokens = match (request.max_tokens, agent.config.max_tokens) {
            (Some(asked), Some(cap)) => Some(asked.min(cap)),
            (asked, cap) => asked.or(cap),
        };
        Ok(Self {
            stream: request.stream,
            meta: Meta {
                id: format!("chatcmpl-{}", random_id("").trim_start_matches('_')),
                created: now / 1000,
                model: request.model,
            },
            include_usage: request.include_usage,
            tool_choice: request.tool_choice,
            temperature: request.temperature.or(agent.config.temperature),
            max_tokens,
            sampling: request.sampling,
            stateless: StatelessRequest {
                messages: request.messages,
                store,
                visitor_id: request
                    .user
                    .unwrap_or_else(|| format!("api:{}", caller.key_id)),
                conversation_id: random_id("chat"),
                message_id: random_id("msg"),
                now,
            },
            client_tools: request.tools,
            answer_id: random_id("msg"),
            agent,
        })
    }

    /// `x-conversation-id` when the exchange is stored.
    fn conversation_header(&self, headers: &mut Headers) -> Result<(), ApiError> {
        if self.stateless.store {
            headers
                .set("x-conversation-id", &self.stateless.conversation_id)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        Ok(())
    }

    fn encoder(&self) -> Rc<RefCell<Encoder>> {
        let encoder = Encoder::new(
            self.meta.clone(),
            self.stream,
            self.include_usage,
            self.client_tools
                .iter()
                .map(|t| t.name().to_owned())
                .collect(),
        );
        Rc::new(RefCell::new(encoder))
    }

    /// Reads this month's spend and plans the turn; a stored exchange's question is stored in
    /// the same round trip when the read allows it (`Store::begin_turn`; the second value says
    /// so). An unreachable store does not stop the answer (as on the widget surface); its usage
    /// is then written when the store is back.
    async fn plan(&self, store: &AnyStore) -> Result<(StatelessPlan, bool), ApiError> {
        let agent = &self.agent;
        let month = utc_month(self.stateless.now);
        let scope = store.tenant_scope(&agent.tenant_id);
        let eager = turn::eager_stateless(agent, &self.stateless);
        // No conversation named: the read is this month's spend (and the eager start, if any).
        let query = TurnQuery {
            tenant_id: &agent.tenant_id,
            agent_id: &agent.id,
            conversation_id: None,
            resent_message_id: eager.as_ref().map(|e| e.message.id.as_str()),
            month: &month,
            history_limit: 0,
        };
        let read = turn::read(&scope, &query, eager.as_ref()).await?;
        if let Some(detail) = read.unreachable {
            console_error!("store unreachable, answering without the spend check: {detail}");
        }
        let plan = turn::plan_stateless(agent, read.context.spend, self.stateless.clone())?;
        // The store wrote the eager start only if the plan makes that same start.
        let started = read.stored
            && eager.is_some_and(|eager| {
                plan.start
                    .as_ref()
                    .is_some_and(|start| turn::eager_start_matches(start, &eager))
            });
        Ok((plan, started))
    }

    /// Runs the planned turn into `sink` (grounded in the agent's knowledge, recorded for its
    /// trace); stores the conversation's start first when asked.
    async fn run(
        &self,
        store: &AnyStore,
        (model, tools, embedder): (&HttpModel, &WorkerTools<'_>, &HttpEmbedder),
        subrequest_budget: u32,
        plan: (StatelessPlan, bool),
        mut sink: BodySink,
        mut recorder: TurnRecorder,
    ) -> (TurnOutcome, BodySink, TurnRecorder, Option<TurnStart>, bool) {
        let (mut plan, started) = plan;
        let mut start = plan.start.take();
        if let Some(start) = &mut start {
            start.answer_id = Some(self.answer_id.clone());
        }
        let unsaved = match &start {
            Some(_) if started => false,
            Some(start) => store
                .start_turn(start)
                .await
                .inspect_err(|e| {
                    console_error!("storing the question failed, answering anyway: {e}")
                })
                .is_err(),
            None => false,
        };
        let agent = &self.agent;
        if agent.config.knowledge.enabled() {
            let query = app_knowledge::query_of_messages(&plan.messages);
            if let Some((block, _)) =
                app_knowledge::grounding(store, embedder, agent, &query, &mut recorder, now_ms())
                    .await
            {
                plan.ground(&block);
            }
        }
        let turn = self.turn(plan, tools.specs(), subrequest_budget);
        sink.flush();
        let (outcome, sink, recorder) = tracing::run(model, tools, turn, sink, recorder).await;
        (outcome, sink, recorder, start, unsaved)
    }

    /// The engine's turn of `plan`, with the agent's tools (`specs`) and the caller's.
    fn turn(&self, plan: StatelessPlan, mut specs: Vec<ToolSpec>, subrequest_budget: u32) -> Turn {
        // The caller's tool names were checked against the agent's own tools; a remote MCP
        // tool (`server__tool`, known only now) keeps its name, and the caller's of that name
        // is not offered.
        let client: Vec<ToolSpec> = self
            .client_tools
            .iter()
            .filter(|c| !specs.iter().any(|s| s.name() == c.name()))
            .cloned()
            .collect();
        let client_tools: Vec<String> = client.iter().map(|t| t.name().to_owned()).collect();
        specs.extend(client);
        Turn {
            message_id: self.answer_id.clone(),
            models: plan.models,
            messages: plan.messages,
            tools: specs,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            max_steps: self.agent.config.step_limit(),
            client_tools,
            tool_choice: self.tool_choice.clone(),
            sampling: self.sampling.clone(),
            subrequest_budget,
        }
    }

    /// The model request the turn will most likely send first, planned with the spend this
    /// isolate last read (`turn::guess`), so it can go out before the store answers; `None`
    /// when that is unknown under a cap, the plan refuses, or knowledge is searched first.
    fn guess(&self, specs: Vec<ToolSpec>, subrequest_budget: u32) -> Option<ModelRequest> {
        let mut plan = turn::guess::stateless(&self.agent, &self.stateless)?;
        if self.agent.config.knowledge.enabled() {
            plan.ground(&app_knowledge::prompt_without_search(&self.agent)?);
        }
        Some(first_request(&self.turn(plan, specs, subrequest_budget)))
    }

    /// What the turn's trace says of it.
    fn trace_meta(&self) -> TraceMeta {
        let question = app_knowledge::query_of_messages(&self.stateless.messages);
        TraceMeta {
            surface: "api".into(),
            channel: Some(turn::API_CHANNEL.into()),
            tenant_id: self.agent.tenant_id.clone(),
            agent_id: self.agent.id.clone(),
            conversation_id: self
                .stateless
                .store
                .then(|| self.stateless.conversation_id.clone()),
            user_id: Some(self.stateless.visitor_id.clone()),
            message_id: self.answer_id.clone(),
            input: Some(question),
            environment: None,
        }
    }

    /// Runs the call: plans it, runs the turn (streaming into `output`, when given), and writes
    /// its usage (and the stored answer). One path for streamed and whole completions; the
    /// encoder holds the answer. A refusal found after a stream started ends the stream too.
    async fn execute(
        &self,
        store: &AnyStore,
        runtime: Runtime,
        (mut targets, export_timeout_ms): (Vec<ExportTarget>, u32),
        output: Option<Output>,
    ) -> Result<(Rc<RefCell<Encoder>>, Usage), ApiError> {
        let started_ms = now_ms();
        let encoder = self.encoder();
        let mut sink = BodySink::new(encoder.clone(), output);
        encoder.borrow_mut().start(sink.buffer());
        sink.flush();
        let Runtime {
            settings,
            visitor,
            embeddings,
        } = runtime;
        let model = HttpModel::new(settings.clone(), Some(visitor));
        let embedder = HttpEmbedder(embeddings);
        let agent = &self.agent;
        let budget = settings.subrequest_budget;
        // The tools need no store; with them the turn's likely first request goes to the model
        // while the spend is read (`guess`), and is used only if the plan sends the same.
        let tools = async {
            let tools = WorkerTools::new(
                &agent.config,
                &settings.outbound,
                agent.signing_secret.as_deref(),
            )
            .with_knowledge(store, &embedder, agent)
            .with_remote_tools(&agent.id)
            .await;
            if let Some(guess) = self.guess(tools.specs(), budget) {
                model.prefetch(&guess);
            }
            tools
        };
        let (tools, plan, tenant_targets) = futures::join!(
            tools,
            self.plan(store),
            tenant_targets(store, &self.agent.tenant_id)
        );
        targets.extend(tenant_targets);
        let (tracing, mut recorder) =
            begin_turn(&targets, &self.agent, self.trace_meta(), &settings, &[]);
        recorder.started_at(started_ms);
        let policy = settings.outbound.clone();
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => {
                // A guess sent to the model is cancelled with the client.
                drop(model);
                encoder.borrow_mut().refuse(&error, sink.buffer());
                sink.close();
                let end = TurnEnd::Failed(error.to_string());
                if let Some(export) = tracing.finish(recorder, &end, &Usage::default()).export {
                    deliver(&policy, &export, export_timeout_ms).await;
                }
                return Err(error);
            }
        };
        let (outcome, mut sink, recorder, start, unsaved) = self
            .run(
                store,
                (&model, &tools, &embedder),
                budget,
                plan,
                sink,
                recorder,
            )
            .await;
        turn::guess::spent(&agent.tenant_id, &agent.id, outcome.usage.cost);
        let finished = tracing.finish(recorder, &outcome.end, &outcome.usage);
        let timing = serde_json::to_string(&finished.summary).ok();
        let usage = outcome.usage;
        // Usage (and the answer, when stored) is written before [DONE] when the store takes it
        // at once; otherwise the stream ends first and the write is retried after it. The
        // trace is sent after the answer, alongside any write still owed.
        let first = self
            .write_once(store, start.as_ref(), unsaved, &outcome, timing.as_deref())
            .await;
        encoder.borrow_mut().end(&usage, sink.buffer());
        sink.close();
        let export = async {
            if let Some(export) = &finished.export {
                deliver(&policy, export, export_timeout_ms).await;
            }
        };
        let record = async {
            if !first
                && !self
                    .record(store, start, unsaved, outcome, timing.as_deref())
                    .await
            {
                console_error!("the usage of an API call could not be stored");
            }
        };
        futures::join!(export, record);
        Ok((encoder, usage))
    }

    /// Writes the turn's answer (stored exchanges) or its usage once; true when it is stored.
    async fn write_once(
        &self,
        store: &AnyStore,
        start: Option<&TurnStart>,
        unsaved: bool,
        outcome: &TurnOutcome,
        timing: Option<&str>,
    ) -> bool {
        if unsaved {
            return false;
        }
        self.write(store, start, outcome, timing)
            .await
            .inspect_err(|e| console_error!("storing the API call failed, retrying: {e}"))
            .is_ok()
    }

    /// Writes what the turn leaves, retried (bounded): the question if it is still unsaved,
    /// then the answer or the usage.
    async fn record(
        &self,
        store: &AnyStore,
        start: Option<TurnStart>,
        unsaved: bool,
        outcome: TurnOutcome,
        timing: Option<&str>,
    ) -> bool {
        if unsaved {
            if let Some(start) = &start {
                if !retry(|| store.start_turn(start), "the question").await {
                    return false;
                }
            }
        }
        retry(
            || self.write(store, start.as_ref(), &outcome, timing),
            "the answer",
        )
        .await
    }

    async fn write(
        &self,
        store: &AnyStore,
        start: Option<&TurnStart>,
        outcome: &TurnOutcome,
        timing: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let day = utc_day(now);
        match start {
            Some(start) => {
                let id = start.answer_id.clone().unwrap_or_else(|| random_id("msg"));
                let mut message =
                    turn::answer_message(id, &start.conversation, outcome.clone(), now);
                message.timing = timing.map(str::to_owned);
                store.append_answer(&message, &self.agent.id, &day).await
            }
            None => {
                store
                    .tenant_scope(&self.agent.tenant_id)
                    .record_usage(&self.agent.id, &day, &outcome.usage)
                    .await
            }
        }
    }
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
