-- Edited by hand after drizzle-kit generate: drizzle-kit cannot declare WITHOUT ROWID tables (drizzle-orm #408).
-- Deliveries are written once, with their first result (src/db/unwritten-deliveries.ts): an event keeps the
-- webhooks it goes to (webhook_ids), and its primary key becomes (tenant_id, id), which also serves the
-- tenant's event log, so the events_tenant index (one more row written per event) goes.
CREATE TABLE `sweep_cursors` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `__new_events` (
	`id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`idempotency_key` text,
	`request_hash` text,
	`query_id` text,
	`deliveries_scheduled` integer DEFAULT 0 NOT NULL,
	`webhook_ids` text,
	`created_at` integer NOT NULL,
	`redelivered_at` text,
	PRIMARY KEY(`tenant_id`, `id`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_events`("id", "tenant_id", "type", "data", "idempotency_key", "request_hash", "query_id", "deliveries_scheduled", "webhook_ids", "created_at", "redelivered_at") SELECT "id", "tenant_id", "type", "data", "idempotency_key", "request_hash", "query_id", "deliveries_scheduled", NULL, "created_at", "redelivered_at" FROM `events`;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
CREATE UNIQUE INDEX `events_idempotency` ON `events` (`tenant_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;--> statement-breakpoint
CREATE INDEX `events_query` ON `events` (`query_id`) WHERE query_id IS NOT NULL;--> statement-breakpoint
-- Every delivery of the events stored so far has its row (they were inserted pending): the sweep starts after them.
INSERT INTO `sweep_cursors` (`name`, `value`) SELECT 'events', coalesce(max(`id`), '') FROM `events`;
