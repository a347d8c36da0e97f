//! `GET /api/agents/{agent}/conversations/{id}`: a visitor's conversation with its messages.

use serde_json::json;
use worker::Response;

use crate::app::views::conversation_json;
use crate::auth::visitor::Visitor;
use crate::error::ApiError;
use crate::http::response::json_response;
use crate::ids::is_valid_client_id;
use crate::platform::now_ms;
use crate::store::any::AnyStore;
use crate::store::scoped::ScopedStore;
use crate::store::{Agent, Rating};

/// Returns the visitor's conversation with its messages in UIMessage form.
pub async fn handle(
    store: &AnyStore,
    agent: &Agent,
    visitor: &Visitor,
    conversation_id: &str,
) -> Result<Response, ApiError> {
    if !is_valid_client_id(conversation_id) {
        return Err(ApiError::NotFound("Conversation"));
    }
    let (conversation, messages) = store
        .tenant_scope(&agent.tenant_id)
        .conversation(conversation_id)
        .await?
        .filter(|(c, _)| {
            c.agent_id == agent.id && c.visitor_id.as_deref() == Some(visitor.visitor_id.as_str())
        })
        .ok_or(ApiError::NotFound("Conversation"))?;
    json_response(&conversation_json(&conversation, &messages))
}

/// Stores the visitor's rating of an answer in its own conversation.
pub async fn rate(
    store: &AnyStore,
    agent: &Agent,
    visitor: &Visitor,
    conversation_id: &str,
    message_id: &str,
    rating: Option<Rating>,
) -> Result<Response, ApiError> {
    let owned = is_valid_client_id(conversation_id)
        && store
            .tenant_scope(&agent.tenant_id)
            .conversation(conversation_id)
            .await?
            .is_some_and(|(c, _)| {
                c.agent_id == agent.id
                    && c.visitor_id.as_deref() == Some(visitor.visitor_id.as_str())
            });
    if !owned {
        return Err(ApiError::NotFound("Conversation"));
    }
    if !store
        .tenant_scope(&agent.tenant_id)
        .set_feedback(&agent.id, conversation_id, message_id, rating, now_ms())
        .await?
    {
        return Err(ApiError::NotFound("Answer"));
    }
    json_response(&json!({ "messageId": message_id, "feedback": rating.map(Rating::as_str) }))
}
