//! A turn's plan before the store has answered, so a surface can send the model its first
//! request while the read is on its way (`llm::client::HttpModel::prefetch`): the model's time
//! to first token then overlaps the store's round trip instead of following it.
//!
//! A guess is only ever sent, never shown or stored: the turn uses the response only when the
//! request it plans from the real read is byte for byte the guessed one, and cancels it
//! otherwise. So guesses are made only where they are almost always right, because a wrong one
//! costs a model call that is cancelled: a question that starts a conversation, under spend
//! caps this isolate has seen the agent within (or no caps at all).

use std::cell::RefCell;
use std::collections::HashMap;

use super::{
    plan, plan_stateless, spend_caps, stored_turn, StatelessPlan, StatelessRequest, TurnPlan,
    TurnRequest,
};
use crate::agent::first_request;
use crate::app::knowledge::prompt_without_search;
use crate::llm::{ModelRequest, ToolSpec};
use crate::store::{Agent, ConversationState, Spend, TurnContext};

/// Agents whose last read spend an isolate keeps; past this the memory starts over.
const REMEMBERED_AGENTS: usize = 1024;

thread_local! {
    /// The month's spend the last turn read found, by tenant and agent.
    static SPEND: RefCell<HashMap<(String, String), Spend>> = RefCell::new(HashMap::new());
}

/// Notes the spend a turn of `agent_id` read, for the next guess of that agent's turns.
pub fn remember_spend(tenant_id: &str, agent_id: &str, spend: Spend) {
    SPEND.with(|remembered| {
        let mut remembered = remembered.borrow_mut();
        if remembered.len() >= REMEMBERED_AGENTS {
            remembered.clear();
        }
        remembered.insert((tenant_id.to_owned(), agent_id.to_owned()), spend);
    });
}

/// Adds what a turn of `agent_id` just cost to its remembered spend, so the next guess knows
/// of a cap this isolate's own answers reached (the next read would say so too late).
pub fn spent(tenant_id: &str, agent_id: &str, cost: f64) {
    if cost <= 0.0 {
        return;
    }
    SPEND.with(|remembered| {
        let key = (tenant_id.to_owned(), agent_id.to_owned());
        if let Some(spend) = remembered.borrow_mut().get_mut(&key) {
            spend.tenant += cost;
            spend.agent += cost;
        }
    });
}

/// The spend to guess with: nothing matters when the agent has no cap; under a cap, the last
/// read of its spend in this isolate (`None` before any: the turn could be refused).
fn known_spend(agent: &Agent) -> Option<Spend> {
    let caps = spend_caps(agent);
    if caps.tenant.is_none() && caps.agent.is_none() {
        return Some(Spend::default());
    }
    SPEND.with(|remembered| {
        remembered
            .borrow()
            .get(&(agent.tenant_id.clone(), agent.id.clone()))
            .copied()
    })
}

/// The plan `plan` makes of `request` when the store holds no conversation by its id, if the
/// spend it would read is known and lets the turn run.
pub fn new_conversation(agent: &Agent, request: &TurnRequest) -> Option<TurnPlan> {
    let context = TurnContext {
        conversation: ConversationState::Missing,
        spend: known_spend(agent)?,
    };
    plan(agent, context, request.clone()).ok()
}

/// The first model request of a stored turn (widget, MCP) whose question starts a new
/// conversation, as the surface sends it once the store has answered, with `system` the prompt
/// before grounding: `None` without a good guess (spend unknown under a cap, a turn the plan
/// refuses, or a question searched in knowledge first).
pub fn first_request_of_new_conversation(
    agent: &Agent,
    request: &TurnRequest,
    system: &str,
    message_id: &str,
    tools: Vec<ToolSpec>,
    subrequest_budget: u32,
) -> Option<ModelRequest> {
    let grounding = prompt_without_search(agent)?;
    let planned = new_conversation(agent, request)?;
    let turn = stored_turn(
        agent,
        message_id.to_owned(),
        planned.models,
        &format!("{system}{grounding}"),
        &planned.history,
        tools,
        subrequest_budget,
    );
    Some(first_request(&turn))
}

/// The plan of a stateless turn (whose conversation the caller sends) with the known spend:
/// `plan_stateless`'s, unless the spend is unknown under a cap or the plan refuses.
pub fn stateless(agent: &Agent, request: &StatelessRequest) -> Option<StatelessPlan> {
    plan_stateless(agent, known_spend(agent)?, request.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::turn::{eager_start, read, TurnRead};
    use crate::store::memory::MemoryStore;
    use crate::store::scoped::ScopedStore;
    use crate::store::TurnQuery;
    use futures::executor::block_on;

    fn agent(id: &str, cap: Option<f64>) -> Agent {
        let mut config: crate::agent::config::AgentConfig =
            serde_json::from_value(serde_json::json!({ "model": "main/model" })).expect("config");
        config.limits.monthly_spend_cap = cap;
        Agent {
            id: id.into(),
            tenant_id: "t1".into(),
            config,
            enabled: true,
            tenant_active: true,
            ..Agent::default()
        }
    }

    fn request(text: &str) -> TurnRequest {
        TurnRequest {
            conversation_id: "chat_g".into(),
            message_id: Some("msg_g".into()),
            fresh_message_id: "msg_f".into(),
            text: text.into(),
            visitor_id: "v1".into(),
            now: 1_700_000_000_000,
            page_url: Some("https://shop.example/".into()),
            channel: Some("widget".into()),
            preview: false,
        }
    }

    fn api_request() -> StatelessRequest {
        StatelessRequest {
            messages: vec![crate::llm::ChatMessage::User {
                content: "hi".into(),
            }],
            store: true,
            visitor_id: "api:k1".into(),
            conversation_id: "chat_api".into(),
            message_id: "msg_api".into(),
            now: 1_700_000_000_000,
        }
    }

    /// What the surfaces do: read (storing the question with it), then plan.
    fn planned(store: &MemoryStore, agent: &Agent, request: &TurnRequest) -> Option<TurnPlan> {
        let query = TurnQuery {
            tenant_id: &agent.tenant_id,
            agent_id: &agent.id,
            conversation_id: Some(&request.conversation_id),
            resent_message_id: request.message_id.as_deref(),
            month: "2023-11",
            history_limit: 40,
        };
        let eager = eager_start(agent, request);
        let scope = store.tenant_scope(&agent.tenant_id);
        let TurnRead { context, .. } = block_on(read(&scope, &query, Some(&eager))).ok()?;
        plan(agent, context, request.clone()).ok()
    }

    #[test]
    fn a_new_conversation_is_guessed_as_the_read_plans_it() {
        let store = MemoryStore::default();
        let agent = agent("a_guess_new", None);
        let guessed = new_conversation(&agent, &request("Where is my order?"));
        assert!(guessed.is_some());
        assert_eq!(
            guessed,
            planned(&store, &agent, &request("Where is my order?"))
        );
    }

    #[test]
    fn a_continued_conversation_is_not_what_the_guess_planned() {
        let store = MemoryStore::default();
        let agent = agent("a_guess_old", None);
        planned(&store, &agent, &request("first")).expect("first turn");
        let mut second = request("second");
        second.message_id = Some("msg_g2".into());
        let guessed = new_conversation(&agent, &second).expect("a guess");
        let real = planned(&store, &agent, &second).expect("second turn");
        // The history differs, so the first model request would too: the prefetch is cancelled.
        assert_ne!(guessed.history.len(), real.history.len());
    }

    #[test]
    fn under_a_cap_only_a_spend_read_in_this_isolate_allows_a_guess() {
        let agent = agent("a_guess_capped", Some(5.0));
        assert_eq!(new_conversation(&agent, &request("hi")), None);
        assert_eq!(stateless(&agent, &api_request()), None);
        remember_spend(
            &agent.tenant_id,
            &agent.id,
            Spend {
                tenant: 1.0,
                agent: 1.0,
            },
        );
        assert!(new_conversation(&agent, &request("hi")).is_some());
        let planned = stateless(&agent, &api_request()).expect("a guess");
        assert_eq!(planned.models, agent.config.model_chain());
        assert_eq!(
            Some(planned),
            plan_stateless(
                &agent,
                Spend {
                    tenant: 1.0,
                    agent: 1.0
                },
                api_request()
            )
            .ok()
        );
        // An answer of this isolate that crosses the cap is counted before the next read.
        spent(&agent.tenant_id, &agent.id, 4.5);
        assert_eq!(new_conversation(&agent, &request("hi")), None);
        // Over the cap with no cheaper model: the turn is refused, so nothing is sent early.
        remember_spend(
            &agent.tenant_id,
            &agent.id,
            Spend {
                tenant: 1.0,
                agent: 6.0,
            },
        );
        assert_eq!(new_conversation(&agent, &request("hi")), None);
        assert_eq!(stateless(&agent, &api_request()), None);
    }
}
