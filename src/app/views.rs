//! Views several surfaces return: the JSON shape of stored records.

use serde_json::{json, Value};

use crate::store::{Conversation, StoredMessage};

/// A conversation as the APIs return it.
pub fn conversation_json(conversation: &Conversation, messages: &[StoredMessage]) -> Value {
    let messages: Vec<Value> = messages.iter().map(|m| m.to_ui_message()).collect();
    conversation_with(conversation, messages)
}

/// A conversation as its tenant reads it: each answer with its timing summary.
pub fn tenant_conversation_json(conversation: &Conversation, messages: &[StoredMessage]) -> Value {
    let messages: Vec<Value> = messages.iter().map(|m| m.to_tenant_message()).collect();
    conversation_with(conversation, messages)
}

fn conversation_with(conversation: &Conversation, messages: Vec<Value>) -> Value {
    json!({
        "id": conversation.id,
        "agentId": conversation.agent_id,
        "createdAt": conversation.created_at,
        "updatedAt": conversation.updated_at,
        "messages": messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_lists_its_messages_as_ui_messages() {
        let conversation = Conversation {
            id: "c1".into(),
            tenant_id: "t1".into(),
            agent_id: "a1".into(),
            visitor_id: Some("v1".into()),
            created_at: 1,
            updated_at: 2,
            page_url: None,
            channel: None,
            preview: false,
        };
        let view = conversation_json(&conversation, &[]);
        assert_eq!(
            view,
            json!({ "id": "c1", "agentId": "a1", "createdAt": 1, "updatedAt": 2, "messages": [] })
        );
        assert!(view.get("visitorId").is_none() && view.get("tenantId").is_none());
    }
}
