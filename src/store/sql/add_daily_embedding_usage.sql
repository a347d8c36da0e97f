INSERT INTO usage_daily (tenant_id, agent_id, day, messages, input_tokens, output_tokens, cost)
SELECT ?1, ?2, ?3, 0, ?4, ?5, ?6
WHERE NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?7 AND id = ?8)
ON CONFLICT (tenant_id, agent_id, day) DO UPDATE SET
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens, cost = cost + excluded.cost
