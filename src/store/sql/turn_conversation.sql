SELECT id, tenant_id, agent_id, visitor_id, created_at, updated_at,
  CASE WHEN tenant_id = ?2 AND agent_id = ?3
    THEN (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?1) END AS message_count
FROM conversations WHERE id = ?1
