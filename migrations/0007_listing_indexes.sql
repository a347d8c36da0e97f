-- Listings read one page: each index runs in its listing's order with `id` last, so a page
-- cursor `(created_at, id)` is a seek into it and `LIMIT` stops the read.

DROP INDEX agents_by_tenant;
CREATE INDEX agents_by_tenant ON agents (tenant_id, created_at, id);

-- Keys are listed newest first, then by id ascending.
DROP INDEX api_keys_by_tenant;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at DESC, id);

CREATE INDEX tenants_by_created ON tenants (created_at, id);
