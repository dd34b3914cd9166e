import { and, eq, gt, inArray, type SQL, sql } from "drizzle-orm";
import type { Config } from "../config";
import { runBatch, type Statement } from "../db/batch";
import type { Database } from "../db/client";
import { type EventRow, events, type WebhookRow, webhooks } from "../db/schema";
import { canonicalJson } from "../delivery/canonical-json";
import { enqueueDeliveries } from "../delivery/enqueue";
import type { DeliveryRef } from "../delivery/job";
import { nestedDeeperThan } from "../delivery/payload";
import { type Env, LIMITS } from "../env";
import { sha256Hex } from "../lib/crypto";
import { DomainError, notFound } from "../lib/errors";
import { stringifyJsonExactly } from "../lib/exact-json";
import { isUuid, newTimeOrderedId, sqlUuidV7 } from "../lib/ids";
import { formatTime } from "../lib/time";
import type { ServiceContext } from "./context";

export interface EventSpec {
  type: string;
  data: Record<string, unknown>;
  idempotencyKey?: string;
  /** SHA-256 of the request that used idempotencyKey (see requestHash). */
  requestHash?: string;
  /** The support query that produced the event, if any. */
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
const subscribers = (tenantId: string, type: string | SQL) =>
  and(
    eq(webhooks.tenantId, tenantId),
    eq(webhooks.isActive, true),
    sql`${webhooks.deletedAt} IS NULL`,
    sql`EXISTS (SELECT 1 FROM json_each(${webhooks.events}) WHERE value = ${type})`,
  );

/**
 * The fan-out quota (MAX_FANOUT_PER_EVENT), checked by the event's own insert so that publishing
 * stays one round trip. "skip": over the limit the event is not stored, which its result shows
 * (a lone event). "fail": over the limit its deliveries_scheduled (NOT NULL) is NULL, so the
 * insert fails and D1 rolls back the whole batch: for events written with other rows (a query's
 * state change, the events before it in the batch), which must not be kept without them.
 */
interface FanoutQuota {
  limit: number;
  over: "skip" | "fail";
}

const fanoutExceeded = (limit: number) =>
  new DomainError("quota_exceeded", `Fan-out quota exceeded: an event may go to at most ${limit} subscribed active webhooks (MAX_FANOUT_PER_EVENT)`);

/** A "fail" quota's refusal, as D1 reports it. */
const isFanoutRefusal = (error: unknown) => String(error).includes("NOT NULL constraint failed: events.deliveries_scheduled");

/**
 * One statement per event whatever the number of endpoints: the event row, with the webhooks
 * subscribed now (webhook_ids), returned. No delivery row is written here: each is written with
 * its first attempt's result (src/db/unwritten-deliveries.ts). `condition` gates the event row.
 */
function insertEvent(tenantId: string, spec: EventSpec, eventId: string, now: number, condition: SQL, quota: FanoutQuota): Statement {
  const subscribed = sql`(SELECT json_group_array(${webhooks.id}) AS ids, count(*) AS n FROM ${webhooks} WHERE ${subscribers(tenantId, spec.type)})`;
  const scheduled = quota.over === "fail" ? sql`CASE WHEN s.n <= ${quota.limit} THEN s.n END` : sql`s.n`;
  const withinQuota = quota.over === "skip" ? sql` AND s.n <= ${quota.limit}` : sql``;
  return sql`INSERT INTO ${events} (id, tenant_id, type, data, idempotency_key, request_hash, query_id, deliveries_scheduled, webhook_ids, created_at)
    SELECT ${eventId}, ${tenantId}, ${spec.type}, ${stringifyJsonExactly(spec.data)}, ${spec.idempotencyKey ?? null}, ${spec.requestHash ?? null}, ${spec.queryId ?? null},
      ${scheduled}, s.ids, ${now}
    FROM ${subscribed} AS s
    WHERE ${condition}${withinQuota}
    RETURNING webhook_ids AS webhookIds`;
}

/** The jobs' references to an event's first sends: one per webhook, with the event's id (see DeliveryRef.tenantId). */
const firstSends = (tenantId: string, eventId: string, webhookIds: string[]): DeliveryRef[] =>
  webhookIds.map((webhookId) => ({ webhookId, deliveryId: eventId, tenantId, attempt: 0 }));

/** A conditional write that the events report on, and when it happened (epoch ms). */
export interface StateChange {
  statement: Statement;
  at: number;
}

/**
 * Stores events in one D1 batch (atomic, one round trip), then enqueues their deliveries' jobs.
 * Outbox rule: the events (with the webhooks they go to) are written before anything is
 * enqueued; if the enqueue fails, the sweep finds their deliveries still unwritten and sends them.
 *
 * `change`, if given, is a state change that runs first in the same batch (e.g. a query's
 * conditional UPDATE): the events are stored only if it changed a row, so a transition
 * and its events happen together or not at all. Returns null when it changed nothing.
 * The events take the change's time, so an event's created_at equals the timestamp in
 * the resource it reports on.
 */
export async function publishEvents(env: Env, config: Config, tenantId: string, specs: EventSpec[], change?: StateChange): Promise<PublishResult[] | null> {
  for (const spec of specs) assertDeliverable(spec.data);
  const now = change?.at ?? Date.now();
  // Sorted so that events of one publish keep their order under the time-ordered key.
  const ids = specs.map(() => newTimeOrderedId(now)).sort();
  const firstStored = sql`EXISTS (SELECT 1 FROM ${events} WHERE tenant_id = ${tenantId} AND id = ${ids[0]})`;
  const limit = config.maxFanoutPerEvent;
  const statements = specs.map((spec, i) =>
    insertEvent(tenantId, spec, ids[i], now, i > 0 ? firstStored : change ? sql`changes() > 0` : sql`1`, {
      limit,
      over: i === 0 && !change ? "skip" : "fail",
    }),
  );
  const releases = specs.flatMap((spec) => (spec.idempotencyKey ? [releaseExpiredKey(tenantId, spec.idempotencyKey, now)] : []));
  const all = await runBatch<{ webhookIds: string }>(env.DB, [...releases, ...(change ? [change.statement] : []), ...statements]).catch((error) => {
    throw isFanoutRefusal(error) ? fanoutExceeded(limit) : error;
  });
  const results = all.slice(releases.length);
  if (change && results[0].meta.changes === 0) return null;
  if (!change && results[0].meta.changes === 0) throw fanoutExceeded(limit);
  const subscribed = results.slice(change ? 1 : 0).map((r) => JSON.parse(r.results[0].webhookIds) as string[]);
  const enqueued = await enqueueDeliveries(
    env,
    subscribed.flatMap((webhookIds, i) => firstSends(tenantId, ids[i], webhookIds)),
  );
  return specs.map((spec, i) => ({
    event_id: ids[i],
    event: spec.type,
    created_at: formatTime(now),
    deliveries_scheduled: subscribed[i].length,
    enqueued,
    replayed: false,
  }));
}

/** Refuses data whose delivery body could never be built (LIMITS.maxDataDepth), before anything is stored. */
function assertDeliverable(data: Record<string, unknown>) {
  if (!nestedDeeperThan(data, LIMITS.maxDataDepth)) return;
  const message = `nested more than ${LIMITS.maxDataDepth} levels deep`;
  throw new DomainError("validation_failed", `data: ${message}`, { fields: [{ field: "data", message }] });
}

/**
 * An Idempotency-Key names its event for LIMITS.idempotencyKeyTtlMs (24 h); after that it may
 * name a new one. The lookup ignores older events, and the publish that reuses an expired key
 * takes it over in its own batch: this UPDATE clears the old event's key just before the new
 * event is inserted, so the unique index (tenant_id, idempotency_key) is freed exactly when it
 * is needed, atomically with the insert (rolled back with it if a concurrent publish wins).
 * Chosen over a scheduled clean-up, which would leave an expired key blocking its reuse until
 * the job came round, and cost a job for keys that are never reused.
 */
function releaseExpiredKey(tenantId: string, key: string, now: number): Statement {
  return sql`UPDATE ${events} SET idempotency_key = NULL, request_hash = NULL
    WHERE tenant_id = ${tenantId} AND idempotency_key = ${key} AND created_at <= ${now - LIMITS.idempotencyKeyTtlMs}`;
}

/**
 * What an Idempotency-Key remembers of its request (as Stripe): SHA-256 of the canonical JSON of
 * the event type and data, exact digits included, so key order and spacing do not matter.
 */
export const requestHash = (type: string, data: Record<string, unknown>) => sha256Hex(canonicalJson({ event: type, data }));

/**
 * POST /api/v1/events: one event, optionally idempotent by key. Within 24 h the same key with
 * the same request replays the first result; with another request it is refused
 * (422 idempotency_key_reused) rather than answering for an event that is not the one sent.
 */
export async function publishEvent(
  { db, env, config, tenantId }: ServiceContext,
  type: string,
  data: Record<string, unknown>,
  options: Pick<EventSpec, "idempotencyKey" | "queryId"> = {},
): Promise<PublishResult> {
  const key = options.idempotencyKey;
  if (!key) return (await publishEvents(env, config, tenantId, [{ type, data, ...options }]))![0];
  const hash = await requestHash(type, data);
  const earlier = await findByIdempotencyKey(db, tenantId, key, hash);
  if (earlier) return earlier;
  try {
    const [published] = (await publishEvents(env, config, tenantId, [{ type, data, ...options, requestHash: hash }]))!;
    return published;
  } catch (error) {
    // A concurrent publish with the same Idempotency-Key won the unique index.
    const winner = await findByIdempotencyKey(db, tenantId, key, hash);
    if (winner) return winner;
    throw error;
  }
}

/** The live (under 24 h) event named by the key, as a replay; refused if it was made by another request. */
async function findByIdempotencyKey(db: Database, tenantId: string, key: string, hash: string): Promise<PublishResult | null> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.idempotencyKey, key), gt(events.createdAt, Date.now() - LIMITS.idempotencyKeyTtlMs)))
    .limit(1);
  if (!row) return null;
  // Events stored before request hashes were kept have none: they replay, as they did.
  if (row.requestHash !== null && row.requestHash !== hash) {
    throw new DomainError(
      "idempotency_key_reused",
      `Idempotency-Key "${key}" was used within 24 hours for another request (event type or data); use a new key for a new event`,
    );
  }
  return replayOf(row);
}

/** The answer to a publish whose Idempotency-Key names an event already stored: that event, replayed. */
export function replayOf(row: Pick<typeof events.$inferSelect, "id" | "type" | "createdAt" | "deliveriesScheduled">): PublishResult {
  return {
    event_id: row.id,
    event: row.type,
    created_at: formatTime(row.createdAt),
    deliveries_scheduled: row.deliveriesScheduled,
    enqueued: true,
    replayed: true,
  };
}

/** A redelivered event remembers each send's time (events.redelivered_at): at most this many. */
export const MAX_REDELIVERIES_PER_EVENT = 50;

export interface RedeliverResult {
  event_id: string;
  event: string;
  deliveries_scheduled: number;
  deliveries: { id: string; webhook_id: string }[];
  enqueued: boolean;
}

/** Named webhooks that cannot take the event, as field issues: unknown (another tenant's or deleted), inactive, not subscribed. */
function redeliveryProblems(named: string[], found: Pick<WebhookRow, "id" | "isActive" | "deletedAt" | "events">[], type: string) {
  const byId = new Map(found.map((w) => [w.id, w]));
  return named.flatMap((id, i) => {
    const webhook = byId.get(id);
    const problem =
      !webhook || webhook.deletedAt !== null
        ? `no webhook ${id}`
        : !webhook.isActive
          ? `webhook ${id} is inactive; re-enable it first`
          : !webhook.events.includes(type)
            ? `webhook ${id} is not subscribed to ${type}`
            : null;
    return problem ? [{ field: `webhook_ids[${i}]`, message: problem }] : [];
  });
}

/**
 * POST /events/{id}/redeliver: the event again, as new deliveries (new ids, a fresh attempt
 * cycle) to the named webhooks, or by default to every active webhook subscribed to its type
 * now. Named webhooks must be the tenant's, live, active and subscribed (else 422 naming each).
 * Same path as a publish: one D1 batch records the send's time on the event and inserts the
 * pending deliveries (only if that time was recorded), then the jobs are enqueued; if the
 * enqueue fails the outbox sweep sends them.
 */
export async function redeliverEvent({ db, d1, env, config, tenantId }: ServiceContext, eventId: string, webhookIds?: string[]): Promise<RedeliverResult> {
  if (!isUuid(eventId)) throw notFound("Event");
  const candidates = webhookIds
    ? and(eq(webhooks.tenantId, tenantId), inArray(webhooks.id, webhookIds.filter(isUuid)))
    : subscribers(tenantId, sql`(SELECT type FROM ${events} WHERE id = ${eventId} AND tenant_id = ${tenantId})`);
  const [[event], targets] = await db.batch([
    db
      .select()
      .from(events)
      .where(and(eq(events.id, eventId), eq(events.tenantId, tenantId)))
      .limit(1),
    db.select({ id: webhooks.id, isActive: webhooks.isActive, deletedAt: webhooks.deletedAt, events: webhooks.events }).from(webhooks).where(candidates),
  ]);
  if (!event) throw notFound("Event");
  const problems = webhookIds ? redeliveryProblems(webhookIds, targets, event.type) : [];
  if (problems.length > 0) throw new DomainError("validation_failed", `webhook_ids: ${problems.map((p) => p.message).join("; ")}`, { fields: problems });
  const limit = config.maxFanoutPerEvent;
  if (targets.length > limit) throw fanoutExceeded(limit);
  if ((event.redeliveredAt ?? []).length >= MAX_REDELIVERIES_PER_EVENT) throw tooManyRedeliveries();
  const result = { event_id: event.id, event: event.type, enqueued: true };
  if (targets.length === 0) return { ...result, deliveries_scheduled: 0, deliveries: [] };

  const now = Date.now();
  const [recorded, inserted] = await runBatch<DeliveryRef>(
    d1,
    redeliveryStatements(
      event,
      targets.map((t) => t.id),
      now,
    ),
  );
  if (recorded.meta.changes === 0) throw tooManyRedeliveries(); // a concurrent redelivery took the last one
  const refs = inserted.results;
  const enqueued = refs.length > 0 && (await enqueueDeliveries(env, refs));
  return { ...result, enqueued, deliveries_scheduled: refs.length, deliveries: refs.map((r) => ({ id: r.deliveryId, webhook_id: r.webhookId })) };
}

const tooManyRedeliveries = () =>
  new DomainError(
    "conflict",
    `The event was redelivered ${MAX_REDELIVERIES_PER_EVENT} times already (the most an event records); publish it again as a new event`,
  );

/** The send's time on the event (bounded), then one pending delivery per target still subscribed and active. */
function redeliveryStatements(event: EventRow, targetIds: string[], now: number): Statement[] {
  const record = sql`UPDATE ${events} SET redelivered_at = json_insert(coalesce(redelivered_at, '[]'), '$[#]', ${now})
    WHERE tenant_id = ${event.tenantId} AND id = ${event.id} AND json_array_length(coalesce(redelivered_at, '[]')) < ${MAX_REDELIVERIES_PER_EVENT}`;
  const thisSend = sql`EXISTS (SELECT 1 FROM ${events}, json_each(${events.redeliveredAt}) AS sent
    WHERE ${events.tenantId} = ${event.tenantId} AND ${events.id} = ${event.id} AND sent.value = ${now})`;
  const insert = sql`INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, attempt_log, created_at)
    SELECT ${sqlUuidV7(now)}, ${event.tenantId}, ${webhooks.id}, ${event.id}, ${event.type}, 'pending', 0, ${now}, '[]', ${now}
    FROM ${webhooks} WHERE ${subscribers(event.tenantId, event.type)} AND ${inArray(webhooks.id, targetIds)} AND ${thisSend}
    RETURNING webhook_id AS webhookId, id AS deliveryId`;
  return [record, insert];
}
