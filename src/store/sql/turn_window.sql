SELECT * FROM (
  SELECT id, conversation_id, tenant_id, seq, role, parts, status, model, finish_reason,
    input_tokens, output_tokens, cost, error, feedback, created_at
  FROM messages
  WHERE conversation_id = ?1
    AND EXISTS (SELECT 1 FROM conversations WHERE id = ?1 AND tenant_id = ?2 AND agent_id = ?3)
    AND seq <= COALESCE(
      (SELECT seq FROM messages WHERE conversation_id = ?1 AND id = ?4 AND role = 'user'),
      9007199254740991)
  ORDER BY seq DESC LIMIT ?5
) ORDER BY seq
