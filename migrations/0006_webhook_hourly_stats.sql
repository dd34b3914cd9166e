CREATE TABLE `webhook_hourly_stats` (
	`webhook_id` text NOT NULL,
	`hour` integer NOT NULL,
	`attempts` integer NOT NULL,
	`succeeded` integer NOT NULL,
	`failed` integer NOT NULL,
	`histogram` text NOT NULL,
	PRIMARY KEY(`webhook_id`, `hour`)
);
--> statement-breakpoint
ALTER TABLE `webhook_counter_deltas` ADD `hourly` text;