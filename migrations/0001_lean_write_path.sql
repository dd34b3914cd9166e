-- Custom SQL migration (drizzle-kit generate --custom): drizzle-kit cannot declare WITHOUT ROWID tables.
-- events and deliveries are written once per event and per delivery. As WITHOUT ROWID tables their
-- primary key is the table itself, so an insert costs one D1 row write instead of one per index
-- (the rowid table plus the primary key's own index). Columns and keys stay exactly as in schema.ts.
CREATE TABLE `deliveries_lean` (
	`id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`last_status_code` integer,
	`last_error` text,
	`last_response_ms` integer,
	`last_response_excerpt` text,
	`attempt_log` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`finished_at` integer,
	PRIMARY KEY(`webhook_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `deliveries_lean` SELECT * FROM `deliveries`;
--> statement-breakpoint
DROP TABLE `deliveries`;
--> statement-breakpoint
ALTER TABLE `deliveries_lean` RENAME TO `deliveries`;
--> statement-breakpoint
CREATE TABLE `events_lean` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`idempotency_key` text,
	`query_id` text,
	`deliveries_scheduled` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `events_lean` SELECT * FROM `events`;
--> statement-breakpoint
DROP TABLE `events`;
--> statement-breakpoint
ALTER TABLE `events_lean` RENAME TO `events`;
--> statement-breakpoint
CREATE UNIQUE INDEX `events_idempotency` ON `events` (`tenant_id`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `events_query` ON `events` (`query_id`) WHERE query_id IS NOT NULL;
