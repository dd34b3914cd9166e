-- Custom SQL migration (drizzle-kit generate --custom): drizzle-kit cannot declare WITHOUT ROWID tables.
-- The cron's fold upserts one webhook_hourly_stats row per webhook and hour: as a WITHOUT ROWID table
-- its primary key is the table, so an upsert costs one D1 row write instead of two (the rowid table
-- plus the primary key's index). The table is new and empty here; columns and keys stay as in schema.ts.
DROP TABLE `webhook_hourly_stats`;
--> statement-breakpoint
CREATE TABLE `webhook_hourly_stats` (
	`webhook_id` text NOT NULL,
	`hour` integer NOT NULL,
	`attempts` integer NOT NULL,
	`succeeded` integer NOT NULL,
	`failed` integer NOT NULL,
	`histogram` text NOT NULL,
	PRIMARY KEY(`webhook_id`, `hour`)
) WITHOUT ROWID;
