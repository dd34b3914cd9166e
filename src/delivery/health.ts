import { type SQL, sql } from "drizzle-orm";
import type { AttemptOutcome } from "./record";

/**
 * Endpoint health, kept on the webhook row: the streak of failed deliveries, whether the
 * endpoint is slow (src/delivery/lanes.ts), and the automatic disabling of an endpoint that
 * keeps failing (or answers 410 Gone). Its last attempt and last success travel with the counter
 * deltas instead (src/db/counters.ts), so a healthy endpoint costs no write here at all.
 */
export interface HealthRules {
  /** Failed deliveries in a row that disable a webhook… */
  afterFailures: number;
  /** …provided the streak spans at least this long (ms). */
  minMs: number;
}

/** A slow endpoint stays on the slow lane this long unless one of its attempts is quick first. */
const SLOW_FOR_MS = 60 * 60 * 1000;

/** What a chunk of outcomes changes for one webhook, in attempt order. */
interface HealthChange {
  id: string;
  /** 1 if a delivery succeeded: the streak restarts from the failures after the last success. */
  reset: 0 | 1;
  /** Deliveries that failed for good after the last success (or all of them, without one). */
  add: number;
  /** When the first of those failed. */
  first: number | null;
  /** 1 if the last attempt was slow (or timed out). */
  slow: 0 | 1;
  gone: 0 | 1;
}

function healthChanges(outcomes: AttemptOutcome[]): HealthChange[] {
  const byWebhook = new Map<string, HealthChange>();
  for (const o of [...outcomes].sort((a, b) => a.result.attemptedAt - b.result.attemptedAt)) {
    const change = byWebhook.get(o.webhookId) ?? { id: o.webhookId, reset: 0, add: 0, first: null, slow: 0, gone: 0 };
    byWebhook.set(o.webhookId, change);
    change.slow = o.slow ? 1 : 0;
    if (o.result.statusCode === 410) change.gone = 1;
    if (o.verdict.status === "success") Object.assign(change, { reset: 1, add: 0, first: null });
    if (o.verdict.status === "failed") {
      change.add++;
      change.first ??= o.result.attemptedAt;
    }
  }
  return [...byWebhook.values()];
}

/**
 * One UPDATE for the chunk's webhooks. It writes a row only when something a reader would
 * notice changed: a failure, the first success after failures, a lane change or a 410; so a
 * healthy webhook costs no write.
 */
export function updateHealth(outcomes: AttemptOutcome[], rules: HealthRules, now: number): SQL {
  const v = (field: keyof HealthChange) => sql.raw(`(h.value ->> '$.${field}')`);
  const streak = sql`(CASE WHEN ${v("reset")} = 1 THEN ${v("add")} ELSE webhooks.consecutive_failures + ${v("add")} END)`;
  const since = sql`(CASE WHEN ${streak} = 0 THEN NULL WHEN ${v("reset")} = 1 OR webhooks.failing_since IS NULL THEN ${v("first")} ELSE webhooks.failing_since END)`;
  const failingLong = sql`(${streak} >= ${rules.afterFailures} AND ${now} - ${since} >= ${rules.minMs})`;
  const disables = sql`(webhooks.is_active = 1 AND (${v("gone")} = 1 OR ${failingLong}))`;
  return sql`UPDATE webhooks SET
      consecutive_failures = ${streak},
      failing_since = ${since},
      slow_until = CASE WHEN ${v("slow")} = 1 THEN ${now + SLOW_FOR_MS} ELSE NULL END,
      is_active = CASE WHEN ${disables} THEN 0 ELSE webhooks.is_active END,
      disabled_at = CASE WHEN ${disables} THEN ${now} ELSE webhooks.disabled_at END,
      disabled_reason = CASE
        WHEN ${disables} AND ${v("gone")} = 1 THEN 'The endpoint answered 410 Gone'
        WHEN ${disables} THEN ${streak} || ' failed deliveries in a row since ' || strftime('%Y-%m-%dT%H:%M:%SZ', ${since} / 1000, 'unixepoch')
        ELSE webhooks.disabled_reason END
    FROM json_each(${JSON.stringify(healthChanges(outcomes))}) AS h
    WHERE webhooks.id = ${v("id")} AND (${v("add")} > 0 OR ${v("gone")} = 1 OR ${v("slow")} = 1
      OR webhooks.slow_until IS NOT NULL OR webhooks.consecutive_failures > 0)`;
}

/** Endpoints whose attempt was detached for running long: their next deliveries take the slow lane at once. */
export const markSlow = (webhookIds: string[], now: number): SQL =>
  sql`UPDATE webhooks SET slow_until = ${now + SLOW_FOR_MS} WHERE id IN (SELECT value FROM json_each(${JSON.stringify(webhookIds)}))`;
