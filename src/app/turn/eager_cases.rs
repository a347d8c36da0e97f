//! Generated turns for the tests that prove an eager start is safe: `EagerStart::allowed`
//! against `plan` (`app::turn`), and the D1 statements against `EagerStart::allowed`
//! (`store::schema_tests`). One generator, so both proofs cover the same cases.

use proptest::prelude::*;
use serde_json::json;

use super::TurnRequest;
use crate::agent::context::Role;
use crate::agent::AgentConfig;
use crate::store::{
    Agent, Conversation, ConversationState, ConversationWindow, Spend, TurnContext,
};

/// The month every case's spend is recorded in.
pub const MONTH: &str = "2026-03";
/// The conversation every case asks about.
pub const CONVERSATION: &str = "c1";
/// The id of the client's message, when it sends one.
pub const CLIENT_MESSAGE: &str = "u-client";

/// What the store holds under the conversation's id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Held {
    /// Nothing.
    Missing,
    /// Another agent's conversation of the same tenant.
    OtherAgent,
    /// Another tenant's conversation.
    OtherTenant,
    /// The agent's conversation, of the asking visitor, another one, or none.
    Agents(Owner),
}

/// Whose a conversation of the agent is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Owner {
    /// The visitor asking.
    Visitor,
    /// Another visitor.
    Other,
    /// No visitor (started on another surface).
    Nobody,
}

/// One generated turn: what the store holds and what the agent and the request say.
#[derive(Debug, Clone)]
pub struct Case {
    /// The conversation's state.
    pub held: Held,
    /// How many messages it holds (seq 1..=count).
    pub count: i64,
    /// Whether the client named its message (else the worker's fresh id is used).
    pub client_id: bool,
    /// Where the conversation holds the client's message id (`seq`, whether a user message).
    pub resent: Option<(i64, bool)>,
    /// The agent's message limit.
    pub max_messages: u32,
    /// The tenant's and the agent's caps.
    pub caps: (Option<f64>, Option<f64>),
    /// This month's spend of the tenant and the agent (absent rows when zero, sometimes).
    pub spend: (f64, f64),
    /// Whether the agent has a cheaper model to fall back on.
    pub fallback: bool,
}

fn cap() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![Just(None), Just(Some(1.0)), Just(Some(2.0))]
}

fn spent() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), Just(1.5), Just(2.0), Just(3.0)]
}

/// Cases over every branch of the rules, limits and caps near their edges.
pub fn case() -> impl Strategy<Value = Case> {
    let held = prop_oneof![
        Just(Held::Missing),
        Just(Held::OtherAgent),
        Just(Held::OtherTenant),
        Just(Held::Agents(Owner::Visitor)),
        Just(Held::Agents(Owner::Visitor)),
        Just(Held::Agents(Owner::Other)),
        Just(Held::Agents(Owner::Nobody)),
    ];
    (
        held,
        0i64..6,
        any::<bool>(),
        prop::option::of((1i64..6, any::<bool>())),
        0u32..8,
        (cap(), cap()),
        (spent(), spent()),
        any::<bool>(),
    )
        .prop_map(
            |(held, count, client_id, resent, max_messages, caps, spend, fallback)| {
                // The client's id can be held only if it sent one, at a seq that exists.
                let resent = match (held, resent) {
                    (Held::Missing, _) => None,
                    (_, Some((seq, user))) if client_id && count > 0 => {
                        Some((seq.min(count), user))
                    }
                    _ => None,
                };
                let count = if held == Held::Missing { 0 } else { count };
                Case {
                    held,
                    count,
                    client_id,
                    resent,
                    max_messages,
                    caps,
                    spend,
                    fallback,
                }
            },
        )
}

impl Case {
    /// The agent `a1` of tenant `t1`.
    pub fn agent(&self) -> Agent {
        let mut config: AgentConfig = serde_json::from_value(json!({
            "model": "main/model",
            "limits": { "maxMessagesPerConversation": self.max_messages }
        }))
        .expect("config");
        config.limits.monthly_spend_cap = self.caps.1;
        config.limits.spend_cap_model = self.fallback.then(|| "cheap/model".to_owned());
        Agent {
            id: "a1".into(),
            tenant_id: "t1".into(),
            config,
            enabled: true,
            tenant_active: true,
            tenant_spend_cap: self.caps.0,
            ..Agent::default()
        }
    }

    /// Visitor `v1`'s request at time 1000.
    pub fn request(&self) -> TurnRequest {
        TurnRequest {
            conversation_id: CONVERSATION.into(),
            message_id: self.client_id.then(|| CLIENT_MESSAGE.to_owned()),
            fresh_message_id: "u-fresh".into(),
            text: "Hello?".into(),
            visitor_id: "v1".into(),
            now: 1_000,
            page_url: Some("https://shop.example/".into()),
            channel: Some("widget".into()),
            preview: false,
        }
    }

    /// The conversation row the store holds, if any.
    pub fn conversation(&self) -> Option<Conversation> {
        let (tenant, agent, visitor) = match self.held {
            Held::Missing => return None,
            Held::OtherAgent => ("t1", "a2", Some("v1")),
            Held::OtherTenant => ("t2", "a3", Some("v1")),
            Held::Agents(Owner::Visitor) => ("t1", "a1", Some("v1")),
            Held::Agents(Owner::Other) => ("t1", "a1", Some("v2")),
            Held::Agents(Owner::Nobody) => ("t1", "a1", None),
        };
        Some(Conversation {
            id: CONVERSATION.into(),
            tenant_id: tenant.into(),
            agent_id: agent.into(),
            visitor_id: visitor.map(str::to_owned),
            created_at: 0,
            updated_at: 0,
            page_url: None,
            channel: None,
            preview: false,
        })
    }

    /// The held messages' (seq, id, role).
    pub fn messages(&self) -> Vec<(i64, String, Role)> {
        (1..=self.count)
            .map(|seq| match self.resent {
                Some((at, user)) if at == seq => (
                    seq,
                    CLIENT_MESSAGE.to_owned(),
                    if user { Role::User } else { Role::Assistant },
                ),
                _ => (
                    seq,
                    format!("m{seq}"),
                    if seq % 2 == 1 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                ),
            })
            .collect()
    }

    /// What the turn's reads return for this case (the window's messages left out: no rule
    /// looks at them).
    pub fn context(&self) -> TurnContext {
        let conversation = match (self.held, self.conversation()) {
            (Held::Missing, _) | (_, None) => ConversationState::Missing,
            (Held::OtherAgent | Held::OtherTenant, _) => ConversationState::Foreign,
            (Held::Agents(_), Some(conversation)) => ConversationState::Found(ConversationWindow {
                conversation,
                messages: Vec::new(),
                message_count: self.count,
                resent: self
                    .resent
                    .map(|(seq, user)| (seq, if user { Role::User } else { Role::Assistant })),
            }),
        };
        TurnContext {
            conversation,
            spend: Spend {
                tenant: self.spend.0,
                agent: self.spend.1,
            },
        }
    }
}
