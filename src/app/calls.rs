//! What the management API shows of a phone call, next to its conversation's transcript.

use serde_json::{json, Value};

use super::management::Management;
use crate::error::ApiError;
use crate::store::scoped::ScopedStore;
use crate::store::{Call, Conversation, Store};

/// Channel label of phone conversations.
pub const PHONE: &str = "phone";

/// The call as the conversation view shows it (to the tenant: the full caller number).
pub fn call_view(call: &Call) -> Value {
    let duration = call
        .details
        .get("durationSecs")
        .and_then(Value::as_i64)
        .or_else(|| {
            call.ended_at
                .map(|end| (end - call.started_at).max(0) / 1000)
        });
    json!({
        "callSid": call.call_sid,
        "caller": call.caller,
        "callee": call.callee,
        "startedAt": call.started_at,
        "endedAt": call.ended_at,
        "durationSecs": duration,
        "outcome": call.outcome,
        "details": call.details,
    })
}

impl<S: Store> Management<'_, S> {
    /// The call a tenant's conversation is, when it is a phone conversation.
    pub async fn call_of(
        &self,
        tenant_id: &str,
        conversation: &Conversation,
    ) -> Result<Option<Call>, ApiError> {
        if conversation.channel.as_deref() != Some(PHONE) {
            return Ok(None);
        }
        Ok(self
            .store
            .tenant_scope(tenant_id)
            .call(&conversation.id)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duration_is_twilios_or_measured() {
        let mut call = Call {
            conversation_id: "call_CA1".into(),
            tenant_id: "t1".into(),
            agent_id: "a1".into(),
            call_sid: "CA1".into(),
            caller: "+18005550100".into(),
            callee: "+18005550101".into(),
            started_at: 10_000,
            ended_at: Some(75_500),
            outcome: Some("completed".into()),
            details: json!({}),
        };
        assert_eq!(call_view(&call)["durationSecs"], 65);
        call.details = json!({"durationSecs": 64});
        assert_eq!(call_view(&call)["durationSecs"], 64);
        call.ended_at = None;
        call.details = json!({});
        assert_eq!(call_view(&call)["durationSecs"], Value::Null);
        assert_eq!(call_view(&call)["caller"], "+18005550100");
    }
}
