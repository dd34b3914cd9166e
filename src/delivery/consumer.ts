import { sql } from "drizzle-orm";
import { type Config, requireSecretKeys } from "../config";
import { type Database, database } from "../db/client";
import type { Env } from "../env";
import { loggableError } from "../lib/error-log";
import { parseStoredJson } from "../lib/exact-json";
import { newUsage, type Usage } from "../lib/usage";
import { cancelDeliveries } from "./cancel";
import { type ScheduledRef, sendScheduled } from "./enqueue";
import { markSlow } from "./health";
import type { DeliveryJob, DeliveryRef } from "./job";
import { ENDPOINT_CONCURRENCY, type Lane, laneOfQueue } from "./lanes";
import { type BodyParts, bodyPartsForWebhooks } from "./payload";
import { claimSlots } from "./rate-limit";
import { type DeliveryIdentity, IDENTITY_COLUMNS, identityValue, outcomeRecorder } from "./record";
import { endpointBusyFor, endpointInFlight, runFairly } from "./scheduler";
import { type DeliveryToAttempt, deliverOnce, stepContext } from "./step";

/**
 * A Worker invocation keeps at most six connections open; further fetches wait for one to
 * close. Waiting inside fetch() would count against the attempt's timeout, so attempts are
 * started six at a time and each one's timeout covers only its own request.
 */
const OPEN_CONNECTIONS_PER_INVOCATION = 6;

/** A job may arrive this much before a delivery's due time and still attempt it. */
const EARLY_TOLERANCE_MS = 500;

/**
 * Event data a batch loads at most (the rest of its deliveries go to a new job): memory
 * must not grow with event size × fan-out. Each event's data is loaded and serialised once.
 */
const BATCH_DATA_BYTES = 8 * 1024 * 1024;

/**
 * A delivery deferred because its endpoint has no room comes back after as long as the
 * endpoint's oldest attempt has been running (at least a second): a hanging endpoint's
 * backlog is looked at after 1, 2, 4… seconds, not every second until its timeout.
 */
const busyEndpointDelayMs = (endpointId: string, now: number) => Math.max(1000, endpointBusyFor(endpointId, now));

/**
 * A delivery of a tenant the operator disabled waits (stays pending, not attempted, not failed)
 * and its job comes back after this long, until the tenant is enabled again. Each wait costs a
 * queue message, so not much shorter; the sweep leaves these deliveries alone meanwhile.
 */
const TENANT_DISABLED_RETRY_MS = 60_000;

interface DueDelivery {
  id: string;
  tenant_id: string;
  event_id: string;
  webhook_id: string;
  status: string;
  attempts: number;
  cycle_start: number;
  next_attempt_at: number | null;
  created_at: number;
  url: string | null;
  secret_encrypted: string | null;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: number | null;
  webhook_live: number | null;
  retry_schedule: string | null;
  rate_limit_per_second: number | null;
  slow_until: number | null;
  event_type: string;
  event_bytes: number;
  event_created_at: number;
  tenant_disabled: number | null;
}

/** A delivery this batch will attempt, with the job that named it. */
interface Attempt {
  row: DueDelivery;
  ref: DeliveryRef;
  tenantId: string;
  endpointId: string;
}

/** A delivery's primary key as one string, for maps: a first send's id is its event's, the same for every webhook. */
const keyOf = (webhookId: string, deliveryId: string) => `${webhookId} ${deliveryId}`;

/**
 * The batch's deliveries in one query (primary-key lookups), without the events' data. A first
 * send not written yet (no row) is read from its event as pending with no attempt, due at its
 * publish (src/db/unwritten-deliveries.ts); its job names the event's tenant.
 */
function loadDeliveries(db: Database, refs: DeliveryRef[]) {
  const keys = JSON.stringify(refs.map((r) => [r.webhookId, r.deliveryId, r.tenantId ?? null]));
  return db.all<DueDelivery>(sql`SELECT k.value ->> 1 AS id, e.tenant_id, e.id AS event_id, k.value ->> 0 AS webhook_id,
      coalesce(d.status, 'pending') AS status, coalesce(d.attempts, 0) AS attempts, coalesce(d.cycle_start, 0) AS cycle_start,
      CASE WHEN d.id IS NULL THEN e.created_at ELSE d.next_attempt_at END AS next_attempt_at, coalesce(d.created_at, e.created_at) AS created_at,
      w.url, w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_expires_at, (w.is_active = 1 AND w.deleted_at IS NULL) AS webhook_live,
      w.retry_schedule, w.rate_limit_per_second, w.slow_until,
      e.type AS event_type, length(e.data) AS event_bytes, e.created_at AS event_created_at, t.disabled_at IS NOT NULL AS tenant_disabled
    FROM json_each(${keys}) AS k
    LEFT JOIN deliveries d ON d.webhook_id = k.value ->> 0 AND d.id = k.value ->> 1
    JOIN events e ON e.tenant_id = coalesce(d.tenant_id, k.value ->> 2) AND e.id = coalesce(d.event_id, k.value ->> 1)
    LEFT JOIN webhooks w ON w.id = k.value ->> 0
    LEFT JOIN tenants t ON t.id = e.tenant_id`);
}

/** Each event's data once, whatever its fan-out in the batch (events are keyed by tenant and id). */
async function loadEventData(db: Database, events: Array<[tenantId: string, eventId: string]>): Promise<Map<string, string>> {
  const rows = await db.all<{ id: string; data: string }>(
    sql`SELECT e.id, e.data FROM json_each(${JSON.stringify(events)}) AS k JOIN events e ON e.tenant_id = k.value ->> 0 AND e.id = k.value ->> 1`,
  );
  return new Map(rows.map((r) => [r.id, r.data]));
}

/** Builds each delivery's body, parsing and serialising each event's data once per batch. */
function bodyBuilder(data: Map<string, string>) {
  const byEvent = new Map<string, (webhookId: string) => BodyParts>();
  return (row: DueDelivery): BodyParts => {
    let bodyFor = byEvent.get(row.event_id);
    if (!bodyFor) {
      // Parsed losslessly: big integers go out digit for digit, as they were published.
      const eventData = parseStoredJson(data.get(row.event_id)!) as Record<string, unknown>;
      bodyFor = bodyPartsForWebhooks({ type: row.event_type, data: eventData, createdAt: row.event_created_at });
      byEvent.set(row.event_id, bodyFor);
    }
    return bodyFor(row.webhook_id);
  };
}

/** Which delivery a row is, with the event its row is written from if it has none yet. */
const identityOf = (row: DueDelivery): DeliveryIdentity => ({
  webhookId: row.webhook_id,
  deliveryId: row.id,
  event: { tenantId: row.tenant_id, eventId: row.event_id, type: row.event_type, createdAt: row.created_at },
});

/** A planned attempt as the delivery step takes it (its body built from the batch's shared event data). */
const toAttempt = (row: DueDelivery, buildBody: (row: DueDelivery) => BodyParts): DeliveryToAttempt => ({
  ...identityOf(row),
  url: row.url!,
  secretEncrypted: row.secret_encrypted!,
  previousSecretEncrypted: row.previous_secret_encrypted,
  previousSecretExpiresAt: row.previous_secret_expires_at,
  attempts: row.attempts,
  cycleStart: row.cycle_start,
  retrySchedule: row.retry_schedule ? (JSON.parse(row.retry_schedule) as number[]) : null,
  body: () => buildBody(row),
});

/**
 * Deliveries sent on to a later time (a busy endpoint, a rate-limit slot, a disabled tenant, a
 * new job) are still pending. The outbox sweep re-sends deliveries left pending SWEEP_GRACE past
 * due (or unwritten that long after their event), so one whose job comes back later than that
 * would get a second job: such rows take the new due time. Only those: a row written for every
 * short deferral would cost a D1 row write each time a busy endpoint's backlog is sent on, where
 * the sweep's grace already covers it.
 */
function postpone(db: Database, later: ScheduledRef[], rows: Map<string, DueDelivery>, graceMs: number) {
  const values = later.flatMap(({ ref, dueAt }) => {
    const row = rows.get(keyOf(ref.webhookId, ref.deliveryId));
    if (!row || (row.next_attempt_at ?? 0) >= dueAt - graceMs / 2) return [];
    return [{ ...identityValue(identityOf(row)), due: dueAt, attempts: row.attempts }];
  });
  if (values.length === 0) return;
  // A first send not written yet gets its pending row here (else the sweep would write one and send it again).
  // attempts: what the batch read, 0 for such a delivery; on a written row the claim compares it.
  return db.run(sql`INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, cycle_start, next_attempt_at, attempt_log, created_at)
    SELECT ${IDENTITY_COLUMNS}, 'pending', v.value ->> '$.attempts', 0, v.value ->> '$.due', '[]', v.value ->> '$.created'
    FROM json_each(${JSON.stringify(values)}) AS v
    WHERE v.value ->> '$.attempts' = 0 OR EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = v.value ->> '$.w' AND d.id = v.value ->> '$.id')
    ON CONFLICT (webhook_id, id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at
    WHERE deliveries.status = 'pending' AND deliveries.attempts = excluded.attempts
      AND coalesce(deliveries.next_attempt_at, 0) < excluded.next_attempt_at - ${graceMs / 2}`);
}

/**
 * What the batch does with each job's delivery: nothing (finished, or the job is stale: its
 * attempt was made by another job, which sent its own retry), cancel it, send it on later
 * (not due yet: a wait longer than the queue's 12-hour delay arrives early and is sent on
 * again; or its tenant is disabled), hand it to the slow lane, or attempt it.
 */
function plan(refs: DeliveryRef[], rows: Map<string, DueDelivery>, lane: Lane, now: number) {
  const attempts: Attempt[] = [];
  const cancel: DueDelivery[] = [];
  const later: ScheduledRef[] = [];
  for (const ref of refs) {
    const row = rows.get(keyOf(ref.webhookId, ref.deliveryId));
    if (row?.status !== "pending" || (ref.attempt !== undefined && ref.attempt !== row.attempts)) continue;
    if (!row.webhook_live) {
      cancel.push(row);
      continue;
    }
    const current = { ...ref, attempt: row.attempts };
    const dueAt = Math.max(row.next_attempt_at ?? 0, ref.slot ?? 0);
    if (dueAt - EARLY_TOLERANCE_MS > now) later.push({ ref: current, lane, dueAt });
    else if (row.tenant_disabled) later.push({ ref: current, lane, dueAt: now + TENANT_DISABLED_RETRY_MS });
    else if (lane === "fast" && (row.slow_until ?? 0) > now) later.push({ ref: current, lane: "slow", dueAt: now });
    else attempts.push({ row, ref: current, tenantId: row.tenant_id, endpointId: row.webhook_id });
  }
  return { attempts, cancel, later };
}

/** Rate-limited webhooks: deliveries whose slot has not come yet are sent on to their slot. */
async function applyRateLimits(db: Database, attempts: Attempt[], lane: Lane, now: number) {
  const unslotted = attempts.filter((a) => a.row.rate_limit_per_second && a.ref.slot === undefined);
  const slots = await claimSlots(
    db,
    unslotted.map((a) => ({ ref: a.ref, webhookId: a.row.webhook_id })),
    now,
  );
  const ready: Attempt[] = [];
  const later: ScheduledRef[] = [];
  for (const a of attempts) {
    const slot = a.ref.slot ?? slots.get(a.ref.deliveryId);
    // No early tolerance here: a slot's second is the rate.
    if (slot !== undefined && slot > now) later.push({ ref: { ...a.ref, slot }, lane, dueAt: slot });
    else ready.push(a);
  }
  return { ready, later };
}

/** Splits the attempts at BATCH_DATA_BYTES of distinct event data; a delivery of an event already in counts nothing. */
function withinDataBudget(attempts: Attempt[]) {
  const events = new Map<string, [tenantId: string, eventId: string]>();
  let bytes = 0;
  const fits: Attempt[] = [];
  const over: Attempt[] = [];
  for (const a of attempts) {
    if (!events.has(a.row.event_id)) {
      if (events.size > 0 && bytes + a.row.event_bytes > BATCH_DATA_BYTES) {
        over.push(a);
        continue;
      }
      events.set(a.row.event_id, [a.row.tenant_id, a.row.event_id]);
      bytes += a.row.event_bytes;
    }
    fits.push(a);
  }
  return { fits, over, events: [...events.values()] };
}

/**
 * The queue consumer, one invocation per batch of either lane (src/delivery/lanes.ts):
 * 1. reads the batch's deliveries in one query, and decides each one's fate (plan);
 * 2. claims rate-limit slots and keeps the batch's event data under BATCH_DATA_BYTES;
 * 3. attempts the rest fairly across tenants and endpoints (runFairly), detaching any
 *    attempt that runs past SLOW_ATTEMPT_MS so the batch ends without waiting for it;
 * 4. records each result as it comes (group commit), sending each retry as its own delayed
 *    job the moment its attempt is recorded;
 * 5. sends on every delivery it did not attempt (later, elsewhere, or in a new job), and
 *    acks the batch. If D1 fails, the whole batch is retried; the rows keep it exact.
 * Without SECRET_ENCRYPTION_KEY nothing can be signed: that throws MisconfiguredError before
 * any row is touched, and the entry retries the batch (src/index.ts).
 */
export async function consumeDeliveries(
  batch: MessageBatch<DeliveryJob>,
  env: Env,
  config: Config,
  ctx: ExecutionContext,
  usage: Usage = newUsage("queue"),
): Promise<void> {
  requireSecretKeys(config);
  const lane = laneOfQueue(batch.queue);
  const db = database(env.DB);
  const now = Date.now();
  const refs = [...new Map(batch.messages.flatMap((m) => m.body.deliveries).map((r) => [keyOf(r.webhookId, r.deliveryId), r])).values()];
  const rows = new Map((await loadDeliveries(db, refs)).map((row) => [keyOf(row.webhook_id, row.id), row]));
  const planned = plan(refs, rows, lane, now);
  const limited = await applyRateLimits(db, planned.attempts, lane, now);
  const budget = withinDataBudget(limited.ready);
  const data = budget.fits.length > 0 ? await loadEventData(db, budget.events) : new Map<string, string>();

  const step = stepContext(config);
  const buildBody = bodyBuilder(data);
  const recorder = outcomeRecorder(env, config.autoDisable);
  const ended = { succeeded: 0, failed: 0 };
  const run = await runFairly(
    budget.fits,
    {
      connections: OPEN_CONNECTIONS_PER_INVOCATION,
      perEndpoint: ENDPOINT_CONCURRENCY[lane],
      detachAfterMs: step.slowMs,
      startBy: now + config.consumerAttemptBudgetMs,
    },
    async (a) => {
      usage.subrequests++;
      const outcome = await deliverOnce(toAttempt(a.row, buildBody), step);
      ended[outcome.verdict.status === "success" ? "succeeded" : "failed"]++;
      recorder.add(outcome);
    },
  );
  const endedInBatch = { ...ended }; // detached attempts end later, and count nowhere in the batch's line
  // Detached attempts finish in the background and are recorded when they end; if the
  // isolate dies first, their deliveries are still pending and the outbox sweep re-sends them.
  if (run.detached.length > 0)
    ctx.waitUntil(
      run.detachedDone
        .then(() => recorder.flush())
        .catch((error) => console.error(JSON.stringify({ message: "recording a detached attempt failed", ...loggableError(error) }))),
    );
  const slowEndpoints = new Set(run.detached.map((a) => a.endpointId));
  const endOfBatch = Date.now();
  // Sent on: to the slow lane if their endpoint just proved slow, a second later if it has no room.
  const sendOn = (attempts: Attempt[]): ScheduledRef[] =>
    attempts.map((a) => ({
      ref: a.ref,
      lane: slowEndpoints.has(a.endpointId) ? "slow" : lane,
      dueAt: endpointInFlight(a.endpointId) >= ENDPOINT_CONCURRENCY[lane] ? endOfBatch + busyEndpointDelayMs(a.endpointId, endOfBatch) : endOfBatch,
    }));
  const later = [...planned.later, ...limited.later, ...sendOn(budget.over), ...sendOn(run.unstarted)];

  if (slowEndpoints.size > 0) await db.run(markSlow([...slowEndpoints], endOfBatch));
  // Webhooks deleted or deactivated after the job was queued.
  if (planned.cancel.length > 0) await db.run(cancelDeliveries(planned.cancel.map(identityOf), now));
  await postpone(db, later, rows, config.sweepGraceMs);
  await sendScheduled(env, later, endOfBatch);
  await recorder.flush();
  for (const message of batch.messages) message.ack();
  usage.queue_acks += batch.messages.length;
  logBatch({
    lane,
    messages: batch.messages.length,
    attempted: budget.fits.length - run.unstarted.length,
    ...endedInBatch,
    detached: run.detached.length,
    deferred: later.length,
    cancelled: planned.cancel.length,
    started: now,
  });
}

/**
 * One JSON line per batch, for `wrangler tail` to filter on (as the request line of
 * src/middleware/request-log.ts). succeeded/failed count the attempts that ended within the
 * batch (failed: retried later or failed for good); detached ones end after it.
 */
function logBatch({
  started,
  ...counts
}: {
  lane: Lane;
  messages: number;
  attempted: number;
  succeeded: number;
  failed: number;
  detached: number;
  deferred: number;
  cancelled: number;
  started: number;
}) {
  console.log(JSON.stringify({ type: "batch", ...counts, duration_ms: Date.now() - started }));
}
