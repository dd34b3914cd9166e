import { type SQL, sql } from "drizzle-orm";
import { runBatch } from "../db/batch";
import { counterDelta, counterDeltaIfAllWritten } from "../db/counters";
import type { AttemptRecord } from "../db/schema";
import { DELIVERY_COLUMNS } from "../db/unwritten-deliveries";
import type { Env } from "../env";
import { loggableError } from "../lib/error-log";
import { formatTime } from "../lib/time";
import type { AttemptResult } from "./attempt";
import { sendScheduled } from "./enqueue";
import { type HealthRules, updateHealth } from "./health";
import type { DeliveryVerdict } from "./retry-policy";

/**
 * The event a delivery sends: a first send's row is inserted with its first outcome
 * (src/db/unwritten-deliveries.ts), and takes these from it.
 */
export interface DeliveryEvent {
  tenantId: string;
  eventId: string;
  type: string;
  createdAt: number;
}

/** Which delivery, with the event its row is written from if it has none yet. */
export interface DeliveryIdentity {
  webhookId: string;
  deliveryId: string;
  event: DeliveryEvent;
}

/**
 * A delivery's identity as one value of the JSON array a set-based write reads (`v`), and the
 * columns it fills: id, tenant_id, webhook_id, event_id, event_type (created_at is `$.created`).
 */
export const identityValue = (d: DeliveryIdentity) => ({
  w: d.webhookId,
  id: d.deliveryId,
  tenant: d.event.tenantId,
  event: d.event.eventId,
  type: d.event.type,
  created: d.event.createdAt,
});
export const IDENTITY_COLUMNS = sql.raw("v.value ->> '$.id', v.value ->> '$.tenant', v.value ->> '$.w', v.value ->> '$.event', v.value ->> '$.type'");

/** One attempt to write back: which delivery, what the row looked like, what happened. */
export interface AttemptOutcome extends DeliveryIdentity {
  /** attempts on the row when the job was read (0 for a delivery not written yet); the write only applies if still so. */
  attemptsBefore: number;
  result: AttemptResult;
  verdict: DeliveryVerdict;
  /** The attempt ran longer than SLOW_ATTEMPT_MS (or timed out): the endpoint takes the slow lane. */
  slow?: boolean;
}

/** A retry is due its delay after the failed attempt ended (the guide: "wait 1 second", then 2). */
export function nextAttemptAt(outcome: AttemptOutcome): number | null {
  const { result, verdict } = outcome;
  return verdict.status === "pending" ? result.attemptedAt + Math.round(result.responseTimeMs) + verdict.retryInSeconds * 1000 : null;
}

function attemptRecord(outcome: AttemptOutcome): AttemptRecord {
  const { result } = outcome;
  return {
    attempt: outcome.attemptsBefore + 1,
    status_code: result.statusCode,
    error: result.error,
    response_time_ms: result.responseTimeMs,
    response_excerpt: result.responseExcerpt,
    attempted_at: formatTime(result.attemptedAt),
  };
}

/** The outcomes as the JSON array writeDeliveries reads. */
const deliveryValues = (outcomes: AttemptOutcome[]) =>
  JSON.stringify(
    outcomes.map((o) => ({
      ...identityValue(o),
      before: o.attemptsBefore,
      status: o.verdict.status,
      next: nextAttemptAt(o),
      attempt: attemptRecord(o),
    })),
  );

/**
 * Outcomes per write statement of the exact path. Each carries up to 1,024 response characters (up to 4 KB as
 * UTF-8), and D1 takes at most 2 MB per bound value; 100 keep a chunk near 400 KB.
 */
const OUTCOMES_PER_STATEMENT = 100;

/**
 * One upsert for a chunk of outcomes, the per-row values passed as a single JSON parameter
 * (D1 allows 100 bound parameters per statement). A first attempt inserts its delivery's row
 * (one row write for a delivery that succeeds at once); a retry, or a first attempt whose row
 * the sweep wrote meanwhile, updates it. The conflict clause is the claim: a row that another
 * consumer already moved on (status or attempts changed) is left alone, and a row is inserted
 * only by a first attempt.
 */
function writeDeliveries(values: string, now: number): SQL {
  return sql`INSERT INTO deliveries (${DELIVERY_COLUMNS})
    SELECT ${IDENTITY_COLUMNS}, v.value ->> '$.status',
      (v.value ->> '$.before') + 1, 0, v.value ->> '$.next', v.value ->> '$.attempt.status_code', v.value ->> '$.attempt.error',
      v.value ->> '$.attempt.response_time_ms', v.value ->> '$.attempt.response_excerpt', json_array(json(v.value -> '$.attempt')),
      v.value ->> '$.created', CASE WHEN v.value ->> '$.status' = 'pending' THEN NULL ELSE ${now} END
    FROM json_each(${values}) AS v
    WHERE v.value ->> '$.before' = 0 OR EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = v.value ->> '$.w' AND d.id = v.value ->> '$.id')
    ON CONFLICT (webhook_id, id) DO UPDATE SET
      status = excluded.status,
      attempts = deliveries.attempts + 1,
      next_attempt_at = excluded.next_attempt_at,
      last_status_code = excluded.last_status_code,
      last_error = excluded.last_error,
      last_response_ms = excluded.last_response_ms,
      last_response_excerpt = excluded.last_response_excerpt,
      attempt_log = json_insert(deliveries.attempt_log, '$[#]', json(excluded.attempt_log -> 0)),
      finished_at = excluded.finished_at
    WHERE deliveries.status = 'pending' AND deliveries.attempts = excluded.attempts - 1`;
}

/**
 * The JSON of one write's outcomes that a single upsert takes at most (UTF-16 units): D1 takes
 * at most 2 MB per bound value, and an excerpt's character is up to 3 bytes. Typical outcomes are
 * a few hundred bytes, so 500 fit; outcomes with long excerpts take the chunked path.
 */
const SINGLE_STATEMENT_JSON = 600_000;

/**
 * Writes a recorder's outcomes (up to OUTCOMES_PER_WRITE) in one D1 batch (one round trip).
 * Sorted by webhook, so a webhook's counters appear once. One counter delta for them all
 * (src/db/counters.ts, where the counters' invariant is written): one delta row, and one delete
 * of it by the fold, per write.
 *
 * Usually three statements: one upsert of every outcome, the delta (stored only if that upsert
 * wrote every row, else the batch fails and is rolled back), and endpoint health. The exact
 * path (counterDelta's own check before chunked upserts) takes the rest: outcomes too big for one
 * statement, or a write where another consumer recorded one of them first (a duplicate job) or
 * D1 failed. It fails again if D1 is down, and the caller sees that failure.
 */
export async function recordOutcomes(d1: D1Database, outcomes: AttemptOutcome[], health: HealthRules, now = Date.now()): Promise<void> {
  if (outcomes.length === 0) return;
  const sorted = [...outcomes].sort((a, b) => (a.webhookId < b.webhookId ? -1 : a.webhookId > b.webhookId ? 1 : 0));
  const values = deliveryValues(sorted);
  if (values.length <= SINGLE_STATEMENT_JSON) {
    try {
      await runBatch(d1, [writeDeliveries(values, now), counterDeltaIfAllWritten(sorted, now), updateHealth(sorted, health, now)]);
      return;
    } catch {
      // Rolled back as a whole: recorded below, the exact way.
    }
  }
  await recordOutcomesExactly(d1, sorted, health, now);
}

/**
 * The exact path: the counter delta of just the rows still pending at the attempt count each
 * outcome saw (counterDelta), then upserts of OUTCOMES_PER_STATEMENT outcomes each. A few
 * statements per 100 outcomes whatever the fan-out: D1 counts each statement against the 1,000
 * queries an invocation may make.
 */
function recordOutcomesExactly(d1: D1Database, sorted: AttemptOutcome[], health: HealthRules, now: number) {
  const chunks: AttemptOutcome[][] = [];
  for (let i = 0; i < sorted.length; i += OUTCOMES_PER_STATEMENT) chunks.push(sorted.slice(i, i + OUTCOMES_PER_STATEMENT));
  return runBatch(d1, [
    ...counterDelta(sorted, now),
    ...chunks.map((chunk) => writeDeliveries(deliveryValues(chunk), now)),
    ...chunks.map((chunk) => updateHealth(chunk, health, now)),
  ]);
}

/** Each retry travels as its own delayed job, on the lane its endpoint's last attempt earned. */
const sendRetries = (env: Env, outcomes: AttemptOutcome[]) =>
  sendScheduled(
    env,
    outcomes.flatMap((o) => {
      const dueAt = nextAttemptAt(o);
      if (dueAt === null) return [];
      return [
        {
          ref: { webhookId: o.webhookId, deliveryId: o.deliveryId, attempt: o.attemptsBefore + 1 },
          lane: o.slow ? ("slow" as const) : ("fast" as const),
          dueAt,
        },
      ];
    }),
  );

/** Outcomes per D1 batch of the recorder: five statements' worth, a few hundred KB. */
const OUTCOMES_PER_WRITE = 5 * OUTCOMES_PER_STATEMENT;

/**
 * An outcome waits at most this long for others to share its write. Writing each outcome on
 * its own cost a D1 batch per attempt, which under load took the consumer from about 700 to
 * 170 deliveries a second here; OUTCOMES_PER_WRITE outcomes, or this long, keeps a result in the
 * log within a second of its attempt (after the POST: a delivery's time to its receiver does
 * not include it). 500 ms rather than 200: a batch of a few hundred deliveries then makes one
 * write, not two or three, so one delta row (and its delete by the fold) instead of several.
 */
const WRITE_WAIT_MS = 500;

/**
 * Records a consumer batch's outcomes as they arrive: a write starts once OUTCOMES_PER_WRITE
 * outcomes wait or the oldest has waited WRITE_WAIT_MS, and takes every outcome waiting by then,
 * so under load writes carry hundreds of outcomes (one counter-delta row each) and a slow attempt
 * never holds back the others' results.
 * After each write, the chunk's retries are sent as their own delayed jobs. flush() writes the
 * rest, waits for every write and throws if one failed (the queue batch is then retried; the
 * rows tell which deliveries still need an attempt). A retry that cannot be sent is logged: its
 * delivery stays pending and the outbox sweep re-enqueues it.
 */
export function outcomeRecorder(env: Env, health: HealthRules) {
  const unwritten: AttemptOutcome[] = [];
  let writing: Promise<void> | null = null;
  let waiting: ReturnType<typeof setTimeout> | undefined;
  let failure: unknown = null;
  const startWrite = () => {
    clearTimeout(waiting);
    waiting = undefined;
    if (writing || unwritten.length === 0) return;
    // What arrives after the last write's loop ended, and before this settles, gets a write of its own.
    writing = writeAll().finally(() => {
      writing = null;
      startWrite();
    });
  };
  const writeAll = async () => {
    while (unwritten.length > 0) {
      const chunk = unwritten.splice(0, OUTCOMES_PER_WRITE);
      try {
        await recordOutcomes(env.DB, chunk, health);
      } catch (error) {
        failure ??= error;
        continue;
      }
      await sendRetries(env, chunk).catch((error) =>
        console.error(JSON.stringify({ message: "retry enqueue failed; the outbox sweep will retry", ...loggableError(error) })),
      );
    }
  };
  return {
    add(outcome: AttemptOutcome) {
      unwritten.push(outcome);
      if (unwritten.length >= OUTCOMES_PER_WRITE) startWrite();
      else waiting ??= setTimeout(startWrite, WRITE_WAIT_MS);
    },
    async flush() {
      startWrite();
      while (writing) await writing;
      if (failure) throw failure;
    },
  };
}
