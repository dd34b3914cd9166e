ALTER TABLE `events` ADD `redelivered_at` text;--> statement-breakpoint
CREATE INDEX `events_tenant` ON `events` (`tenant_id`,`id`);