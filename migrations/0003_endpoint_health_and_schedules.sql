ALTER TABLE `deliveries` ADD `cycle_start` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `retry_schedule` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `rate_limit_per_second` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `rate_next_at` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `consecutive_failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `failing_since` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `last_delivery_at` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `last_success_at` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `disabled_at` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `disabled_reason` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `slow_until` integer;