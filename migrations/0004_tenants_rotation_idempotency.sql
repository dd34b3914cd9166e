ALTER TABLE `events` ADD `request_hash` text;--> statement-breakpoint
ALTER TABLE `tenants` ADD `disabled_at` integer;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `previous_secret_encrypted` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `previous_secret_expires_at` integer;