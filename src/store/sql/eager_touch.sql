UPDATE conversations SET updated_at = MAX(updated_at, ?2)
WHERE id = ?1 AND tenant_id = ?3 AND agent_id = ?4 AND visitor_id = ?5
  AND EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND id = ?6 AND created_at = ?2)
