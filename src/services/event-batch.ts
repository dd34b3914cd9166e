import { and, eq, gt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events } from "../db/schema";
import { nestedDeeperThan } from "../delivery/payload";
import { LIMITS } from "../env";
import { DomainError, validationFailed } from "../lib/errors";
import type { ServiceContext } from "./context";
import { type EventSpec, type PublishResult, publishEvents, replayOf, requestHash } from "./events";

/** Events one POST /api/v1/events/batch may carry. */
export const MAX_EVENTS_PER_BATCH = 100;

/** One event of a batch publish, with its own optional Idempotency-Key. */
export interface BatchItem {
  type: string;
  data: Record<string, unknown>;
  idempotencyKey?: string;
}

/**
 * POST /api/v1/events/batch: up to 100 events in one request. Every event is checked first
 * (data depth, idempotency keys), then the new ones are stored with all their deliveries in one
 * D1 batch (publishEvents: two statements per event whatever its fan-out), and their jobs are
 * sent together. All or nothing: if any event would go past MAX_FANOUT_PER_EVENT, or reuses a key
 * for another request, nothing is stored. An event whose key names an event of the last 24 h
 * made by the same request replays that event's result (replayed: true), as a single publish
 * would. Results are in the order of the request.
 */
export async function publishEventBatch(ctx: ServiceContext, items: BatchItem[], retried = false): Promise<PublishResult[]> {
  const { db, env, config, tenantId } = ctx;
  assertDeliverable(items);
  assertDistinctKeys(items);
  const hashes = await Promise.all(items.map((item) => (item.idempotencyKey ? requestHash(item.type, item.data) : null)));
  const earlier = await earlierEvents(db, tenantId, items, hashes);
  const fresh = items.flatMap(
    (item, i): Array<EventSpec & { index: number }> =>
      earlier.has(i) ? [] : [{ index: i, type: item.type, data: item.data, idempotencyKey: item.idempotencyKey, requestHash: hashes[i] ?? undefined }],
  );
  let stored: PublishResult[] = [];
  try {
    stored = fresh.length > 0 ? (await publishEvents(env, config, tenantId, fresh))! : [];
  } catch (error) {
    // A concurrent publish took one of the keys (the unique index refused the whole batch):
    // once more, and its event is then a replay (or a refusal, if it was another request).
    if (!retried && !(error instanceof DomainError) && fresh.some((f) => f.idempotencyKey)) return publishEventBatch(ctx, items, true);
    throw error;
  }
  const byIndex = new Map(fresh.map((f, k) => [f.index, stored[k]]));
  return items.map((_, i) => earlier.get(i) ?? byIndex.get(i)!);
}

/** Data whose delivery body could never be built (LIMITS.maxDataDepth), named by its place in the batch. */
function assertDeliverable(items: BatchItem[]) {
  const message = `nested more than ${LIMITS.maxDataDepth} levels deep`;
  const fields = items.flatMap((item, i) => (nestedDeeperThan(item.data, LIMITS.maxDataDepth) ? [{ field: `events[${i}].data`, message }] : []));
  if (fields.length > 0) throw validationFailed(fields);
}

/** Two events of one batch may not share a key: the second would name the first. */
function assertDistinctKeys(items: BatchItem[]) {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = item.idempotencyKey;
    if (key === undefined) return;
    const first = seen.get(key);
    if (first !== undefined) {
      const message = `repeats the idempotency_key of events[${first}]; each event of a batch needs its own`;
      throw validationFailed([{ field: `events[${i}].idempotency_key`, message }]);
    }
    seen.set(key, i);
  });
}

/**
 * The live (under 24 h) events the batch's keys name, in one query, as replays by position in
 * the batch; a key used for another request refuses the whole batch (422 idempotency_key_reused).
 */
async function earlierEvents(db: Database, tenantId: string, items: BatchItem[], hashes: Array<string | null>): Promise<Map<number, PublishResult>> {
  const keys = items.flatMap((item) => (item.idempotencyKey ? [item.idempotencyKey] : []));
  const replays = new Map<number, PublishResult>();
  if (keys.length === 0) return replays;
  const rows = await db
    .select()
    .from(events)
    // The keys as one JSON parameter: D1 takes at most 100 bound parameters per statement.
    .where(
      and(
        eq(events.tenantId, tenantId),
        sql`${events.idempotencyKey} IN (SELECT value FROM json_each(${JSON.stringify(keys)}))`,
        gt(events.createdAt, Date.now() - LIMITS.idempotencyKeyTtlMs),
      ),
    );
  const byKey = new Map(rows.map((row) => [row.idempotencyKey!, row]));
  items.forEach((item, i) => {
    const row = item.idempotencyKey ? byKey.get(item.idempotencyKey) : undefined;
    if (!row) return;
    // Events stored before request hashes were kept have none: they replay, as they did.
    if (row.requestHash !== null && row.requestHash !== hashes[i]) {
      throw new DomainError(
        "idempotency_key_reused",
        `events[${i}]: idempotency_key "${item.idempotencyKey}" was used within 24 hours for another request (event type or data); use a new key for a new event`,
      );
    }
    replays.set(i, replayOf(row));
  });
  return replays;
}
