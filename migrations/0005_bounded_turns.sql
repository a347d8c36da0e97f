-- Bounded work per chat turn: running monthly totals (the spend check reads two rows), the
-- agent version as a counter, and an index nothing reads dropped.

-- One row per tenant, agent and UTC month (`YYYY-MM`), plus one with agent_id '' for the
-- tenant's total; answers add to both in the same batch that adds to usage_daily.
CREATE TABLE usage_monthly (
  tenant_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  month TEXT NOT NULL,
  messages INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, agent_id, month)
);

INSERT INTO usage_monthly (tenant_id, agent_id, month, messages, input_tokens, output_tokens, cost)
SELECT tenant_id, agent_id, substr(day, 1, 7), SUM(messages), SUM(input_tokens), SUM(output_tokens), SUM(cost)
FROM usage_daily GROUP BY tenant_id, agent_id, substr(day, 1, 7);

INSERT INTO usage_monthly (tenant_id, agent_id, month, messages, input_tokens, output_tokens, cost)
SELECT tenant_id, '', substr(day, 1, 7), SUM(messages), SUM(input_tokens), SUM(output_tokens), SUM(cost)
FROM usage_daily GROUP BY tenant_id, substr(day, 1, 7);

-- Counts saves; the stale-edit check compares it instead of a timestamp from the caller's clock.
ALTER TABLE agents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Nothing reads messages by tenant and time (rated answers have messages_by_feedback).
DROP INDEX messages_by_tenant;
