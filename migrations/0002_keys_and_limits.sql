-- Keys, tenant secrets, visitor ownership of conversations, and daily usage for spend caps.

ALTER TABLE tenants ADD COLUMN identity_secret TEXT;
ALTER TABLE tenants ADD COLUMN signing_secret TEXT;
ALTER TABLE tenants ADD COLUMN monthly_spend_cap REAL;

-- Secret keys are kept only as SHA-256 hashes; `lookup` is their first characters.
-- Publishable keys are public, so `lookup` is the whole key.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id TEXT REFERENCES agents(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('secret', 'publishable')),
  name TEXT NOT NULL DEFAULT '',
  lookup TEXT NOT NULL,
  hash TEXT NOT NULL,
  masked TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_by_lookup ON api_keys (lookup);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);
CREATE INDEX api_keys_by_agent ON api_keys (agent_id, kind);

ALTER TABLE conversations ADD COLUMN visitor_id TEXT;
CREATE INDEX conversations_by_visitor ON conversations (tenant_id, visitor_id, updated_at DESC);

-- One row per tenant, agent and UTC day; answers add to it in the same batch that stores them.
CREATE TABLE usage_daily (
  tenant_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  day TEXT NOT NULL,
  messages INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, agent_id, day)
);
CREATE INDEX usage_by_tenant_day ON usage_daily (tenant_id, day);
