-- A tenant's integrations (settings for an outside service, by name: twilio, later langfuse
-- and otlp) and phone calls (one per phone conversation).

-- `settings` may be shown back; `secrets` never leaves the server. Both are JSON objects whose
-- fields each name defines (app::integrations), so a new integration needs no schema change.
CREATE TABLE integrations (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  settings TEXT NOT NULL CHECK (json_valid(settings)),
  secrets TEXT NOT NULL CHECK (json_valid(secrets)),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- The call a phone conversation is: who called, Twilio's call SID, and how it ended.
CREATE TABLE calls (
  conversation_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  call_sid TEXT NOT NULL,
  caller TEXT NOT NULL,
  callee TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,
  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);

-- A call goes with its conversation, whichever delete removes it (one conversation, or an
-- agent's in batches).
CREATE TRIGGER calls_follow_conversations AFTER DELETE ON conversations BEGIN DELETE FROM calls WHERE conversation_id = old.id; END;
