//! The `Store` on Cloudflare D1 (SQLite), the zero-account default.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use super::rows::{self, AgentRow, ConversationRow, MessageRow, Param};
use super::{Agent, Conversation, Store, StoreError, StoredMessage};

/// D1 binding name in `wrangler.toml`.
pub const BINDING: &str = "DB";

/// A `Store` backed by the `DB` binding.
pub struct D1Store {
    db: D1Database,
}

impl D1Store {
    /// Opens the `DB` binding.
    pub fn from_env(env: &Env) -> Result<Self, StoreError> {
        let db = env
            .d1(BINDING)
            .map_err(|e| StoreError::Unavailable(format!("D1 binding {BINDING}: {e}")))?;
        Ok(Self { db })
    }

    fn statement(&self, sql: &str, params: &[Param]) -> Result<D1PreparedStatement, StoreError> {
        let values: Vec<JsValue> = params.iter().map(to_js).collect();
        self.db.prepare(sql).bind(&values).map_err(unavailable)
    }
}

fn to_js(param: &Param) -> JsValue {
    match param {
        Param::Null => JsValue::NULL,
        Param::Text(s) => JsValue::from_str(s),
        Param::Int(i) => JsValue::from_f64(*i as f64),
        Param::Real(f) => JsValue::from_f64(*f),
    }
}

fn unavailable(e: worker::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[derive(Deserialize)]
struct SeqRow {
    seq: f64,
}

impl Store for D1Store {
    async fn agent(&self, agent_id: &str) -> Result<Option<Agent>, StoreError> {
        let row: Option<AgentRow> = self
            .statement(rows::SELECT_AGENT, &[agent_id.into()])?
            .first(None)
            .await
            .map_err(unavailable)?;
        row.map(AgentRow::into_agent).transpose()
    }

    async fn conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let row: Option<ConversationRow> = self
            .statement(rows::SELECT_CONVERSATION, &[conversation_id.into()])?
            .first(None)
            .await
            .map_err(unavailable)?;
        Ok(row.map(Conversation::from))
    }

    async fn create_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        self.statement(
            rows::INSERT_CONVERSATION,
            &rows::conversation_params(conversation),
        )?
        .run()
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn messages(&self, conversation_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let result = self
            .statement(rows::SELECT_MESSAGES, &[conversation_id.into()])?
            .all()
            .await
            .map_err(unavailable)?;
        let rows: Vec<MessageRow> = result
            .results()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        rows.into_iter().map(MessageRow::into_message).collect()
    }

    async fn append_message(&self, message: &StoredMessage) -> Result<i64, StoreError> {
        let insert = self.statement(rows::INSERT_MESSAGE, &rows::message_params(message))?;
        let touch = self.statement(
            rows::TOUCH_CONVERSATION,
            &[
                message.conversation_id.as_str().into(),
                Param::Int(message.created_at),
            ],
        )?;
        let results = self
            .db
            .batch(vec![insert, touch])
            .await
            .map_err(unavailable)?;
        let seq = results
            .first()
            .and_then(|r| r.results::<SeqRow>().ok())
            .and_then(|rows| rows.first().map(|r| r.seq as i64))
            .ok_or_else(|| StoreError::Unavailable("insert returned no seq".into()))?;
        Ok(seq)
    }

    async fn delete_messages_after(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> Result<(), StoreError> {
        self.statement(
            rows::DELETE_MESSAGES_AFTER,
            &[conversation_id.into(), Param::Int(seq)],
        )?
        .run()
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}
