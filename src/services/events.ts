import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { runBatch } from "../db/batch";
import { deliveries, events, webhooks } from "../db/schema";
import { enqueueDeliveries } from "../delivery/enqueue";
import type { Env } from "../env";
import { newId } from "../lib/ids";
import { formatTime } from "../lib/time";

export interface PublishOptions {
  idempotencyKey?: string;
  queryId?: string;
}

export interface PublishResult {
  event_id: string;
  event: string;
  created_at: string;
  deliveries_scheduled: number;
  /** False when the queue refused the jobs; the outbox sweep sends them later. */
  enqueued: boolean;
  replayed: boolean;
}

/** Active, live webhooks of the tenant subscribed to the type (events is a JSON array). */
const subscribers = (tenantId: string, type: string) =>
  and(
    eq(webhooks.tenantId, tenantId),
    eq(webhooks.isActive, true),
    sql`${webhooks.deletedAt} IS NULL`,
    sql`EXISTS (SELECT 1 FROM json_each(${webhooks.events}) WHERE value = ${type})`,
  );

/** A random UUID made inside SQLite, so one INSERT … SELECT creates every delivery row. */
const sqlUuid = sql`lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

/**
 * Stores the event and one pending delivery per subscribed webhook in a single D1 batch
 * (two statements whatever the number of endpoints), then enqueues the jobs. The rows
 * are written before anything is enqueued (outbox): if the enqueue fails, the sweep
 * finds the pending deliveries and enqueues them again.
 */
export async function publishEvent(
  db: Database,
  env: Env,
  tenantId: string,
  type: string,
  data: Record<string, unknown>,
  options: PublishOptions = {},
): Promise<PublishResult> {
  if (options.idempotencyKey) {
    const earlier = await findByIdempotencyKey(db, tenantId, options.idempotencyKey);
    if (earlier) return earlier;
  }
  const eventId = newId();
  const now = Date.now();
  const insertEvent = db.insert(events).values({
    id: eventId,
    tenantId,
    type,
    data,
    idempotencyKey: options.idempotencyKey ?? null,
    queryId: options.queryId ?? null,
    deliveriesScheduled: sql`(SELECT count(*) FROM ${webhooks} WHERE ${subscribers(tenantId, type)})`,
    createdAt: now,
  });
  const insertDeliveries = sql`INSERT INTO ${deliveries} (id, tenant_id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, attempt_log, created_at)
    SELECT ${sqlUuid}, ${tenantId}, ${webhooks.id}, ${eventId}, ${type}, 'pending', 0, ${now}, '[]', ${now}
    FROM ${webhooks} WHERE ${subscribers(tenantId, type)} RETURNING id`;
  let created: { id: string }[];
  try {
    [, { results: created }] = await runBatch<{ id: string }>(env.DB, [insertEvent, insertDeliveries]);
  } catch (error) {
    // A concurrent publish with the same Idempotency-Key won the unique index.
    const earlier = options.idempotencyKey ? await findByIdempotencyKey(db, tenantId, options.idempotencyKey) : null;
    if (earlier) return earlier;
    throw error;
  }
  const enqueued = await enqueueDeliveries(env, created.map((row) => row.id));
  return { event_id: eventId, event: type, created_at: formatTime(now), deliveries_scheduled: created.length, enqueued, replayed: false };
}

async function findByIdempotencyKey(db: Database, tenantId: string, key: string): Promise<PublishResult | null> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.idempotencyKey, key)))
    .limit(1);
  if (!row) return null;
  return {
    event_id: row.id,
    event: row.type,
    created_at: formatTime(row.createdAt),
    deliveries_scheduled: row.deliveriesScheduled,
    enqueued: true,
    replayed: true,
  };
}
