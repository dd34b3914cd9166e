import { sql, type SQL } from "drizzle-orm";
import { runBatch } from "../db/batch";
import type { AttemptRecord } from "../db/schema";
import { formatTime } from "../lib/time";
import type { AttemptResult } from "./attempt";
import type { DeliveryVerdict } from "./retry-policy";

/** One attempt to write back: which delivery, what the row looked like, what happened. */
export interface AttemptOutcome {
  deliveryId: string;
  webhookId: string;
  /** attempts on the row when the job was read; the update only applies if still so. */
  attemptsBefore: number;
  result: AttemptResult;
  verdict: DeliveryVerdict;
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
 * One UPDATE for a whole group of deliveries, the per-row values passed as a single JSON
 * parameter (D1 allows 100 bound parameters per statement). The WHERE clause is the claim:
 * a row that another consumer already moved on (status or attempts changed) is left alone.
 */
function updateGroup(rows: AttemptOutcome[], now: number, status: "pending" | "success" | "failed"): SQL {
  const values = JSON.stringify(
    rows.map((o) => ({
      w: o.webhookId,
      id: o.deliveryId,
      before: o.attemptsBefore,
      next: nextAttemptAt(o),
      attempt: attemptRecord(o),
    })),
  );
  const finishedAt = status === "pending" ? null : now;
  return sql`UPDATE deliveries SET
      status = ${status},
      attempts = attempts + 1,
      next_attempt_at = v.value ->> '$.next',
      last_status_code = v.value ->> '$.attempt.status_code',
      last_error = v.value ->> '$.attempt.error',
      last_response_ms = v.value ->> '$.attempt.response_time_ms',
      last_response_excerpt = v.value ->> '$.attempt.response_excerpt',
      attempt_log = json_insert(attempt_log, '$[#]', json(v.value -> '$.attempt')),
      finished_at = ${finishedAt}
    FROM json_each(${values}) AS v
    WHERE deliveries.webhook_id = v.value ->> '$.w' AND deliveries.id = v.value ->> '$.id' AND deliveries.status = 'pending' AND deliveries.attempts = v.value ->> '$.before'`;
}

/**
 * Counts the deliveries that the statement just before it really finished (changes()),
 * so the webhook's counters always equal its delivery log, even under duplicate jobs.
 */
function countFinished(webhookId: string, status: "success" | "failed"): SQL {
  const failed = status === "failed" ? sql`changes()` : sql`0`;
  return sql`UPDATE webhooks SET delivery_count = delivery_count + changes(), failure_count = failure_count + ${failed}
    WHERE id = ${webhookId} AND changes() > 0`;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** Writes every outcome of a consumer batch in one D1 batch (one round trip). */
export async function recordOutcomes(d1: D1Database, outcomes: AttemptOutcome[], now = Date.now()): Promise<void> {
  if (outcomes.length === 0) return;
  const statements: SQL[] = [];
  const retrying = outcomes.filter((o) => o.verdict.status === "pending");
  if (retrying.length > 0) statements.push(updateGroup(retrying, now, "pending"));
  const finished = outcomes.filter((o) => o.verdict.status !== "pending");
  for (const group of groupBy(finished, (o) => `${o.webhookId}|${o.verdict.status}`).values()) {
    const { webhookId, verdict } = group[0];
    const status = verdict.status as "success" | "failed";
    statements.push(updateGroup(group, now, status), countFinished(webhookId, status));
  }
  await runBatch(d1, statements);
}
