-- Data lifecycle (#19): a tenant's retention setting, and the indexes its sweep and the end-user
-- erase and export read.
--   retention_days: conversations whose last activity (updated_at) is older than this many days
--                   are deleted by the scheduled sweep; NULL keeps them forever.
ALTER TABLE tenants ADD COLUMN retention_days INTEGER CHECK (retention_days IS NULL OR retention_days BETWEEN 1 AND 3650);

-- The sweep reads a tenant's oldest conversations first: a range of this index, whatever the
-- agent (conversations_by_agent starts with the agent). End users' conversations are found
-- through conversations_by_visitor (migration 0002).
CREATE INDEX conversations_by_tenant_updated ON conversations (tenant_id, updated_at, id);
