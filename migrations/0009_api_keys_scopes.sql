-- Key kinds for the OpenAI-compatible API ('api') and, later, MCP ('mcp'), with the scope
-- columns both use. SQLite cannot widen a CHECK in place, so the table is rebuilt.
--   scope_agents: JSON array of the agent ids the key may call; NULL = every agent of the
--                 tenant (only 'api' and 'mcp' keys read it).
--   browser:      1 when the tenant marked the key for use from web pages (CORS on /v1).
--   per_minute:   the key's own rate limit (requests a minute); NULL = the default.
-- The hash must be a SHA-256 digest (64 lowercase hex digits), never a key itself.

-- The demo seed once stored its publishable key with an empty hash: give it its digest
-- (sha256 of 'pk_live_demo') so the copy below keeps it. Any other row without a digest
-- stops this migration, rather than being dropped.
UPDATE api_keys SET hash = 'd98076c9f3a6bf3ed9156fa17e3726a4feb289d243a412ed6365e44cdbb66b94'
WHERE id = 'key_demo' AND lookup = 'pk_live_demo' AND hash = '';

CREATE TABLE api_keys_v9 (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id TEXT REFERENCES agents(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('secret', 'publishable', 'api', 'mcp')),
  name TEXT NOT NULL DEFAULT '',
  lookup TEXT NOT NULL,
  hash TEXT NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
  masked TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  scope_agents TEXT CHECK (scope_agents IS NULL OR json_type(scope_agents) = 'array'),
  browser INTEGER NOT NULL DEFAULT 0 CHECK (browser IN (0, 1)),
  per_minute INTEGER CHECK (per_minute IS NULL OR per_minute > 0)
);

INSERT INTO api_keys_v9 (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at, revoked_at)
SELECT id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at, revoked_at FROM api_keys;

DROP TABLE api_keys;
ALTER TABLE api_keys_v9 RENAME TO api_keys;

CREATE INDEX api_keys_by_lookup ON api_keys (lookup);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at DESC, id);
CREATE INDEX api_keys_by_agent ON api_keys (agent_id, kind);
