INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, status, model,
  finish_reason, input_tokens, output_tokens, cost, error, created_at, timing)
SELECT ?1, ?2, ?3, next, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14
FROM (SELECT COALESCE((SELECT seq FROM messages WHERE conversation_id = ?2
  ORDER BY seq DESC LIMIT 1), 0) + 1 AS next)
WHERE NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?2 AND id = ?1)
