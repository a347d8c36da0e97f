INSERT INTO conversations (id, tenant_id, agent_id, visitor_id, created_at, updated_at,
  page_url, channel, preview)
SELECT ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8
WHERE ?9 >= 2
  AND NOT EXISTS (SELECT 1 FROM conversations WHERE id = ?1)
  AND (?10 IS NULL OR COALESCE((SELECT cost FROM usage_monthly
    WHERE tenant_id = ?2 AND agent_id = '' AND month = ?12), 0) < ?10)
  AND (?11 IS NULL OR COALESCE((SELECT cost FROM usage_monthly
    WHERE tenant_id = ?2 AND agent_id = ?3 AND month = ?12), 0) < ?11)
