//! The rules of a chat turn, whichever surface asks for it: which conversation it belongs to,
//! whether it answers a new message or regenerates a stored one, the conversation's message
//! limit, the spend caps and the model chain they allow, and how writes after the answer are
//! retried. The glue reads the store once (`TurnContext`), calls `plan`, runs the engine and
//! persists what the plan says.

use std::future::Future;

use serde_json::json;

use crate::agent::context::Role;
use crate::agent::{TurnEnd, TurnOutcome};
use crate::error::ApiError;
use crate::store::scoped::Scoped;
use crate::store::{
    Agent, Conversation, ConversationState, ConversationWindow, EagerStart, MessageStatus, Spend,
    SpendCaps, Store, StoreError, StoredMessage, TurnContext, TurnQuery, TurnStart,
};

#[cfg(test)]
pub mod eager_cases;
pub mod guess;
mod stateless;

pub use stateless::{
    check_messages, eager_stateless, plan_stateless, StatelessPlan, StatelessRequest, API_CHANNEL,
};

/// Attempts of each write after the answer (the turn has already been streamed).
pub const PERSIST_ATTEMPTS: u32 = 4;

/// What a surface asks of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRequest {
    /// The conversation: the client's id, or a fresh one.
    pub conversation_id: String,
    /// The id the client gave its message, if any: a stored user message's id regenerates it.
    pub message_id: Option<String>,
    /// A fresh id for the user message when the client gave none.
    pub fresh_message_id: String,
    /// The user's text.
    pub text: String,
    /// Who is asking (the conversation's owner).
    pub visitor_id: String,
    /// Now, ms since the epoch.
    pub now: i64,
    /// The page the conversation starts on, as the client reported it (a label only).
    pub page_url: Option<String>,
    /// Where the conversation starts (`widget`, `inline`, …), as reported (a label only).
    pub channel: Option<String>,
    /// Whether a new conversation is a dashboard preview (the caller proved it is the tenant).
    pub preview: bool,
}

/// What the turn writes, the history it answers, and the models it may use.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnPlan {
    /// The write before the model is called.
    pub start: TurnStart,
    /// The conversation up to and including the message being answered.
    pub history: Vec<StoredMessage>,
    /// The model chain, after the spend caps.
    pub models: Vec<String>,
}

/// Plans a turn from what the store said (`context`), refusing what the rules refuse.
pub fn plan(
    agent: &Agent,
    context: TurnContext,
    request: TurnRequest,
) -> Result<TurnPlan, ApiError> {
    let models = models_within_budget(agent, context.spend).ok_or(ApiError::SpendCapReached)?;
    let (conversation, mut history, count, resent, create) = match context.conversation {
        // Another agent's, tenant's or visitor's conversation looks like no conversation at all.
        ConversationState::Foreign => return Err(ApiError::NotFound("Conversation")),
        ConversationState::Found(window)
            if window.conversation.agent_id != agent.id
                || window.conversation.tenant_id != agent.tenant_id
                || window.conversation.visitor_id.as_deref()
                    != Some(request.visitor_id.as_str()) =>
        {
            return Err(ApiError::NotFound("Conversation"))
        }
        ConversationState::Found(ConversationWindow {
            conversation,
            messages,
            message_count,
            resent,
        }) => (conversation, messages, message_count, resent, false),
        ConversationState::Missing => {
            (new_conversation(agent, &request), Vec::new(), 0, None, true)
        }
    };
    let max_messages = i64::from(agent.config.limits.max_messages_per_conversation);
    let mut replace_after = None;
    let mut user_message = None;
    // Messages the conversation holds once this turn's question is in place.
    let held = match resent {
        // The client resent a stored user message (regenerate or retry): answer it again, from
        // the history up to it (the store's window ends there).
        Some((seq, Role::User)) => {
            if seq < count {
                replace_after = Some(seq);
            }
            seq
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "That message id belongs to an answer; send the user message with a new id.".into(),
            ))
        }
        None => {
            let id = request.message_id.unwrap_or(request.fresh_message_id);
            let message = new_user_message(&conversation, id, &request.text, request.now);
            history.push(message.clone());
            user_message = Some(message);
            count + 1
        }
    };
    // The answer needs room too.
    if held + 1 > max_messages {
        return Err(ApiError::BadRequest(format!(
            "This conversation has reached its limit of {max_messages} messages. Please start a new conversation."
        )));
    }
    let start = TurnStart {
        conversation,
        create,
        replace_after,
        user_message,
        answer_id: None,
    };
    Ok(TurnPlan {
        start,
        history,
        models,
    })
}

/// The conversation `request` starts when the store has none by its id.
fn new_conversation(agent: &Agent, request: &TurnRequest) -> Conversation {
    Conversation {
        id: request.conversation_id.clone(),
        tenant_id: agent.tenant_id.clone(),
        agent_id: agent.id.clone(),
        visitor_id: Some(request.visitor_id.clone()),
        created_at: request.now,
        updated_at: request.now,
        page_url: request.page_url.clone(),
        channel: request.channel.clone(),
        preview: request.preview,
    }
}

/// A new user message of `conversation`.
fn new_user_message(
    conversation: &Conversation,
    id: String,
    text: &str,
    now: i64,
) -> StoredMessage {
    StoredMessage {
        id,
        conversation_id: conversation.id.clone(),
        tenant_id: conversation.tenant_id.clone(),
        seq: 0,
        role: Role::User,
        parts: vec![json!({ "type": "text", "text": text })],
        status: MessageStatus::Complete,
        model: None,
        finish_reason: None,
        usage: Default::default(),
        error: None,
        feedback: None,
        created_at: now,
        timing: None,
    }
}

/// The start `plan` makes when `request` asks a new question, for the store to write with its
/// read (`Store::begin_turn`); the read must name the message as resent
/// (`TurnQuery::resent_message_id`), so a retried read that finds it stored answers it once.
/// The store writes it only when `EagerStart::allowed`, which `plan` always accepts with this
/// same start (`eager_start_matches`).
pub fn eager_start(agent: &Agent, request: &TurnRequest) -> EagerStart {
    let conversation = new_conversation(agent, request);
    let id = request
        .message_id
        .clone()
        .unwrap_or_else(|| request.fresh_message_id.clone());
    let message = new_user_message(&conversation, id, &request.text, request.now);
    EagerStart {
        conversation,
        message,
        max_messages: i64::from(agent.config.limits.max_messages_per_conversation),
        caps: refusing_caps(agent),
    }
}

/// The agent's monthly spend caps: the tenant's and its own.
fn spend_caps(agent: &Agent) -> SpendCaps {
    SpendCaps {
        tenant: agent.tenant_spend_cap,
        agent: agent.config.limits.monthly_spend_cap,
    }
}

/// The cheaper model the agent falls back on once a spend cap is reached, if any.
fn spend_cap_model(agent: &Agent) -> Option<&str> {
    let model = agent.config.limits.spend_cap_model.as_deref()?.trim();
    (!model.is_empty()).then_some(model)
}

/// The spend caps that refuse the agent's turns (`models_within_budget`): none when it has a
/// cheaper model to fall back on.
fn refusing_caps(agent: &Agent) -> SpendCaps {
    match spend_cap_model(agent) {
        Some(_) => SpendCaps::default(),
        None => spend_caps(agent),
    }
}

/// How the store answered a turn's read (`read`).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRead {
    /// What it holds; no conversation when it could not be reached.
    pub context: TurnContext,
    /// Whether it stored the eager start with the read.
    pub stored: bool,
    /// Why it could not be reached: then the turn is answered without history, in a
    /// conversation of its own (ownership cannot be checked).
    pub unreachable: Option<String>,
}

/// Reads a turn's context through the tenant's handle, storing `eager` with it when the read
/// allows (`Store::begin_turn`). An unreachable store is not an error: the turn goes on without
/// history (`TurnRead::unreachable`).
pub async fn read<S: Store>(
    scope: &Scoped<'_, S>,
    query: &TurnQuery<'_>,
    eager: Option<&EagerStart>,
) -> Result<TurnRead, StoreError> {
    let answered = match eager {
        Some(eager) => scope.begin_turn(query, eager).await,
        None => scope.turn_context(query).await.map(|c| (c, false)),
    };
    match answered {
        Ok((context, stored)) => {
            guess::remember_spend(query.tenant_id, query.agent_id, context.spend);
            Ok(TurnRead {
                context,
                stored,
                unreachable: None,
            })
        }
        Err(StoreError::Unavailable(detail)) => Ok(TurnRead {
            context: TurnContext {
                conversation: ConversationState::Missing,
                spend: Spend::default(),
            },
            stored: false,
            unreachable: Some(detail),
        }),
        Err(e) => Err(e),
    }
}

/// Whether a planned `start` is the one `eager` made: then a store that wrote `eager` has
/// written everything `start` would.
pub fn eager_start_matches(start: &TurnStart, eager: &EagerStart) -> bool {
    start.replace_after.is_none()
        && start.conversation.id == eager.conversation.id
        && start.user_message.as_ref() == Some(&eager.message)
}

/// The model chain to use given this month's spend: the agent's own while under both caps,
/// the configured cheaper model once a cap is reached, `None` when the turn must not run.
pub fn models_within_budget(agent: &Agent, spend: Spend) -> Option<Vec<String>> {
    if spend_caps(agent).allow(spend) {
        return Some(agent.config.model_chain());
    }
    spend_cap_model(agent).map(|model| vec![model.to_owned()])
}

/// The system prompt for a turn: the agent's own, then the page's unverified context note
/// (when the agent accepts page context).
pub fn system_prompt(agent: &Agent, context_note: Option<String>) -> String {
    match context_note.filter(|_| agent.config.send_page_context) {
        Some(note) if agent.config.system_prompt.trim().is_empty() => note,
        Some(note) => format!("{}\n\n{note}", agent.config.system_prompt),
        None => agent.config.system_prompt.clone(),
    }
}

/// The pause before retry `attempt` (from 1) of a write after the answer: 0.25, 1, then 4 s,
/// inside the 30 s `wait_until` allows after the response.
pub fn retry_pause_ms(attempt: u32) -> u64 {
    250 * 4u64.pow(attempt.saturating_sub(1).min(8))
}

/// Runs a store write after the answer until it succeeds, at most `PERSIST_ATTEMPTS` times,
/// with `retry_pause_ms` between attempts (`pause` sleeps; `failed` hears of each failure);
/// true on success.
pub async fn persist<W, WF, P, PF>(
    write: W,
    pause: P,
    mut failed: impl FnMut(u32, &StoreError),
) -> bool
where
    W: Fn() -> WF,
    WF: Future<Output = Result<(), StoreError>>,
    P: Fn(u64) -> PF,
    PF: Future<Output = ()>,
{
    for attempt in 1..=PERSIST_ATTEMPTS {
        match write().await {
            Ok(()) => return true,
            Err(e) => failed(attempt, &e),
        }
        if attempt < PERSIST_ATTEMPTS {
            pause(retry_pause_ms(attempt)).await;
        }
    }
    false
}

/// The engine's turn for a stored conversation: the agent's model chain and limits, `system`
/// first, then the history, with `tools` offered. Widget, MCP and phone turns are built this way.
pub fn stored_turn(
    agent: &Agent,
    message_id: String,
    models: Vec<String>,
    system: &str,
    history: &[StoredMessage],
    tools: Vec<crate::llm::ToolSpec>,
    subrequest_budget: u32,
) -> crate::agent::Turn {
    crate::agent::Turn {
        message_id,
        models,
        messages: crate::agent::context::build(
            system,
            history.iter().map(|m| (m.role, m.parts.as_slice())),
        ),
        tools,
        temperature: agent.config.temperature,
        max_tokens: agent.config.max_tokens,
        max_steps: agent.config.step_limit(),
        subrequest_budget,
        ..crate::agent::Turn::default()
    }
}

/// The stored assistant message of a turn that ended as `outcome`, at `now`.
pub fn answer_message(
    id: String,
    conversation: &Conversation,
    outcome: TurnOutcome,
    now: i64,
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
        feedback: None,
        created_at: now,
        timing: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentConfig;

    fn agent() -> Agent {
        let mut config: AgentConfig = serde_json::from_value(json!({
            "model": "main/model", "models": ["backup/model"],
            "systemPrompt": "Be brief.",
            "limits": { "maxMessagesPerConversation": 6 }
        }))
        .expect("config");
        config.limits.spend_cap_model = None;
        Agent {
            id: "a1".into(),
            tenant_id: "t1".into(),
            config,
            enabled: true,
            tenant_active: true,
            ..Agent::default()
        }
    }

    fn request(message_id: Option<&str>) -> TurnRequest {
        TurnRequest {
            conversation_id: "c1".into(),
            message_id: message_id.map(str::to_owned),
            fresh_message_id: "msg_fresh".into(),
            text: "Hello?".into(),
            visitor_id: "v1".into(),
            now: 1_000,
            page_url: Some("https://shop.example/pricing".into()),
            channel: Some("widget".into()),
            preview: false,
        }
    }

    fn message(id: &str, seq: i64, role: Role) -> StoredMessage {
        StoredMessage {
            id: id.into(),
            conversation_id: "c1".into(),
            tenant_id: "t1".into(),
            seq,
            role,
            parts: vec![json!({"type": "text", "text": id})],
            status: MessageStatus::Complete,
            model: None,
            finish_reason: None,
            usage: Default::default(),
            error: None,
            feedback: None,
            created_at: seq,
            timing: None,
        }
    }

    /// What the store answers for a conversation of `agent_id` and `visitor` holding
    /// `messages`, when the client resent `resent` (the window ends at a resent user message).
    fn stored(
        messages: Vec<StoredMessage>,
        agent_id: &str,
        visitor: &str,
        resent: Option<&str>,
    ) -> TurnContext {
        let conversation = Conversation {
            id: "c1".into(),
            tenant_id: "t1".into(),
            agent_id: agent_id.into(),
            visitor_id: Some(visitor.into()),
            created_at: 0,
            updated_at: 0,
            page_url: None,
            channel: None,
            preview: false,
        };
        TurnContext {
            conversation: ConversationState::Found(ConversationWindow::of(
                conversation,
                messages,
                resent,
                usize::MAX,
            )),
            spend: Spend::default(),
        }
    }

    fn empty() -> TurnContext {
        TurnContext {
            conversation: ConversationState::Missing,
            spend: Spend::default(),
        }
    }

    #[test]
    fn a_message_joins_the_context_once_within_the_limit_with_its_cost() {
        let held = vec![
            message("u1", 1, Role::User),
            message("a1", 2, Role::Assistant),
        ];
        let context = stored(held, "a1", "v1", None);
        let mut answer = message("a2", 0, Role::Assistant);
        answer.usage.cost = 0.25;
        let joined = context.with_message(&answer, 2);
        let ConversationState::Found(window) = &joined.conversation else {
            panic!("found");
        };
        let ids: Vec<&str> = window.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2"], "the newest two, the new answer last");
        assert_eq!(window.message_count, 3);
        assert_eq!((joined.spend.tenant, joined.spend.agent), (0.25, 0.25));
        let again = joined.clone().with_message(&answer, 2);
        assert_eq!(again, joined, "a message it already holds changes nothing");
        assert_eq!(
            empty().with_message(&answer, 2),
            empty(),
            "no conversation, nothing to join"
        );
    }

    #[test]
    fn a_first_message_creates_the_conversation() {
        let plan = plan(&agent(), empty(), request(None)).expect("plans");
        assert!(plan.start.create);
        assert_eq!(plan.start.conversation.visitor_id.as_deref(), Some("v1"));
        assert_eq!(plan.start.conversation.tenant_id, "t1");
        assert_eq!(
            plan.start.conversation.page_url.as_deref(),
            Some("https://shop.example/pricing")
        );
        assert_eq!(plan.start.conversation.channel.as_deref(), Some("widget"));
        let user = plan.start.user_message.expect("a user message");
        assert_eq!(user.id, "msg_fresh");
        assert_eq!(user.parts, vec![json!({"type": "text", "text": "Hello?"})]);
        assert_eq!(plan.history, vec![user]);
        assert_eq!(plan.models, ["main/model", "backup/model"]);
    }

    #[test]
    fn the_clients_message_id_is_kept() {
        let plan = plan(&agent(), empty(), request(Some("u_client"))).expect("plans");
        assert_eq!(plan.start.user_message.expect("message").id, "u_client");
    }

    #[test]
    fn another_visitors_or_agents_conversation_is_not_found() {
        let history = vec![message("u1", 1, Role::User)];
        let foreign = TurnContext {
            conversation: ConversationState::Foreign,
            ..empty()
        };
        for context in [
            stored(history.clone(), "a1", "someone-else", None),
            stored(history.clone(), "other-agent", "v1", None),
            foreign,
        ] {
            assert!(matches!(
                plan(&agent(), context, request(None)),
                Err(ApiError::NotFound("Conversation"))
            ));
        }
        let mut foreign_tenant = stored(history, "a1", "v1", None);
        if let ConversationState::Found(window) = &mut foreign_tenant.conversation {
            window.conversation.tenant_id = "t2".into();
        }
        assert!(plan(&agent(), foreign_tenant, request(None)).is_err());
    }

    #[test]
    fn resending_a_user_message_regenerates_its_answer() {
        let history = vec![
            message("u1", 1, Role::User),
            message("a1", 2, Role::Assistant),
            message("u2", 3, Role::User),
            message("a2", 4, Role::Assistant),
        ];
        let plan = plan(
            &agent(),
            stored(history.clone(), "a1", "v1", Some("u1")),
            request(Some("u1")),
        )
        .expect("plans");
        assert_eq!(plan.start.replace_after, Some(1));
        assert_eq!(plan.start.user_message, None);
        assert!(!plan.start.create);
        assert_eq!(plan.history, history[..1].to_vec());
    }

    #[test]
    fn resending_the_last_user_message_replaces_nothing() {
        let history = vec![message("u1", 1, Role::User)];
        let plan = plan(
            &agent(),
            stored(history, "a1", "v1", Some("u1")),
            request(Some("u1")),
        )
        .expect("plans");
        assert_eq!(plan.start.replace_after, None);
        assert_eq!(plan.history.len(), 1);
    }

    #[test]
    fn an_answers_id_is_refused() {
        let history = vec![
            message("u1", 1, Role::User),
            message("a1", 2, Role::Assistant),
        ];
        let refused = plan(
            &agent(),
            stored(history, "a1", "v1", Some("a1")),
            request(Some("a1")),
        );
        assert!(matches!(refused, Err(ApiError::BadRequest(m)) if m.contains("answer")));
    }

    #[test]
    fn the_message_limit_leaves_room_for_the_answer() {
        let history: Vec<_> = (1..=4)
            .map(|i| {
                message(
                    &format!("m{i}"),
                    i,
                    if i % 2 == 1 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                )
            })
            .collect();
        // 4 stored + this message + its answer = 6: allowed.
        assert!(plan(
            &agent(),
            stored(history.clone(), "a1", "v1", None),
            request(None)
        )
        .is_ok());
        let mut longer = history;
        longer.push(message("m5", 5, Role::User));
        let refused = plan(&agent(), stored(longer, "a1", "v1", None), request(None));
        assert!(matches!(refused, Err(ApiError::BadRequest(m)) if m.contains("limit of 6")));
    }

    #[test]
    fn spend_caps_switch_models_or_stop_the_turn() {
        let mut capped = agent();
        capped.tenant_spend_cap = Some(1.0);
        let under = Spend {
            tenant: 0.5,
            agent: 0.5,
        };
        let over = Spend {
            tenant: 1.0,
            agent: 0.0,
        };
        assert_eq!(
            models_within_budget(&capped, under),
            Some(capped.config.model_chain())
        );
        assert_eq!(models_within_budget(&capped, over), None);
        capped.config.limits.spend_cap_model = Some(" cheap/model ".into());
        assert_eq!(
            models_within_budget(&capped, over),
            Some(vec!["cheap/model".into()])
        );
        capped.config.limits.spend_cap_model = Some("  ".into());
        assert_eq!(models_within_budget(&capped, over), None);
        let mut agent_cap = agent();
        agent_cap.config.limits.monthly_spend_cap = Some(0.1);
        assert_eq!(
            models_within_budget(
                &agent_cap,
                Spend {
                    tenant: 0.0,
                    agent: 0.1
                }
            ),
            None
        );
        let context = TurnContext {
            spend: over,
            ..empty()
        };
        let mut stopped = agent();
        stopped.tenant_spend_cap = Some(1.0);
        assert!(matches!(
            plan(&stopped, context, request(None)),
            Err(ApiError::SpendCapReached)
        ));
    }

    #[test]
    fn page_context_follows_the_agents_prompt_unless_switched_off() {
        let mut a = agent();
        assert_eq!(
            system_prompt(&a, Some("Page: /pricing".into())),
            "Be brief.\n\nPage: /pricing"
        );
        assert_eq!(system_prompt(&a, None), "Be brief.");
        a.config.system_prompt = " ".into();
        assert_eq!(system_prompt(&a, Some("Page".into())), "Page");
        a.config.send_page_context = false;
        assert_eq!(system_prompt(&a, Some("Page".into())), " ");
    }

    #[test]
    fn writes_are_retried_a_bounded_number_of_times() {
        use std::cell::{Cell, RefCell};
        let calls = Cell::new(0);
        let pauses = RefCell::new(Vec::new());
        let failures = RefCell::new(Vec::new());
        let succeeds_third = futures::executor::block_on(persist(
            || {
                calls.set(calls.get() + 1);
                std::future::ready(if calls.get() < 3 {
                    Err(StoreError::Unavailable("busy".into()))
                } else {
                    Ok(())
                })
            },
            |ms| {
                pauses.borrow_mut().push(ms);
                std::future::ready(())
            },
            |attempt, _| failures.borrow_mut().push(attempt),
        ));
        assert!(succeeds_third);
        assert_eq!(pauses.borrow().as_slice(), [250, 1_000]);
        assert_eq!(failures.borrow().as_slice(), [1, 2]);
        calls.set(0);
        let never = futures::executor::block_on(persist(
            || {
                calls.set(calls.get() + 1);
                std::future::ready(Err(StoreError::Unavailable("down".into())))
            },
            |_| std::future::ready(()),
            |_, _| {},
        ));
        assert!(!never);
        assert_eq!(calls.get(), PERSIST_ATTEMPTS);
    }

    #[test]
    fn answers_are_stored_with_how_the_turn_ended() {
        use crate::llm::{FinishReason, Usage};
        let conversation = Conversation {
            id: "c1".into(),
            tenant_id: "t1".into(),
            agent_id: "a1".into(),
            visitor_id: None,
            created_at: 0,
            updated_at: 0,
            page_url: None,
            channel: None,
            preview: false,
        };
        let outcome = |end| TurnOutcome {
            parts: vec![json!({"type": "text", "text": "Hi"})],
            model: Some("m".into()),
            end,
            usage: Usage::default(),
        };
        let done = answer_message(
            "m1".into(),
            &conversation,
            outcome(TurnEnd::Finished(FinishReason::ToolCalls)),
            9,
        );
        assert_eq!(
            (done.status, done.finish_reason.as_deref(), done.created_at),
            (MessageStatus::Complete, Some("tool-calls"), 9)
        );
        assert_eq!(
            (done.tenant_id.as_str(), done.role),
            ("t1", Role::Assistant)
        );
        let failed = answer_message(
            "m2".into(),
            &conversation,
            outcome(TurnEnd::Failed("down".into())),
            9,
        );
        assert_eq!(
            (failed.status, failed.error.as_deref()),
            (MessageStatus::Error, Some("down"))
        );
        let left = answer_message("m3".into(), &conversation, outcome(TurnEnd::Aborted), 9);
        assert_eq!(
            (left.status, left.finish_reason),
            (MessageStatus::Aborted, None)
        );
    }

    #[test]
    fn a_question_is_stored_with_the_read_once_and_a_retried_read_answers_it_again() {
        use crate::store::memory::MemoryStore;
        use crate::store::scoped::ScopedStore;
        use futures::executor::block_on;

        let store = MemoryStore::new();
        let agent = agent();
        let month = "1970-01";
        let ask = |request: TurnRequest| {
            let eager = eager_start(&agent, &request);
            let query = TurnQuery {
                tenant_id: "t1",
                agent_id: "a1",
                conversation_id: Some("c1"),
                resent_message_id: Some(&eager.message.id),
                month,
                history_limit: 60,
            };
            let read =
                block_on(read(&store.tenant_scope("t1"), &query, Some(&eager))).expect("read");
            let plan = plan(&agent, read.context.clone(), request).expect("plans");
            (read, eager_start_matches(&plan.start, &eager), plan)
        };
        let (first, matches, plan) = ask(request(Some("u1")));
        assert!(first.stored && matches && plan.start.create);
        let held = block_on(store.tenant_scope("t1").conversation("c1")).expect("read");
        let ids: Vec<String> = held.expect("created").1.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["u1"]);
        // The same request again (a retried read): the question is found, not stored twice.
        let (again, matches, plan) = ask(request(Some("u1")));
        assert!(!again.stored && !matches);
        assert_eq!(plan.start.user_message, None);
        assert_eq!(plan.history.len(), 1, "answered from the stored question");
        // Another tenant's handle cannot start a turn of this one.
        let eager = eager_start(&agent, &request(Some("u2")));
        let query = TurnQuery {
            tenant_id: "t1",
            agent_id: "a1",
            conversation_id: Some("c1"),
            resent_message_id: Some("u2"),
            month,
            history_limit: 60,
        };
        assert!(block_on(read(&store.tenant_scope("t2"), &query, Some(&eager))).is_err());
        // Nor can a read of one conversation start a question in another.
        let elsewhere = TurnQuery {
            conversation_id: Some("c2"),
            ..query
        };
        assert!(block_on(read(&store.tenant_scope("t1"), &elsewhere, Some(&eager))).is_err());
        assert!(block_on(read(&store.tenant_scope("t1"), &query, Some(&eager))).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// The store writes an eager start only when `allowed`; so `allowed` must never let a
        /// message in that `plan` would refuse or start differently, and should let in every
        /// new question `plan` accepts (else that turn pays a second round trip).
        #[test]
        fn an_eager_start_is_allowed_exactly_when_the_plan_makes_it(case in eager_cases::case()) {
            let agent = case.agent();
            let request = case.request();
            let eager = eager_start(&agent, &request);
            let context = case.context();
            let allowed = eager.allowed(&context);
            let planned = plan(&agent, context.clone(), request);
            if allowed {
                let plan = planned.as_ref().expect("an allowed start plans");
                proptest::prop_assert!(eager_start_matches(&plan.start, &eager), "{plan:?}");
                proptest::prop_assert_eq!(plan.start.create, eager.start(&context).create);
            }
            let asks_anew = planned
                .as_ref()
                .is_ok_and(|plan| plan.start.user_message.is_some());
            proptest::prop_assert_eq!(allowed, asks_anew, "{:?}", planned);
        }
    }

    #[test]
    fn retries_back_off() {
        let pauses: Vec<u64> = (1..PERSIST_ATTEMPTS).map(retry_pause_ms).collect();
        assert_eq!(pauses, [250, 1_000, 4_000]);
        assert!(
            pauses.iter().sum::<u64>() < 30_000,
            "within wait_until's 30 s"
        );
    }
}
