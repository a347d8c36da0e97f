INSERT INTO messages (id, conversation_id, tenant_id, seq, role, parts, status, model,
  finish_reason, input_tokens, output_tokens, cost, error, created_at, timing)
SELECT ?1, ?2, ?3, next, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14
FROM (SELECT COALESCE((SELECT seq FROM messages WHERE conversation_id = ?2
  ORDER BY seq DESC LIMIT 1), 0) + 1 AS next)
WHERE next + 1 <= ?17
  AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?2 AND id = ?1)
  AND EXISTS (SELECT 1 FROM conversations
    WHERE id = ?2 AND tenant_id = ?3 AND agent_id = ?15 AND visitor_id = ?16)
  AND (?18 IS NULL OR COALESCE((SELECT cost FROM usage_monthly
    WHERE tenant_id = ?3 AND agent_id = '' AND month = ?20), 0) < ?18)
  AND (?19 IS NULL OR COALESCE((SELECT cost FROM usage_monthly
    WHERE tenant_id = ?3 AND agent_id = ?15 AND month = ?20), 0) < ?19)
