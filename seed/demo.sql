-- The demo tenant and its agent `demo`, applied by every `npm run dev`: the agent is created once
-- and then belongs to you (dashboard edits survive restarts); delete it to get this version back.
-- `npm run dev` fills in {{PORT}} and the tenant's local secrets ({{IDENTITY_SECRET}},
-- {{SIGNING_SECRET}}, the dashboard key's {{DEMO_KEY_…}}), which it generates once per local database.
INSERT INTO tenants (id, name, status, created_at, identity_secret, signing_secret)
VALUES ('demo', 'Demo Company', 'active', CAST(unixepoch('subsec') * 1000 AS INTEGER), '{{IDENTITY_SECRET}}', '{{SIGNING_SECRET}}')
ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = 'active',
  identity_secret = COALESCE(identity_secret, excluded.identity_secret),
  signing_secret = COALESCE(signing_secret, excluded.signing_secret);

INSERT INTO agents (id, tenant_id, config, enabled, created_at, updated_at)
VALUES ('demo', 'demo', json('{
  "name": "Demo assistant",
  "systemPrompt": "You are the friendly assistant of Demo Company, shown on its website. Answer briefly and clearly. When a question depends on the date or time, call get_current_time.",
  "model": "openai/gpt-4o-mini",
  "models": ["google/gemini-2.5-flash", "anthropic/claude-3.5-haiku"],
  "temperature": 0.4,
  "maxSteps": 5,
  "tools": { "builtin": ["get_current_time"], "webhooks": [] },
  "branding": { "title": "Demo Company", "primaryColor": "#4f46e5", "theme": "auto" },
  "welcomeMessage": "Hi! I am the Demo Company assistant. Ask me anything.",
  "starterPrompts": ["What time is it in Tokyo?", "What can you do?"],
  "allowedOrigins": ["http://127.0.0.1:{{PORT}}", "http://localhost:{{PORT}}"]
}'), 1, CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER))
ON CONFLICT (id) DO NOTHING;

-- An existing demo agent keeps every edit made in the dashboard; only this run's dev origins
-- are added when missing (PORT may differ from the last run), so the demo site still chats.
UPDATE agents SET config = json_insert(config, '$.allowedOrigins[#]', 'http://127.0.0.1:{{PORT}}'),
  updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
WHERE id = 'demo' AND json_type(config, '$.allowedOrigins') = 'array'
  AND NOT EXISTS (SELECT 1 FROM json_each(config, '$.allowedOrigins') WHERE value = 'http://127.0.0.1:{{PORT}}');
UPDATE agents SET config = json_insert(config, '$.allowedOrigins[#]', 'http://localhost:{{PORT}}'),
  updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
WHERE id = 'demo' AND json_type(config, '$.allowedOrigins') = 'array'
  AND NOT EXISTS (SELECT 1 FROM json_each(config, '$.allowedOrigins') WHERE value = 'http://localhost:{{PORT}}');

-- The demo agent's publishable key (public by design: it goes into web pages).
INSERT INTO api_keys (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at)
VALUES ('key_demo', 'demo', 'demo', 'publishable', 'Demo page', 'pk_live_demo', 'd98076c9f3a6bf3ed9156fa17e3726a4feb289d243a412ed6365e44cdbb66b94', 'pk_live_demo', CAST(unixepoch('subsec') * 1000 AS INTEGER))
ON CONFLICT (id) DO UPDATE SET revoked_at = NULL;

-- The demo tenant's secret key (the dashboard's sign-in); `npm run dev` generates it and prints it.
INSERT INTO api_keys (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at)
VALUES ('key_demo_secret', 'demo', NULL, 'secret', 'Local dashboard', '{{DEMO_KEY_LOOKUP}}', '{{DEMO_KEY_HASH}}', '{{DEMO_KEY_MASKED}}', CAST(unixepoch('subsec') * 1000 AS INTEGER))
ON CONFLICT (id) DO UPDATE SET lookup = excluded.lookup, hash = excluded.hash, masked = excluded.masked, revoked_at = NULL;

-- The demo tenant's MCP key, tenant-wide (for MCP clients); `npm run dev:mcp` generates it and
-- prints it with client configurations.
INSERT INTO api_keys (id, tenant_id, agent_id, kind, name, lookup, hash, masked, created_at)
VALUES ('key_demo_mcp', 'demo', NULL, 'mcp', 'Local MCP clients', '{{DEMO_MCP_LOOKUP}}', '{{DEMO_MCP_HASH}}', '{{DEMO_MCP_MASKED}}', CAST(unixepoch('subsec') * 1000 AS INTEGER))
ON CONFLICT (id) DO UPDATE SET lookup = excluded.lookup, hash = excluded.hash, masked = excluded.masked, revoked_at = NULL;
