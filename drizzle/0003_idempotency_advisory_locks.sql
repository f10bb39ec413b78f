-- Idempotency keys: a request in flight holds its key with a transaction-level advisory lock
-- (shared/idempotency.ts), no longer with an `in_progress` row and a 60 s lease. Rows left by the
-- former scheme are claims of requests that are no longer running (a migration runs at start).
DELETE FROM "kernel"."idempotency_keys" WHERE "status" = 'in_progress';--> statement-breakpoint
ALTER TABLE "kernel"."idempotency_keys" DROP COLUMN "locked_at";--> statement-breakpoint
SELECT kernel.apply_tenant_isolation();
