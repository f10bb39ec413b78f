CREATE SCHEMA "auth";
--> statement-breakpoint
CREATE SCHEMA "inventory";
--> statement-breakpoint
CREATE SCHEMA "orders";
--> statement-breakpoint
CREATE SCHEMA "payments";
--> statement-breakpoint
CREATE SCHEMA "reporting";
--> statement-breakpoint
CREATE SCHEMA "restaurant";
--> statement-breakpoint
CREATE SCHEMA "kernel";
--> statement-breakpoint
CREATE TABLE "auth"."tenants" (
	"id" uuid PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"currency" char(3) NOT NULL,
	"tax_rate_bps" integer DEFAULT 0 NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenants_slug_uq" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "auth"."users" (
	"tenant_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"email" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "inventory"."stock_levels" (
	"tenant_id" uuid NOT NULL,
	"menu_item_id" uuid NOT NULL,
	"on_hand" integer NOT NULL,
	"low_stock_threshold" integer DEFAULT 0 NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stock_levels_pk" PRIMARY KEY("tenant_id","menu_item_id"),
	CONSTRAINT "stock_levels_on_hand_non_negative" CHECK ("inventory"."stock_levels"."on_hand" >= 0),
	CONSTRAINT "stock_levels_threshold_non_negative" CHECK ("inventory"."stock_levels"."low_stock_threshold" >= 0)
);
--> statement-breakpoint
CREATE TABLE "inventory"."stock_movements" (
	"tenant_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"menu_item_id" uuid NOT NULL,
	"delta" integer NOT NULL,
	"reason" text NOT NULL,
	"on_hand_after" integer NOT NULL,
	"user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stock_movements_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "orders"."order_counters" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"last_number" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "orders"."order_lines" (
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"line_no" smallint NOT NULL,
	"menu_item_id" uuid NOT NULL,
	"name" text NOT NULL,
	"unit_price" bigint NOT NULL,
	"quantity" integer NOT NULL,
	"line_total" bigint NOT NULL,
	CONSTRAINT "order_lines_pk" PRIMARY KEY("tenant_id","order_id","line_no")
);
--> statement-breakpoint
CREATE TABLE "orders"."orders" (
	"tenant_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"number" integer NOT NULL,
	"status" text NOT NULL,
	"currency" char(3) NOT NULL,
	"subtotal" bigint NOT NULL,
	"tax" bigint NOT NULL,
	"total" bigint NOT NULL,
	"note" text,
	"payment_id" uuid NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"cancelled_at" timestamp with time zone,
	CONSTRAINT "orders_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "payments"."payments" (
	"tenant_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"method" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"status" text NOT NULL,
	"tendered" bigint,
	"change" bigint,
	"provider" text,
	"provider_ref" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"refunded_at" timestamp with time zone,
	CONSTRAINT "payments_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "reporting"."item_sales" (
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"line_no" smallint NOT NULL,
	"menu_item_id" uuid NOT NULL,
	"name" text NOT NULL,
	"quantity" integer NOT NULL,
	"revenue" bigint NOT NULL,
	CONSTRAINT "item_sales_pk" PRIMARY KEY("tenant_id","order_id","line_no")
);
--> statement-breakpoint
CREATE TABLE "reporting"."order_facts" (
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"currency" char(3) NOT NULL,
	"payment_method" text NOT NULL,
	"subtotal" bigint,
	"tax" bigint,
	"total" bigint,
	"paid_at" timestamp with time zone,
	"refund_amount" bigint,
	"cancelled_at" timestamp with time zone,
	CONSTRAINT "order_facts_pk" PRIMARY KEY("tenant_id","order_id")
);
--> statement-breakpoint
CREATE TABLE "reporting"."stock_snapshots" (
	"tenant_id" uuid NOT NULL,
	"menu_item_id" uuid NOT NULL,
	"on_hand" integer NOT NULL,
	"low_stock_threshold" integer NOT NULL,
	"low_stock" boolean NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "stock_snapshots_pk" PRIMARY KEY("tenant_id","menu_item_id")
);
--> statement-breakpoint
CREATE TABLE "restaurant"."menu_items" (
	"tenant_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"name" text NOT NULL,
	"sku" text,
	"price" bigint NOT NULL,
	"currency" char(3) NOT NULL,
	"category" text,
	"available" boolean DEFAULT true NOT NULL,
	"archived_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "menu_items_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "kernel"."idempotency_keys" (
	"tenant_id" uuid NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" text NOT NULL,
	"response_status" integer,
	"response_body" text,
	"response_type" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
CREATE TABLE "kernel"."inbox" (
	"tenant_id" uuid NOT NULL,
	"subscriber" text NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"handled_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_pk" PRIMARY KEY("tenant_id","subscriber","event_id")
);
--> statement-breakpoint
ALTER TABLE "auth"."users" ADD CONSTRAINT "users_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "auth"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD CONSTRAINT "order_lines_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "orders"."orders"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_email_uq" ON "auth"."users" USING btree ("tenant_id","email");--> statement-breakpoint
CREATE INDEX "users_tenant_created_idx" ON "auth"."users" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "stock_movements_item_idx" ON "inventory"."stock_movements" USING btree ("tenant_id","menu_item_id");--> statement-breakpoint
CREATE INDEX "order_lines_menu_item_idx" ON "orders"."order_lines" USING btree ("tenant_id","menu_item_id");--> statement-breakpoint
CREATE UNIQUE INDEX "orders_tenant_number_uq" ON "orders"."orders" USING btree ("tenant_id","number");--> statement-breakpoint
CREATE INDEX "orders_tenant_created_idx" ON "orders"."orders" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "payments_order_idx" ON "payments"."payments" USING btree ("tenant_id","order_id");--> statement-breakpoint
CREATE INDEX "item_sales_item_idx" ON "reporting"."item_sales" USING btree ("tenant_id","menu_item_id");--> statement-breakpoint
CREATE INDEX "order_facts_paid_idx" ON "reporting"."order_facts" USING btree ("tenant_id","paid_at");--> statement-breakpoint
CREATE INDEX "order_facts_cancelled_idx" ON "reporting"."order_facts" USING btree ("tenant_id","cancelled_at");--> statement-breakpoint
CREATE INDEX "stock_snapshots_low_idx" ON "reporting"."stock_snapshots" USING btree ("tenant_id","low_stock");--> statement-breakpoint
CREATE UNIQUE INDEX "menu_items_tenant_sku_uq" ON "restaurant"."menu_items" USING btree ("tenant_id","sku");--> statement-breakpoint
CREATE INDEX "menu_items_tenant_category_idx" ON "restaurant"."menu_items" USING btree ("tenant_id","category","id");