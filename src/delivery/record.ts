import { sql, type SQL } from "drizzle-orm";
import { runBatch } from "../db/batch";
import type { Env } from "../env";
import { webhookCounterDeltas, type AttemptRecord, type HourlyDeltaEntry } from "../db/schema";
import { addResponseTime, mergeHistogram } from "../lib/response-histogram";
import { formatTime } from "../lib/time";
import type { AttemptResult } from "./attempt";
import { sendScheduled } from "./enqueue";
import { updateHealth, type HealthRules } from "./health";
import type { DeliveryVerdict } from "./retry-policy";
import { loggableError } from "../lib/error-log";

/** One attempt to write back: which delivery, what the row looked like, what happened. */
export interface AttemptOutcome {
  deliveryId: string;
  webhookId: string;
  /** attempts on the row when the job was read; the update only applies if still so. */
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

/**
 * Outcomes per write statement. Each carries up to 1,024 response characters (up to 4 KB as
 * UTF-8), and D1 takes at most 2 MB per bound value; 100 keep a chunk near 400 KB.
 */
const OUTCOMES_PER_STATEMENT = 100;

/**
 * One UPDATE for a chunk of outcomes, the per-row values passed as a single JSON parameter
 * (D1 allows 100 bound parameters per statement). The WHERE clause is the claim: a row that
 * another consumer already moved on (status or attempts changed) is left alone.
 */
function updateDeliveries(outcomes: AttemptOutcome[], now: number): SQL {
  const values = JSON.stringify(
    outcomes.map((o) => ({
      w: o.webhookId,
      id: o.deliveryId,
      before: o.attemptsBefore,
      status: o.verdict.status,
      next: nextAttemptAt(o),
      attempt: attemptRecord(o),
    })),
  );
  return sql`UPDATE deliveries SET
      status = v.value ->> '$.status',
      attempts = attempts + 1,
      next_attempt_at = v.value ->> '$.next',
      last_status_code = v.value ->> '$.attempt.status_code',
      last_error = v.value ->> '$.attempt.error',
      last_response_ms = v.value ->> '$.attempt.response_time_ms',
      last_response_excerpt = v.value ->> '$.attempt.response_excerpt',
      attempt_log = json_insert(attempt_log, '$[#]', json(v.value -> '$.attempt')),
      finished_at = CASE WHEN v.value ->> '$.status' = 'pending' THEN NULL ELSE ${now} END
    FROM json_each(${values}) AS v
    WHERE deliveries.webhook_id = v.value ->> '$.w' AND deliveries.id = v.value ->> '$.id' AND deliveries.status = 'pending' AND deliveries.attempts = v.value ->> '$.before'`;
}

/** Finished and failed deliveries per webhook among the outcomes: { webhookId: [finished, failed] }. */
function finishedCounts(outcomes: AttemptOutcome[]): Record<string, [number, number]> {
  const counts: Record<string, [number, number]> = {};
  for (const { webhookId, verdict } of outcomes) {
    if (verdict.status === "pending") continue;
    const count = (counts[webhookId] ??= [0, 0]);
    count[0]++;
    if (verdict.status === "failed") count[1]++;
  }
  return counts;
}

const HOUR_MS = 60 * 60 * 1000;

/** One outcome as an hourly-stats entry: the hour its attempt was made, and what it did. */
function hourlyEntry(o: AttemptOutcome): HourlyDeltaEntry {
  const hour = Math.floor(o.result.attemptedAt / HOUR_MS) * HOUR_MS;
  return [o.webhookId, hour, 1, o.verdict.status === "success" ? 1 : 0, o.verdict.status === "failed" ? 1 : 0, addResponseTime({}, o.result.responseTimeMs)];
}

/** The outcomes by webhook and hour (webhook_hourly_stats' delta): a few entries for a chunk, not one per outcome. */
function hourlyEntries(outcomes: AttemptOutcome[]): HourlyDeltaEntry[] {
  const byKey = new Map<string, HourlyDeltaEntry>();
  for (const o of outcomes) {
    const entry = hourlyEntry(o);
    const key = `${entry[0]} ${entry[1]}`;
    const sum = byKey.get(key);
    if (!sum) byKey.set(key, entry);
    else {
      for (const i of [2, 3, 4] as const) sum[i] += entry[i];
      mergeHistogram(sum[5], entry[5]);
    }
  }
  return [...byKey.values()];
}

/**
 * The chunk's counter delta, just before its UPDATE (one batch is one transaction, so the rows
 * still pending at the attempt count the outcome saw are exactly the rows the UPDATE changes):
 * the webhooks' finished and failed counts, and the hourly statistics of every attempt. If every
 * outcome's row qualifies, the delta computed here is stored as one row. If not, another consumer
 * recorded some of them first (a duplicate job), a rare case: the second statement then stores
 * the delta of just the rows that qualify, each row once. The counters and hourly statistics
 * stay exact without ever recounting the delivery rows, which RETENTION_SECONDS deletes.
 */
function counterDelta(outcomes: AttemptOutcome[], now: number): SQL[] {
  const mine = JSON.stringify(outcomes.map((o) => ({ w: o.webhookId, id: o.deliveryId, before: o.attemptsBefore, status: o.verdict.status, entry: hourlyEntry(o) })));
  const qualifying = sql`SELECT v.value ->> '$.w' AS w, v.value ->> '$.id' AS id, min(v.value ->> '$.status') AS status, min(v.value -> '$.entry') AS entry
    FROM json_each(${mine}) AS v JOIN deliveries d ON d.webhook_id = v.value ->> '$.w' AND d.id = v.value ->> '$.id'
    WHERE d.status = 'pending' AND d.attempts = v.value ->> '$.before'
    GROUP BY 1, 2`;
  const wholeChunk = sql`INSERT INTO ${webhookCounterDeltas} (counts, hourly, created_at)
    SELECT ${JSON.stringify(finishedCounts(outcomes))}, ${JSON.stringify(hourlyEntries(outcomes))}, ${now}
    WHERE (SELECT count(*) FROM (${qualifying})) = ${outcomes.length}`;
  const qualifyingOnly = sql`WITH m AS (${qualifying})
    INSERT INTO ${webhookCounterDeltas} (counts, hourly, created_at)
    SELECT (SELECT json_group_object(w, json_array(finished, failed)) FROM (
              SELECT w, sum(status <> 'pending') AS finished, sum(status = 'failed') AS failed FROM m GROUP BY w HAVING finished > 0)),
           (SELECT json_group_array(json(entry)) FROM m), ${now}
    WHERE changes() = 0 AND EXISTS (SELECT 1 FROM m)`;
  return [wholeChunk, qualifyingOnly];
}

/**
 * Writes every outcome of a consumer batch in one D1 batch (one round trip), with a few
 * statements per 100 outcomes whatever the fan-out: D1 counts each statement against the
 * 1,000 queries an invocation may make. Sorted by webhook so a webhook's counters are
 * written once per chunk.
 */
export async function recordOutcomes(d1: D1Database, outcomes: AttemptOutcome[], health: HealthRules, now = Date.now()): Promise<void> {
  if (outcomes.length === 0) return;
  const sorted = [...outcomes].sort((a, b) => (a.webhookId < b.webhookId ? -1 : a.webhookId > b.webhookId ? 1 : 0));
  const statements: SQL[] = [];
  for (let i = 0; i < sorted.length; i += OUTCOMES_PER_STATEMENT) {
    const chunk = sorted.slice(i, i + OUTCOMES_PER_STATEMENT);
    statements.push(...counterDelta(chunk, now), updateDeliveries(chunk, now));
  }
  for (let i = 0; i < sorted.length; i += OUTCOMES_PER_STATEMENT) statements.push(updateHealth(sorted.slice(i, i + OUTCOMES_PER_STATEMENT), health, now));
  await runBatch(d1, statements);
}

/** Each retry travels as its own delayed job, on the lane its endpoint's last attempt earned. */
const sendRetries = (env: Env, outcomes: AttemptOutcome[]) =>
  sendScheduled(
    env,
    outcomes.flatMap((o) => {
      const dueAt = nextAttemptAt(o);
      if (dueAt === null) return [];
      return [{ ref: { webhookId: o.webhookId, deliveryId: o.deliveryId, attempt: o.attemptsBefore + 1 }, lane: o.slow ? ("slow" as const) : ("fast" as const), dueAt }];
    }),
  );

/** Outcomes per D1 batch of the recorder: five statements' worth, a few hundred KB. */
const OUTCOMES_PER_WRITE = 5 * OUTCOMES_PER_STATEMENT;

/**
 * An outcome waits at most this long for others to share its write. Writing each outcome on
 * its own cost a D1 batch per attempt, which under load took the consumer from about 700 to
 * 170 deliveries a second here; 100 outcomes, or this long, keeps a result in the log well
 * within a second of its attempt.
 */
const WRITE_WAIT_MS = 200;

/**
 * Records a consumer batch's outcomes as they arrive: a write starts once 100 outcomes wait or
 * the oldest has waited WRITE_WAIT_MS, and takes every outcome waiting by then, so under load
 * writes carry hundreds of outcomes and a slow attempt never holds back the others' results.
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
      if (unwritten.length >= OUTCOMES_PER_STATEMENT) startWrite();
      else waiting ??= setTimeout(startWrite, WRITE_WAIT_MS);
    },
    async flush() {
      startWrite();
      while (writing) await writing;
      if (failure) throw failure;
    },
  };
}
