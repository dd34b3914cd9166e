import { sql } from "drizzle-orm";
import { customType, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { parseStoredJson, stringifyJsonExactly } from "../lib/exact-json";

/**
 * JSON text read back exactly: integers beyond 2^53 keep their digits (src/lib/exact-json.ts),
 * where drizzle's { mode: "json" } (JSON.parse) would round them in the API's answers.
 */
const exactJson = customType<{ data: unknown; driverData: string }>({
  dataType: () => "text",
  toDriver: (value) => stringifyJsonExactly(value),
  fromDriver: (text) => parseStoredJson(text),
});

// Times are stored as epoch milliseconds (integers compare and subtract cheaply in SQL);
// the API renders them in the guide's format, e.g. 2024-11-24T12:00:00Z.

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
  /** Set by the operator: the tenant's keys get 401 and its deliveries wait (not lost) until re-enabled. */
  disabledAt: integer("disabled_at"),
});

/** API keys are stored only as SHA-256 hashes; the prefix lets a person recognise a key. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name"),
    keyHash: text("key_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_key_hash").on(t.keyHash), index("api_keys_tenant").on(t.tenantId)],
);

export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    url: text("url").notNull(),
    /** JSON array of subscribed event types. */
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    description: text("description"),
    /** AES-GCM ciphertext of secret_key (base64 of iv || ciphertext). */
    secretEncrypted: text("secret_encrypted").notNull(),
    /** The secret before the last rotation, sealed the same way, still signing until previous_secret_expires_at. */
    previousSecretEncrypted: text("previous_secret_encrypted"),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    /** Waits in seconds between attempts; null: the deployment's default (the guide's [1, 2]). */
    retrySchedule: text("retry_schedule", { mode: "json" }).$type<number[]>(),
    /** At most this many attempts per second to this webhook; null: no limit. */
    rateLimitPerSecond: integer("rate_limit_per_second"),
    /** The rate limiter's next free slot (epoch ms): a claim moves it on by 1000 / rate per delivery. */
    rateNextAt: integer("rate_next_at"),
    /**
     * Endpoint health, written by the consumer only when it changes (a failure, the first
     * success after failures, or at most once a minute for the timestamps).
     */
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    /** When the current streak of failed deliveries began (null: no streak). */
    failingSince: integer("failing_since"),
    lastDeliveryAt: integer("last_delivery_at"),
    lastSuccessAt: integer("last_success_at"),
    /** Set when the platform disabled the webhook (auto-disable or 410 Gone); cleared on re-enable. */
    disabledAt: integer("disabled_at"),
    disabledReason: text("disabled_reason"),
    /** Until then the endpoint's deliveries go to the slow lane (it timed out or answered slowly). */
    slowUntil: integer("slow_until"),
    /**
     * Finished deliveries (success or failed) and the failed ones among them, up to the last
     * fold of webhook_counter_deltas; readers add the deltas not yet folded.
     */
    deliveryCount: integer("delivery_count").notNull().default(0),
    failureCount: integer("failure_count").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** Soft delete: delivery logs outlive their webhook, but the API answers 404. */
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("webhooks_tenant").on(t.tenantId, t.createdAt)],
);

/**
 * events and deliveries are WITHOUT ROWID tables (migrations/0001_lean_write_path.sql,
 * 0009_write_once.sql): the primary key is the table, so an event costs one D1 row write (its
 * key (tenant_id, id) also serves the tenant's event log) and a delivery one, with no secondary
 * index entry. Their ids are UUIDv7 (time-ordered). drizzle-kit cannot declare such a table
 * (drizzle-orm issue #408), so a later generated migration that rebuilds either table would drop
 * the clause: test/db/schema.test.ts checks that both stay WITHOUT ROWID.
 */
export const events = sqliteTable(
  "events",
  {
    id: text("id").notNull(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    type: text("type").notNull(),
    data: exactJson("data").$type<Record<string, unknown>>().notNull(),
    idempotencyKey: text("idempotency_key"),
    /** SHA-256 of the publish request that used idempotency_key: a reuse with another request is refused. */
    requestHash: text("request_hash"),
    /** The support query that produced this event, if any. */
    queryId: text("query_id"),
    deliveriesScheduled: integer("deliveries_scheduled").notNull().default(0),
    /**
     * The webhooks subscribed when the event was published (JSON array): one delivery each, whose id
     * is the event's id. Until its first attempt is recorded such a delivery has no row: it is read
     * from here (src/db/unwritten-deliveries.ts). Null for events that name their deliveries otherwise
     * (test events, and events stored before deliveries were written once).
     */
    webhookIds: text("webhook_ids", { mode: "json" }).$type<string[]>(),
    createdAt: integer("created_at").notNull(),
    /**
     * When the event was sent again (POST /events/{id}/redeliver), epoch ms, JSON array: the
     * new deliveries' ids start with these milliseconds, so the event's deliveries are found
     * by key ranges of the tenant's webhooks without an index on deliveries.event_id.
     */
    redeliveredAt: text("redelivered_at", { mode: "json" }).$type<number[]>(),
  },
  // Partial indexes: events without an idempotency key or query cost no index write.
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex("events_idempotency").on(t.tenantId, t.idempotencyKey).where(sql`idempotency_key IS NOT NULL`),
    index("events_query").on(t.queryId).where(sql`query_id IS NOT NULL`),
  ],
);

export const DELIVERY_STATUSES = ["pending", "success", "failed", "cancelled"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One attempt of a delivery, kept in the delivery row's attempt_log JSON array. */
export interface AttemptRecord {
  attempt: number;
  status_code: number | null;
  error: string | null;
  response_time_ms: number;
  response_excerpt: string | null;
  attempted_at: string;
}

/**
 * One event for one webhook. The row is the truth about attempts (queue messages only
 * point at it); attempts are kept inline as JSON, and the only index is the primary key
 * (webhook_id, id), so a delivery costs one row write: it is inserted with its first attempt's
 * result (until then it is derived from its event, src/db/unwritten-deliveries.ts), and each
 * retry updates it. A first send's id is its event's id (unique per webhook, as the key needs);
 * a redelivery's is a new UUIDv7. With time-ordered ids the key also serves the newest-first
 * delivery log and the sweep's time window.
 */
export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").notNull(),
    tenantId: text("tenant_id").notNull(),
    webhookId: text("webhook_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** Attempts made before the current cycle (a manual retry or recover starts a new one): the schedule restarts there. */
    cycleStart: integer("cycle_start").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    lastResponseMs: integer("last_response_ms"),
    lastResponseExcerpt: text("last_response_excerpt"),
    attemptLog: text("attempt_log", { mode: "json" }).$type<AttemptRecord[]>().notNull().default(sql`'[]'`),
    createdAt: integer("created_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.webhookId, t.id] })],
);

/**
 * Webhook counters by consumer batch rather than by webhook: a row holds the finished and
 * failed counts of up to 500 recorded outcomes (one recorder write), and their webhooks' last attempt and last success,
 * as JSON `{ webhookId: [finished, failed, lastAttemptAt, lastSuccessAt] }` (CounterDelta),
 * so a batch that finishes one delivery each for 1,000 webhooks writes 10 rows, not 1,000.
 * The same row carries the chunk's hourly statistics (every attempt, finished or retried).
 * The cron folds them into webhooks.delivery_count / failure_count and webhook_hourly_stats,
 * and deletes them.
 * An INTEGER PRIMARY KEY (the rowid, no AUTOINCREMENT): one row write per insert.
 */
export const webhookCounterDeltas = sqliteTable("webhook_counter_deltas", {
  id: integer("id").primaryKey(),
  counts: text("counts", { mode: "json" }).$type<Record<string, CounterDelta>>().notNull(),
  /**
   * The same outcomes by webhook and hour, for webhook_hourly_stats (folded in src/db/counters.ts):
   * `[[webhookId, hour, attempts, succeeded, failed, histogram], ...]`. Null in rows that only
   * correct the counters (a manual retry takes back a failure; what happened stays counted).
   */
  hourly: text("hourly", { mode: "json" }).$type<HourlyDeltaEntry[]>(),
  createdAt: integer("created_at").notNull(),
});

/**
 * One webhook's share of a counter-delta row: deliveries finished and failed, and when its last
 * attempt and last success were made (epoch ms, 0 for none; absent in correction rows).
 */
export type CounterDelta = [finished: number, failed: number, lastAttemptAt?: number, lastSuccessAt?: number];

/** A sparse response-time histogram: bucket index (src/lib/response-histogram.ts) to attempts. */
export type Histogram = Record<string, number>;
/** One webhook's attempts in one hour (epoch ms of its start), as a counter-delta row carries them. */
export type HourlyDeltaEntry = [webhookId: string, hour: number, attempts: number, succeeded: number, failed: number, histogram: Histogram];

/**
 * What each webhook's attempts did, by hour (the hour an attempt was made), folded by the cron
 * from webhook_counter_deltas: the statistics outlive the delivery rows (RETENTION_SECONDS).
 * attempts: HTTP attempts made; succeeded / failed: deliveries that attempt finished as success
 * or failed (a retried attempt counts in attempts only); histogram: response times of every attempt.
 */
export const webhookHourlyStats = sqliteTable(
  "webhook_hourly_stats",
  {
    webhookId: text("webhook_id").notNull(),
    hour: integer("hour").notNull(),
    attempts: integer("attempts").notNull(),
    succeeded: integer("succeeded").notNull(),
    failed: integer("failed").notNull(),
    histogram: text("histogram", { mode: "json" }).$type<Histogram>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.webhookId, t.hour] })],
);

/**
 * Progress marks of the cron's walks, by name. "events": the outbox sweep has written a row for
 * every delivery of the events up to this id (src/delivery/sweep.ts), so unwritten deliveries are
 * looked for only after it.
 */
export const sweepCursors = sqliteTable("sweep_cursors", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
});

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof deliveries.$inferSelect;
export type EventRow = typeof events.$inferSelect;

export const QUERY_STATUSES = ["open", "escalated", "resolved"] as const;
export type QueryStatus = (typeof QUERY_STATUSES)[number];

/** A customer support query handled by the platform's agents; its changes emit the guide's events. */
export const queries = sqliteTable(
  "queries",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    userId: text("user_id").notNull(),
    query: text("query").notNull(),
    category: text("category").notNull(),
    sentiment: text("sentiment").notNull(),
    priority: integer("priority").notNull(),
    isVip: integer("is_vip", { mode: "boolean" }).notNull().default(false),
    status: text("status", { enum: QUERY_STATUSES }).notNull().default("open"),
    escalated: integer("escalated", { mode: "boolean" }).notNull().default(false),
    escalationReason: text("escalation_reason"),
    response: text("response"),
    resolutionTimeSeconds: real("resolution_time_seconds"),
    createdAt: integer("created_at").notNull(),
    escalatedAt: integer("escalated_at"),
    resolvedAt: integer("resolved_at"),
  },
  (t) => [
    // Triage counts a user's queries of the last 24 h; lists filter by tenant.
    index("queries_user_recent").on(t.tenantId, t.userId, t.createdAt),
    index("queries_tenant").on(t.tenantId, t.createdAt),
  ],
);

/** At most one rating per query (unique query_id). */
export const feedback = sqliteTable(
  "feedback",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    queryId: text("query_id")
      .notNull()
      .references(() => queries.id),
    rating: integer("rating").notNull(),
    feedbackText: text("feedback_text"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("feedback_query").on(t.queryId)],
);

export type QueryRow = typeof queries.$inferSelect;
export type FeedbackRow = typeof feedback.$inferSelect;

/**
 * Tenant portal sessions (src/portal/). A row is created with a one-time link token, of which
 * only the SHA-256 is kept; opening the link claims the token with one conditional UPDATE (unused,
 * unexpired) and stores the SHA-256 of a fresh session cookie value in the same row. Every portal
 * request looks the cookie's hash up here, so revocation, expiry and read_only are decided by
 * the server on each request.
 */
export const portalSessions = sqliteTable(
  "portal_sessions",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    tokenHash: text("token_hash").notNull(),
    /** The link must be opened before this time. */
    tokenExpiresAt: integer("token_expires_at").notNull(),
    tokenUsedAt: integer("token_used_at"),
    /** Set when the link is opened: the hash of the session cookie's value. */
    sessionHash: text("session_hash"),
    /** How long the session lasts once the link is opened (ms). */
    sessionTtlMs: integer("session_ttl_ms").notNull(),
    sessionExpiresAt: integer("session_expires_at"),
    readOnly: integer("read_only", { mode: "boolean" }).notNull().default(false),
    revokedAt: integer("revoked_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("portal_sessions_token_hash").on(t.tokenHash),
    uniqueIndex("portal_sessions_session_hash").on(t.sessionHash).where(sql`session_hash IS NOT NULL`),
  ],
);

export type PortalSessionRow = typeof portalSessions.$inferSelect;
