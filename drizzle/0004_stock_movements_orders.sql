ALTER TABLE "inventory"."stock_movements" ALTER COLUMN "on_hand_after" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "inventory"."stock_movements" ADD COLUMN "order_id" uuid;--> statement-breakpoint
CREATE INDEX "stock_movements_order_idx" ON "inventory"."stock_movements" USING btree ("tenant_id","order_id") WHERE "inventory"."stock_movements"."order_id" is not null;--> statement-breakpoint
-- Sales of orders placed before this migration, as the movements they would have recorded: a
-- line took stock if its item was tracked when the order was placed, i.e. its first movement (the
-- count that started tracking) is not later than the order. A tracked item is never untracked
-- while orders reference it (deleting such an item archives it), so this is exact. Cancelling
-- such an order then restores what it took, and nothing for items tracked only afterwards.
INSERT INTO "inventory"."stock_movements" ("tenant_id", "id", "menu_item_id", "delta", "reason", "on_hand_after", "user_id", "order_id", "created_at")
SELECT l."tenant_id", gen_random_uuid(), l."menu_item_id", -sum(l."quantity")::integer, 'sale', NULL, o."created_by", o."id", o."created_at"
FROM "orders"."orders" o
JOIN "orders"."order_lines" l ON l."tenant_id" = o."tenant_id" AND l."order_id" = o."id"
WHERE o."status" = 'paid'
  AND EXISTS (
    SELECT 1 FROM "inventory"."stock_movements" m
    WHERE m."tenant_id" = l."tenant_id" AND m."menu_item_id" = l."menu_item_id" AND m."created_at" <= o."created_at"
  )
GROUP BY l."tenant_id", l."menu_item_id", o."id", o."created_by", o."created_at";--> statement-breakpoint
-- Time zones PostgreSQL does not know (signup used to check them with Intl, which accepts e.g.
-- US/Pacific-New) broke every report of their tenant: they become UTC. UTC offsets (±HH:MM) stay.
UPDATE "auth"."tenants" SET "time_zone" = 'UTC'
WHERE "time_zone" NOT IN (SELECT "name" FROM pg_timezone_names)
  AND "time_zone" !~ '^[+-](0[0-9]|1[0-5]):[0-5][0-9]$';--> statement-breakpoint
SELECT kernel.apply_tenant_isolation();
