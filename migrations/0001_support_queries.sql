CREATE TABLE `feedback` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`query_id` text NOT NULL,
	`rating` integer NOT NULL,
	`feedback_text` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`query_id`) REFERENCES `queries`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `feedback_query` ON `feedback` (`query_id`);--> statement-breakpoint
CREATE TABLE `queries` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`query` text NOT NULL,
	`category` text NOT NULL,
	`sentiment` text NOT NULL,
	`priority` integer NOT NULL,
	`is_vip` integer DEFAULT false NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`escalated` integer DEFAULT false NOT NULL,
	`escalation_reason` text,
	`response` text,
	`resolution_time_seconds` real,
	`created_at` integer NOT NULL,
	`escalated_at` integer,
	`resolved_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `queries_user_recent` ON `queries` (`tenant_id`,`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `queries_tenant` ON `queries` (`tenant_id`,`created_at`);