-- Rated answers are listed per tenant, newest rating first.

CREATE INDEX messages_by_feedback ON messages (tenant_id, feedback_at DESC) WHERE feedback IS NOT NULL;
