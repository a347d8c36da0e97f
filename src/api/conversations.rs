//! `GET /api/agents/{agent}/conversations/{id}`: a conversation's stored messages.

use serde_json::{json, Value};
use worker::{Env, Response};

use super::handler::{json_response, load_agent};
use crate::error::ApiError;
use crate::ids::is_valid_client_id;
use crate::store::d1::D1Store;
use crate::store::Store;

/// Returns the conversation with its messages in UIMessage form.
pub async fn handle(
    env: &Env,
    agent_id: &str,
    conversation_id: &str,
) -> Result<Response, ApiError> {
    if !is_valid_client_id(conversation_id) {
        return Err(ApiError::NotFound("Conversation"));
    }
    let store = D1Store::from_env(env)?;
    let agent = load_agent(&store, agent_id).await?;
    let (conversation, messages) = store
        .conversation(conversation_id)
        .await?
        .filter(|(c, _)| c.agent_id == agent.id)
        .ok_or(ApiError::NotFound("Conversation"))?;
    let messages: Vec<Value> = messages.iter().map(|m| m.to_ui_message()).collect();
    json_response(&json!({
        "id": conversation.id,
        "agentId": conversation.agent_id,
        "createdAt": conversation.created_at,
        "updatedAt": conversation.updated_at,
        "messages": messages,
    }))
}
