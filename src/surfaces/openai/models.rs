//! `GET /v1/models`: the agents a key may call, in OpenAI's list shape.

use serde_json::{json, Value};

use crate::store::Agent;

/// One agent as a model object (`name` is an extension: the agent's display name).
pub fn model(agent: &Agent) -> Value {
    json!({
        "id": agent.id,
        "object": "model",
        "created": agent.created_at / 1000,
        "owned_by": agent.tenant_id,
        "name": agent.config.name,
    })
}

/// The list of models.
pub fn list(agents: &[Agent]) -> Value {
    json!({ "object": "list", "data": agents.iter().map(model).collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_agents_in_openais_list_shape() {
        let agent = Agent {
            id: "support".into(),
            tenant_id: "t1".into(),
            created_at: 1_700_000_000_123,
            ..Agent::default()
        };
        assert_eq!(
            list(&[agent]),
            json!({"object": "list", "data": [{"id": "support", "object": "model",
                "created": 1_700_000_000, "owned_by": "t1", "name": "Assistant"}]})
        );
    }
}
