SELECT
  COALESCE((SELECT cost FROM usage_monthly WHERE tenant_id = ?1 AND agent_id = '' AND month = ?3), 0) AS tenant,
  COALESCE((SELECT cost FROM usage_monthly WHERE tenant_id = ?1 AND agent_id = ?2 AND month = ?3), 0) AS agent
