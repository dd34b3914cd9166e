CREATE TABLE `portal_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`token_expires_at` integer NOT NULL,
	`token_used_at` integer,
	`session_hash` text,
	`session_ttl_ms` integer NOT NULL,
	`session_expires_at` integer,
	`read_only` integer DEFAULT false NOT NULL,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_token_hash` ON `portal_sessions` (`token_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_session_hash` ON `portal_sessions` (`session_hash`) WHERE session_hash IS NOT NULL;