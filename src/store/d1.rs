//! The `Store` on Cloudflare D1 (SQLite), the zero-account default.

use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use super::rows::{self, AgentRow, ConversationRow, MessageRow, Param};
use super::{Agent, Conversation, Store, StoreError, StoredMessage, TurnStart};

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

impl D1Store {
    fn append_statements(
        &self,
        message: &StoredMessage,
        out: &mut Vec<D1PreparedStatement>,
    ) -> Result<(), StoreError> {
        out.push(self.statement(rows::INSERT_MESSAGE, &rows::message_params(message))?);
        out.push(self.statement(
            rows::TOUCH_CONVERSATION,
            &[
                message.conversation_id.as_str().into(),
                Param::Int(message.created_at),
            ],
        )?);
        Ok(())
    }
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
    ) -> Result<Option<(Conversation, Vec<StoredMessage>)>, StoreError> {
        let reads = vec![
            self.statement(rows::SELECT_CONVERSATION, &[conversation_id.into()])?,
            self.statement(rows::SELECT_MESSAGES, &[conversation_id.into()])?,
        ];
        let results = self.db.batch(reads).await.map_err(unavailable)?;
        let corrupt = |e: worker::Error| StoreError::Corrupt(e.to_string());
        let Some(conversation) = results
            .first()
            .map(|r| r.results::<ConversationRow>())
            .transpose()
            .map_err(corrupt)?
            .and_then(|rows| rows.into_iter().next())
        else {
            return Ok(None);
        };
        let rows: Vec<MessageRow> = results
            .get(1)
            .map(|r| r.results())
            .transpose()
            .map_err(corrupt)?
            .unwrap_or_default();
        let messages = rows
            .into_iter()
            .map(MessageRow::into_message)
            .collect::<Result<_, _>>()?;
        Ok(Some((conversation.into(), messages)))
    }

    async fn start_turn(&self, start: &TurnStart) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(4);
        if start.create {
            writes.push(self.statement(
                rows::INSERT_CONVERSATION,
                &rows::conversation_params(&start.conversation),
            )?);
        }
        if let Some(seq) = start.replace_after {
            writes.push(self.statement(
                rows::DELETE_MESSAGES_AFTER,
                &[start.conversation.id.as_str().into(), Param::Int(seq)],
            )?);
        }
        if let Some(message) = &start.user_message {
            self.append_statements(message, &mut writes)?;
        }
        if !writes.is_empty() {
            self.db.batch(writes).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn append_message(&self, message: &StoredMessage) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(2);
        self.append_statements(message, &mut writes)?;
        self.db.batch(writes).await.map_err(unavailable)?;
        Ok(())
    }
}
