SELECT m.seq, m.role FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.conversation_id = ?1 AND m.id = ?4 AND c.tenant_id = ?2 AND c.agent_id = ?3
