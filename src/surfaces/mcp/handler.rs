//! `POST /mcp` and `POST /mcp/{agentId}`: the MCP server, stateless, one JSON-RPC message per
//! request and one JSON answer (`wire` holds the format), or, for an `ask` that asked for
//! progress, a `text/event-stream` of progress notifications ending with the answer
//! (`progress`). The key decides what the endpoint
//! reaches: an MCP key scoped to one agent, or tenant-wide (an MCP key without an agent, or the
//! tenant's secret key). `ask` runs a stored turn through the turn service (limits, spend caps,
//! usage) in a conversation of channel `mcp` that belongs to the key.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Map, Value};
use worker::{console_error, AbortSignal, Context, Env, Headers, Response, ResponseBuilder};

use super::modern::{self, Era};
use super::progress::{self, Progress};
use super::wire::{self, code, Incoming, RpcError, Scope};
use crate::agent::context::{self, Role};
use crate::agent::{AgentEvent, EventSink, TurnEnd};
use crate::app::access::{bearer_token, mcp_caller, mcp_key_lookup, usable_agent, ApiCaller};
use crate::app::knowledge as app_knowledge;
use crate::app::observe as tracing;
use crate::app::turn::{self, TurnRequest};
use crate::auth::rate_limit::{self, Check};
use crate::dates::{utc_day, utc_month};
use crate::error::ApiError;
use crate::http::output::{BodySink, Encode, Output};
use crate::http::rate;
use crate::http::request::read_body;
use crate::http::response::{error_response, json_response};
use crate::http::routes::McpRoute;
use crate::http::url_parts;
use crate::http::Inbound;
use crate::ids::is_valid_client_id;
use crate::knowledge::client::{embedding_settings, HttpEmbedder};
use crate::llm::client::HttpModel;
use crate::llm::Usage;
use crate::observe::export::{begin_turn, deliver, operator_targets, tenant_targets};
use crate::observe::TraceMeta;
use crate::platform::{self, now_ms, random_id};
use crate::settings::Settings;
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::{
    Agent, ConversationQuery, MessageStatus, Store, StoreError, StoredMessage, TurnQuery,
};
use crate::tools::runner::WorkerTools;

/// Largest JSON-RPC message accepted.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Requests a minute an MCP key may make when it sets no limit of its own.
const DEFAULT_KEY_PER_MINUTE: u32 = 300;

/// Most agents a tenant-wide key lists.
const MAX_AGENTS: u32 = 100;

/// Handles an MCP request.
pub async fn handle(
    mut req: Inbound,
    env: &Env,
    ctx: &Context,
    route: McpRoute,
) -> Result<Response, ApiError> {
    let url = req.inner().url();
    let own = url_parts::origin(&url).unwrap_or("").to_owned();
    let agent_path = match &route {
        McpRoute::Agent(id) | McpRoute::Metadata(Some(id)) => format!("/{id}"),
        _ => String::new(),
    };
    let resource = format!("{own}/mcp{agent_path}");
    let metadata_url = format!("{own}/.well-known/oauth-protected-resource/mcp{agent_path}");
    if let McpRoute::Metadata(_) = route {
        return json_response(&wire::resource_metadata(&resource));
    }
    // A page on another site must not drive the server through a visitor's browser (DNS
    // rebinding); clients that are not browsers send no Origin.
    if let Some(origin) = req.headers().get("origin").ok().flatten() {
        if origin != own {
            return Err(ApiError::Forbidden(format!(
                "Requests from {origin} are not accepted: the MCP server takes no browser calls from other sites."
            )));
        }
    }
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (version, mcp_method, mcp_name) = (
        header("mcp-protocol-version"),
        header("mcp-method"),
        header("mcp-name"),
    );
    let mirrored = modern::Headers {
        version: version.as_deref(),
        method: mcp_method.as_deref(),
        name: mcp_name.as_deref(),
    };
    if let Err(refusal) = modern::check_header(&mirrored) {
        return rpc_response(refusal.body(None), 400);
    }
    let store = AnyStore::from_env(env)?;
    let caller = match authenticate(&req, &store).await {
        Ok(caller) => caller,
        Err(error @ ApiError::Unauthorized { .. }) => {
            let response = error_response(&error).map_err(|e| ApiError::Internal(e.to_string()))?;
            response
                .headers()
                .set("www-authenticate", &wire::www_authenticate(&metadata_url))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            return Ok(response);
        }
        Err(other) => return Err(other),
    };
    let per_key = caller.scope.per_minute.unwrap_or(DEFAULT_KEY_PER_MINUTE);
    rate::enforce(
        env,
        &[Check::new(rate_limit::Scope::Key, &caller.key_id, per_key)],
    )
    .await?;
    let bytes = read_body(&mut req, MAX_BODY_BYTES).await?;
    let (id, method, params) = match wire::read(&bytes) {
        Ok(Incoming::Accepted) => {
            return Ok(Response::empty()
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .with_status(202))
        }
        Ok(Incoming::Request { id, method, params }) => (id, method, params),
        Err(error) => return rpc_response(wire::error(None, &error), 400),
    };
    let era = match modern::check(&mirrored, &method, &params) {
        Ok(era) => era,
        Err(refusal) => return rpc_response(refusal.body(Some(&id)), 400),
    };
    let server = Server {
        env: env.clone(),
        store,
        caller,
        route,
        era,
    };
    let accepts_stream = req
        .headers()
        .get("accept")
        .ok()
        .flatten()
        .is_some_and(|accept| accept.contains("text/event-stream"));
    let streamed_ask = method == "tools/call"
        && params.get("name").and_then(Value::as_str) == Some("ask")
        && accepts_stream;
    if let Some(token) = progress::token(&params).filter(|_| streamed_ask) {
        let progress = Rc::new(RefCell::new(Progress::new(token)));
        let output = Output::new();
        let body = output.readable();
        let mut out = Out {
            sink: Some(BodySink::new(progress.clone(), Some(output))),
            progress: Some(progress),
            visitor: Some(AbortSignal::from(req.inner().signal())),
        };
        // The turn outlives the handler: the body streams while it runs, and a client that
        // leaves mid-answer leaves an aborted answer stored.
        ctx.wait_until(async move {
            let (answer, _) = server.reply(&id, &method, &params, &mut out).await;
            if let Some(mut sink) = out.sink.take() {
                progress::event(&answer, sink.buffer());
                sink.close();
            }
        });
        let headers = Headers::new();
        for (name, value) in [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            // Proxies must not hold the events back (the 2026-07-28 transport's advice).
            ("x-accel-buffering", "no"),
        ] {
            headers
                .set(name, value)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        return Ok(ResponseBuilder::new()
            .with_status(200)
            .with_headers(headers)
            .stream(body));
    }
    let (answer, status) = server
        .reply(&id, &method, &params, &mut Out::default())
        .await;
    rpc_response(answer, status)
}

/// Where an `ask` reports as it runs: nowhere (the answer is sent whole), or the SSE body of a
/// request that carried a progress token.
#[derive(Default)]
struct Out {
    /// The body's sink (taken while the engine runs).
    sink: Option<BodySink>,
    /// The encoder behind it, for status steps.
    progress: Option<Rc<RefCell<Progress>>>,
    /// The client's request, whose end cancels the model call.
    visitor: Option<AbortSignal>,
}

impl Out {
    /// Sends a status step ("Searching knowledge") at once.
    fn status(&mut self, message: &str) {
        if let (Some(progress), Some(sink)) = (&self.progress, &mut self.sink) {
            progress.borrow_mut().status(message, sink.buffer());
            sink.flush();
        }
    }
}

async fn authenticate(req: &Inbound, store: &AnyStore) -> Result<ApiCaller, ApiError> {
    let authorization = req.headers().get("authorization").ok().flatten();
    let presented = bearer_token(authorization.as_deref())?;
    let lookup = mcp_key_lookup(presented)?;
    mcp_caller(presented, &store.live_keys(lookup).await?)
}

fn rpc_response(body: String, status: u16) -> Result<Response, ApiError> {
    let response = Response::from_bytes(body.into_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_status(status);
    response
        .headers()
        .set("content-type", "application/json")
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(response)
}

/// The agents one request reaches.
enum Reach {
    /// One agent: `/mcp/{agentId}`, or `/mcp` with a key scoped to one agent.
    One(Box<Agent>),
    /// A tenant-wide key on `/mcp`: the tenant's enabled agents.
    Tenant(Vec<Agent>),
}

struct Server {
    env: Env,
    store: AnyStore,
    caller: ApiCaller,
    route: McpRoute,
    /// The revisions whose rules serve this request.
    era: Era,
}

fn internal(error: impl std::fmt::Display) -> RpcError {
    RpcError {
        code: code::INTERNAL_ERROR,
        message: error.to_string(),
    }
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError {
        code: code::INVALID_PARAMS,
        message: message.into(),
    }
}

impl Server {
    /// The JSON-RPC answer to a request and its HTTP status: a 2026-07-28 result says what it
    /// is, and a method the server lacks is a 404 there.
    async fn reply(
        &self,
        id: &Value,
        method: &str,
        params: &Map<String, Value>,
        out: &mut Out,
    ) -> (String, u16) {
        match self.answer(method, params, out).await {
            Ok(mut result) => {
                if self.era == Era::Modern {
                    modern::complete(&mut result, method == "tools/list");
                }
                (wire::result(id, result), 200)
            }
            Err(error) => {
                let status = match self.era {
                    Era::Modern if error.code == code::METHOD_NOT_FOUND => 404,
                    _ => 200,
                };
                (wire::error(Some(id), &error), status)
            }
        }
    }

    async fn answer(
        &self,
        method: &str,
        params: &Map<String, Value>,
        out: &mut Out,
    ) -> Result<Value, RpcError> {
        let legacy = self.era == Era::Legacy;
        match method {
            "initialize" if legacy => Ok(wire::initialize_result(
                wire::negotiate(params),
                "edge-agent-chat",
                &instructions(&self.reach().await?),
            )),
            "server/discover" if !legacy => {
                Ok(modern::discover_result(&instructions(&self.reach().await?)))
            }
            "ping" if legacy => Ok(json!({})),
            "tools/list" => Ok(wire::tools(&scope_of(&self.reach().await?))),
            "tools/call" => {
                let (name, arguments) = wire::tool_call(params)?;
                self.call(name, arguments, out).await
            }
            other => Err(RpcError {
                code: code::METHOD_NOT_FOUND,
                message: format!("This server has no method {other}: it offers tools only."),
            }),
        }
    }

    /// What the route and key reach; an agent outside them is "not found", like one that does
    /// not exist.
    async fn reach(&self) -> Result<Reach, RpcError> {
        let tenant = &self.caller.tenant_id;
        let one = |id: &str| {
            let id = id.to_owned();
            async move {
                let agent = self
                    .store
                    .live_agent(&id)
                    .await
                    .map_err(internal)?
                    .filter(|a| &a.tenant_id == tenant && self.caller.scope.allows(&a.id))
                    .ok_or_else(|| invalid(format!("There is no agent {id} for this key.")))?;
                usable_agent(Some(agent)).map_err(|e| invalid(e.to_string()))
            }
        };
        match (&self.route, &self.caller.scope.agents) {
            (McpRoute::Agent(id), _) => Ok(Reach::One(Box::new(one(id).await?))),
            (_, Some(ids)) if ids.len() == 1 => Ok(Reach::One(Box::new(one(&ids[0]).await?))),
            (_, Some(ids)) => {
                let mut agents = Vec::new();
                for id in ids {
                    if let Ok(agent) = one(id).await {
                        agents.push(agent);
                    }
                }
                Ok(Reach::Tenant(agents))
            }
            (_, None) => {
                let agents = self
                    .store
                    .tenant_scope(tenant)
                    .agents(None, MAX_AGENTS)
                    .await
                    .map_err(internal)?;
                Ok(Reach::Tenant(
                    agents
                        .into_iter()
                        .filter(|a| a.enabled && a.tenant_active)
                        .collect(),
                ))
            }
        }
    }

    /// Whether the key reaches the whole tenant (conversations may then be listed and read).
    fn tenant_wide(&self) -> bool {
        self.caller.scope.agents.is_none() && !matches!(self.route, McpRoute::Agent(_))
    }

    async fn call(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
        out: &mut Out,
    ) -> Result<Value, RpcError> {
        let reach = self.reach().await?;
        let agent_named = |reach: Reach| -> Result<Agent, RpcError> {
            match reach {
                Reach::One(agent) => Ok(*agent),
                Reach::Tenant(agents) => {
                    let id = wire::text_argument(arguments, "agent", true)?.unwrap_or_default();
                    agents
                        .into_iter()
                        .find(|a| a.id == id)
                        .ok_or_else(|| invalid(format!("There is no agent {id} for this key.")))
                }
            }
        };
        match name {
            "ask" => {
                let agent = agent_named(reach)?;
                let message = wire::text_argument(arguments, "message", true)?.unwrap_or_default();
                let conversation = wire::text_argument(arguments, "conversationId", false)?;
                if conversation.is_some_and(|c| !is_valid_client_id(c)) {
                    return Err(invalid("conversationId is not a conversation id."));
                }
                Ok(self.ask(agent, message, conversation, out).await)
            }
            "search_knowledge" => {
                let agent = agent_named(reach)?;
                let query = wire::text_argument(arguments, "query", true)?.unwrap_or_default();
                let limit = match arguments.get("limit") {
                    None | Some(Value::Null) => 5,
                    Some(value) => value
                        .as_u64()
                        .filter(|n| (1..=20).contains(n))
                        .ok_or_else(|| invalid("limit must be 1 to 20."))?
                        as u32,
                };
                self.search_knowledge(&agent, query, limit).await
            }
            "list_agents" if self.tenant_wide() => {
                let Reach::Tenant(agents) = reach else {
                    return Err(unknown_tool(name));
                };
                let listed: Vec<Value> = agents
                    .iter()
                    .map(|a| json!({ "id": a.id, "name": a.config.name, "enabled": a.enabled }))
                    .collect();
                let data = json!({ "agents": listed });
                Ok(wire::tool_result(&data.to_string(), data))
            }
            "list_conversations" if self.tenant_wide() => self.list_conversations(arguments).await,
            "get_conversation" if self.tenant_wide() => {
                let id =
                    wire::text_argument(arguments, "conversationId", true)?.unwrap_or_default();
                self.get_conversation(id).await
            }
            _ => Err(unknown_tool(name)),
        }
    }

    /// One stored turn: the question, the agent's answer through the turn service, the answer
    /// stored (retried after, bounded, when the store does not take it at once).
    async fn ask(
        &self,
        agent: Agent,
        message: &str,
        conversation: Option<&str>,
        out: &mut Out,
    ) -> Value {
        let limits = &agent.config.limits;
        if message.chars().count() > limits.max_message_chars as usize {
            return wire::tool_failure(&format!(
                "The message is longer than this agent accepts ({} characters).",
                limits.max_message_chars
            ));
        }
        let checks = [
            Check::new(
                rate_limit::Scope::Visitor,
                &format!("{}:mcp:{}", agent.tenant_id, self.caller.key_id),
                limits.visitor_per_minute,
            ),
            Check::new(
                rate_limit::Scope::Tenant,
                &agent.tenant_id,
                limits.tenant_per_minute,
            ),
        ];
        if let Err(error) = rate::enforce(&self.env, &checks).await {
            return wire::tool_failure(&error.to_string());
        }
        let settings = platform::settings(&self.env);
        if !settings.model_configured() {
            return wire::tool_failure(Settings::missing_key_message());
        }
        let visitor_id = format!("mcp:{}", self.caller.key_id);
        let started_ms = now_ms();
        let message_id = random_id("msg");
        let (mut targets, export_timeout_ms) = operator_targets(&self.env);
        let (plan, tenant_targets) = futures::join!(
            self.plan(&agent, message, conversation, &visitor_id),
            tenant_targets(&self.store, &agent.tenant_id)
        );
        targets.extend(tenant_targets);
        let meta = TraceMeta {
            surface: "mcp".into(),
            channel: Some("mcp".into()),
            tenant_id: agent.tenant_id.clone(),
            agent_id: agent.id.clone(),
            conversation_id: plan
                .as_ref()
                .ok()
                .map(|(p, _)| p.start.conversation.id.clone()),
            user_id: Some(visitor_id.clone()),
            message_id: message_id.clone(),
            input: Some(message.to_owned()),
            environment: None,
        };
        let (tracing, mut recorder) = begin_turn(&targets, &agent, meta, &settings, &[]);
        recorder.started_at(started_ms);
        let policy = settings.outbound.clone();
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => {
                let finished = tracing.finish(
                    recorder,
                    &TurnEnd::Failed(error.to_string()),
                    &Usage::default(),
                );
                if let Some(export) = finished.export {
                    deliver(&policy, &export, export_timeout_ms).await;
                }
                return wire::tool_failure(&error.to_string());
            }
        };
        let (
            turn::TurnPlan {
                mut start,
                history,
                models,
            },
            started,
        ) = plan;
        start.answer_id = Some(message_id.clone());
        let unsaved = if started {
            None
        } else {
            match self.store.start_turn(&start).await {
                Ok(()) => None,
                Err(e) => {
                    console_error!("storing the MCP question failed, answering anyway: {e}");
                    Some(start.clone())
                }
            }
        };
        let outbound = settings.outbound.clone();
        // Knowledge, as on the widget: passages into the prompt, citations into the answer.
        let mut system_prompt = turn::system_prompt(&agent, None);
        let embedder = HttpEmbedder(embedding_settings(&self.env));
        if agent.config.knowledge.searched_every_turn() {
            out.status("Searching knowledge");
        }
        let cited = app_knowledge::ground_stored_turn(
            &self.store,
            &embedder,
            &agent,
            &history,
            &mut recorder,
            now_ms(),
            &mut system_prompt,
        )
        .await;
        let tools = WorkerTools::new(&agent.config, &outbound, agent.signing_secret.as_deref())
            .with_knowledge(&self.store, &embedder, &agent)
            .with_remote_tools(&agent.id)
            .await;
        let turn = turn::stored_turn(
            &agent,
            message_id.clone(),
            models,
            &system_prompt,
            &history,
            tools.specs(),
            settings.subrequest_budget,
        );
        let model = HttpModel::new(settings, out.visitor.take());
        let sink = out
            .sink
            .take()
            .unwrap_or_else(|| BodySink::new(Rc::new(RefCell::new(Nothing)), None));
        let (mut outcome, sink, recorder) =
            tracing::run(&model, &tools, turn, sink, recorder).await;
        out.sink = Some(sink);
        turn::guess::spent(&agent.tenant_id, &agent.id, outcome.usage.cost);
        let finished = tracing.finish(recorder, &outcome.end, &outcome.usage);
        app_knowledge::cite(&mut outcome, &cited);
        let mut answer = turn::answer_message(message_id, &start.conversation, outcome, now_ms());
        answer.timing = serde_json::to_string(&finished.summary).ok();
        // The reply waits for the stored answer (a caller may continue at once), not for the
        // trace, which is sent alongside.
        let export = async {
            if let Some(export) = &finished.export {
                deliver(&policy, export, export_timeout_ms).await;
            }
        };
        futures::join!(self.store_answer(&answer, &agent.id, unsaved), export);
        reply_of(&answer, &start.conversation.id)
    }

    /// Reads the conversation and plans the turn (`app::turn::plan`), storing the question in
    /// the same round trip when the read allows it (the second value says so). When the store
    /// is unreachable the question is answered without history in a conversation of its own.
    async fn plan(
        &self,
        agent: &Agent,
        message: &str,
        conversation: Option<&str>,
        visitor_id: &str,
    ) -> Result<(turn::TurnPlan, bool), ApiError> {
        let now = now_ms();
        let month = utc_month(now);
        let mut request = TurnRequest {
            conversation_id: conversation.map_or_else(|| random_id("chat"), str::to_owned),
            fresh_message_id: random_id("msg"),
            visitor_id: visitor_id.to_owned(),
            now,
            page_url: None,
            channel: Some("mcp".to_owned()),
            message_id: None,
            text: message.to_owned(),
            preview: false,
        };
        let eager = turn::eager_start(agent, &request);
        let query = TurnQuery {
            tenant_id: &agent.tenant_id,
            agent_id: &agent.id,
            conversation_id: conversation,
            resent_message_id: Some(&eager.message.id),
            month: &month,
            history_limit: context::MAX_HISTORY_MESSAGES as u32,
        };
        let scope = self.store.tenant_scope(&agent.tenant_id);
        let read = turn::read(&scope, &query, Some(&eager)).await?;
        if let Some(detail) = read.unreachable {
            console_error!("store unreachable, answering without history: {detail}");
            request.conversation_id = random_id("chat");
        }
        let plan = turn::plan(agent, read.context, request)?;
        let stored = read.stored && turn::eager_start_matches(&plan.start, &eager);
        Ok((plan, stored))
    }

    /// Stores the question (when it could not be stored before) and the answer, retried
    /// (bounded) before the reply, so a caller that continues at once finds them.
    async fn store_answer(
        &self,
        answer: &StoredMessage,
        agent_id: &str,
        unsaved: Option<crate::store::TurnStart>,
    ) {
        if let Some(start) = unsaved {
            if !retry(|| self.store.start_turn(&start), "the MCP question").await {
                return;
            }
        }
        let day = utc_day(answer.created_at);
        retry(
            || self.store.append_answer(answer, agent_id, &day),
            "the MCP answer",
        )
        .await;
    }

    /// Ranked passages from the agent's knowledge, as its turns would retrieve them.
    async fn search_knowledge(
        &self,
        agent: &Agent,
        query: &str,
        limit: u32,
    ) -> Result<Value, RpcError> {
        let config = &agent.config.knowledge;
        if !config.enabled() {
            return Err(unknown_tool("search_knowledge"));
        }
        let embedder = HttpEmbedder(embedding_settings(&self.env));
        let found = app_knowledge::retrieve(
            &self.store,
            &embedder,
            &agent.tenant_id,
            &config.bases,
            query,
            limit,
            config.min_score,
        )
        .await
        .map_err(internal)?;
        app_knowledge::record_search_usage(
            &self.store,
            &agent.tenant_id,
            found.embedding_tokens,
            now_ms(),
        )
        .await;
        let results: Vec<Value> = found
            .hits
            .iter()
            .map(|hit| {
                json!({
                    "text": hit.text, "title": hit.title, "url": hit.url,
                    "heading": hit.heading, "score": (hit.score * 1000.0).round() / 1000.0,
                })
            })
            .collect();
        let text = found
            .hits
            .iter()
            .map(|hit| format!("[{}] {}", hit.title, hit.text))
            .collect::<Vec<_>>()
            .join("\n\n");
        Ok(wire::tool_result(&text, json!({ "results": results })))
    }

    async fn list_conversations(&self, arguments: &Map<String, Value>) -> Result<Value, RpcError> {
        let limit = match arguments.get("limit") {
            None | Some(Value::Null) => 20,
            Some(value) => value
                .as_u64()
                .filter(|n| (1..=50).contains(n))
                .ok_or_else(|| invalid("limit must be 1 to 50."))?
                as u32,
        };
        let query = ConversationQuery {
            agent_id: wire::text_argument(arguments, "agent", false)?.map(str::to_owned),
            search: wire::text_argument(arguments, "query", false)?.map(str::to_owned),
            ..ConversationQuery::default()
        };
        let rows = self
            .store
            .tenant_scope(&self.caller.tenant_id)
            .conversations(&query, limit)
            .await
            .map_err(internal)?;
        let listed: Vec<Value> = rows
            .iter()
            .map(|(c, s)| {
                json!({
                    "id": c.id, "agentId": c.agent_id, "channel": c.channel,
                    "updatedAt": c.updated_at, "firstMessage": s.first_message,
                    "messageCount": s.message_count, "match": s.matched,
                })
            })
            .collect();
        let data = json!({ "conversations": listed });
        Ok(wire::tool_result(&data.to_string(), data))
    }

    async fn get_conversation(&self, id: &str) -> Result<Value, RpcError> {
        let found = self
            .store
            .tenant_scope(&self.caller.tenant_id)
            .conversation(id)
            .await
            .map_err(internal)?;
        let Some((conversation, messages)) = found else {
            return Ok(wire::tool_failure(&format!(
                "There is no conversation {id}."
            )));
        };
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({
                    "role": match m.role { Role::User => "user", _ => "assistant" },
                    "text": text_of(m),
                    "createdAt": m.created_at,
                })
            })
            .collect();
        let data = json!({
            "id": conversation.id, "agentId": conversation.agent_id, "messages": messages,
        });
        Ok(wire::tool_result(&data.to_string(), data))
    }
}

/// What the server tells the calling model about itself (`initialize`, `server/discover`).
fn instructions(reach: &Reach) -> String {
    match reach {
        Reach::One(agent) => format!(
            "Ask the agent {} with the ask tool; pass the conversationId of an answer to continue that conversation.",
            agent.config.name
        ),
        Reach::Tenant(_) => "Ask one of the tenant's agents with the ask tool (list_agents names them); read past conversations with list_conversations and get_conversation.".to_owned(),
    }
}

fn unknown_tool(name: &str) -> RpcError {
    invalid(format!("There is no tool named {name} for this key."))
}

fn scope_of(reach: &Reach) -> Scope {
    match reach {
        Reach::One(agent) => Scope::Agent {
            id: agent.id.clone(),
            name: agent.config.name.clone(),
            has_knowledge: agent.config.knowledge.enabled(),
        },
        Reach::Tenant(agents) => Scope::Tenant {
            agents: agents
                .iter()
                .map(|a| (a.id.clone(), a.config.name.clone()))
                .collect(),
            has_knowledge: agents.iter().any(|a| a.config.knowledge.enabled()),
        },
    }
}

/// The text parts of a stored message, joined.
fn text_of(message: &StoredMessage) -> String {
    message
        .parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("")
}

/// The `ask` result of a finished turn: its text and cited sources, or a failure.
fn reply_of(answer: &StoredMessage, conversation_id: &str) -> Value {
    if answer.status == MessageStatus::Error {
        return wire::answer_failure(
            answer
                .error
                .as_deref()
                .unwrap_or("The agent could not answer."),
            conversation_id,
        );
    }
    let sources: Vec<Value> = answer
        .parts
        .iter()
        .filter(|p| {
            matches!(
                p.get("type").and_then(Value::as_str),
                Some("source-url" | "source-document")
            )
        })
        .map(|p| json!({ "title": p.get("title").cloned().unwrap_or(Value::Null), "url": p.get("url").cloned().unwrap_or(Value::Null) }))
        .collect();
    let text = text_of(answer);
    wire::tool_result(
        &text,
        json!({ "answer": text, "conversationId": conversation_id, "sources": sources }),
    )
}

/// The engine's events are not sent anywhere when `ask` answers once, from the stored answer.
struct Nothing;

impl Encode for Nothing {
    fn encode(&mut self, _event: &AgentEvent, _out: &mut Vec<u8>) {}
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
