INSERT INTO usage_monthly (tenant_id, agent_id, month, messages, input_tokens, output_tokens, cost)
SELECT ?1, who, substr(?3, 1, 7), 0, ?4, ?5, ?6
FROM (SELECT ?2 AS who UNION ALL SELECT '')
WHERE NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?7 AND id = ?8)
ON CONFLICT (tenant_id, agent_id, month) DO UPDATE SET
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens, cost = cost + excluded.cost
