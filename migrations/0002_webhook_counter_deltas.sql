CREATE TABLE `webhook_counter_deltas` (
	`id` integer PRIMARY KEY NOT NULL,
	`counts` text NOT NULL,
	`created_at` integer NOT NULL
);
