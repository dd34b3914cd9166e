import { sql } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { consumerAttemptBudgetMs, deliveryPolicy, type DeliveryPolicy, type Env } from "../env";
import { decryptSecret } from "../lib/crypto";
import { mapWithLimit } from "../lib/pool";
import { newUsage, type Usage } from "../lib/usage";
import { attemptDelivery, type AttemptResult } from "./attempt";
import type { DeliveryJob, DeliveryRef } from "./job";
import { bodyForWebhooks } from "./payload";
import { nextAttemptAt, outcomeRecorder, type AttemptOutcome } from "./record";
import { importSigningKey } from "./signing";
import { deliveryVerdict } from "./retry-policy";

/**
 * A Worker invocation keeps at most six connections open; further fetches wait for one to
 * close. Waiting inside fetch() would count against the attempt's timeout, so attempts are
 * started six at a time and each one's timeout covers only its own request.
 */
const OPEN_CONNECTIONS_PER_INVOCATION = 6;

/** A job may arrive this much before a delivery's next_attempt_at and still attempt it. */
const EARLY_TOLERANCE_MS = 500;

interface DueDelivery {
  id: string;
  event_id: string;
  webhook_id: string;
  status: string;
  attempts: number;
  next_attempt_at: number | null;
  url: string | null;
  secret_encrypted: string | null;
  webhook_live: number | null;
  event_type: string;
  event_data: string;
  event_created_at: number;
}

/** Everything the batch needs, for all its messages, in one query (primary-key lookups). */
function loadDeliveries(db: Database, refs: DeliveryRef[]) {
  const keys = JSON.stringify(refs.map((r) => [r.webhookId, r.deliveryId]));
  return db.all<DueDelivery>(sql`SELECT d.id, d.event_id, d.webhook_id, d.status, d.attempts, d.next_attempt_at,
      w.url, w.secret_encrypted, (w.is_active = 1 AND w.deleted_at IS NULL) AS webhook_live,
      e.type AS event_type, e.data AS event_data, e.created_at AS event_created_at
    FROM json_each(${keys}) AS k
    JOIN deliveries d ON d.webhook_id = k.value ->> 0 AND d.id = k.value ->> 1
    JOIN events e ON e.id = d.event_id
    LEFT JOIN webhooks w ON w.id = d.webhook_id`);
}

/**
 * Signing keys by sealed secret, kept for the isolate's life: a webhook's key is decrypted
 * and imported once, not once per batch. A rotated secret is sealed anew (fresh IV), so a
 * replaced key is never looked up again. Bounded: the oldest entry goes first.
 */
const SIGNING_KEY_CACHE_SIZE = 10_000;
const signingKeyCache = new Map<string, Promise<CryptoKey>>();

function signingKey(sealed: string, env: Env): Promise<CryptoKey> {
  let key = signingKeyCache.get(sealed);
  if (!key) {
    key = decryptSecret(sealed, env.SECRET_ENCRYPTION_KEY!).then(importSigningKey);
    key.catch(() => signingKeyCache.delete(sealed));
    if (signingKeyCache.size >= SIGNING_KEY_CACHE_SIZE) signingKeyCache.delete(signingKeyCache.keys().next().value!);
    signingKeyCache.set(sealed, key);
  }
  return key;
}

/** Builds each delivery's body, parsing and serialising each event's data once per batch. */
function bodyBuilder() {
  const byEvent = new Map<string, (webhookId: string) => string>();
  return (row: DueDelivery): string => {
    let bodyFor = byEvent.get(row.event_id);
    if (!bodyFor) {
      bodyFor = bodyForWebhooks({ type: row.event_type, data: JSON.parse(row.event_data), createdAt: row.event_created_at });
      byEvent.set(row.event_id, bodyFor);
    }
    return bodyFor(row.webhook_id);
  };
}

/** An attempt that could not be made because the body cannot be built: it never will be. */
const unsendable = (error: unknown): AttemptResult => ({
  statusCode: null,
  error: `Payload cannot be serialised: ${(error as Error)?.message ?? String(error)}`,
  responseTimeMs: 0,
  responseExcerpt: null,
  attemptedAt: Date.now(),
  class: "permanent",
});

async function attempt(row: DueDelivery, buildBody: (row: DueDelivery) => string, env: Env, policy: DeliveryPolicy): Promise<AttemptOutcome> {
  const recorded = { deliveryId: row.id, webhookId: row.webhook_id, attemptsBefore: row.attempts };
  let body: string;
  try {
    body = buildBody(row);
  } catch (error) {
    // Fail this delivery alone: throwing would retry, and block, every other delivery of the batch.
    return { ...recorded, result: unsendable(error), verdict: { status: "failed" } };
  }
  const target = { webhookId: row.webhook_id, deliveryId: row.id, url: row.url!, signingKey: await signingKey(row.secret_encrypted!, env) };
  const result = await attemptDelivery(target, body, policy.timeoutMs);
  const verdict = deliveryVerdict(policy, result.class, row.attempts + 1);
  return { ...recorded, result, verdict };
}

/** Webhooks deleted or deactivated after the job was queued: their deliveries are cancelled. */
const cancelDeliveries = (db: Database, rows: DueDelivery[], now: number) =>
  db.run(sql`UPDATE deliveries SET status = 'cancelled', finished_at = ${now}, next_attempt_at = NULL,
      last_error = 'webhook deleted or deactivated'
    FROM json_each(${JSON.stringify(rows.map((r) => [r.webhook_id, r.id]))}) AS k
    WHERE deliveries.webhook_id = k.value ->> 0 AND deliveries.id = k.value ->> 1 AND deliveries.status = 'pending'`);

/**
 * When each delivery of the batch is next due, if it stays pending: the retry time of a
 * failed attempt, or the stored due time of a delivery that was not due yet.
 */
function nextDueTimes(rows: DueDelivery[], outcomes: AttemptOutcome[], attempted: Set<string>): Map<string, number> {
  const due = new Map<string, number>();
  for (const row of rows) {
    if (row.status === "pending" && !attempted.has(row.id) && row.webhook_live) due.set(row.id, row.next_attempt_at ?? 0);
  }
  for (const o of outcomes) {
    const next = nextAttemptAt(o);
    if (next !== null) due.set(o.deliveryId, next);
  }
  return due;
}

/**
 * Settles each message: acked when all of its deliveries are finished, otherwise retried
 * with the queue's own delay until the earliest pending one is due. A delivery named by
 * several messages of the batch belongs to the first, so duplicates do not multiply.
 */
function settleMessages(batch: MessageBatch<DeliveryJob>, nextDue: Map<string, number>, now: number, usage: Usage) {
  const owned = new Set<string>();
  for (const message of batch.messages) {
    const mine = message.body.deliveries.map((r) => r.deliveryId).filter((id) => !owned.has(id) && nextDue.has(id));
    mine.forEach((id) => owned.add(id));
    if (mine.length === 0) {
      message.ack();
      usage.queue_acks++;
      continue;
    }
    const earliest = Math.min(...mine.map((id) => nextDue.get(id)!));
    message.retry({ delaySeconds: Math.max(1, Math.ceil((earliest - now) / 1000)) }); // the queue takes whole seconds
    usage.queue_retries++;
  }
}

/**
 * The queue consumer: reads the batch's deliveries in one query, makes the due attempts
 * (six at a time, within the attempt budget), writes their results 100 at a time as they
 * come, then acks or retries each message through the queue's delay. If D1 fails, the
 * whole batch is retried (nothing is acked).
 */
export async function consumeDeliveries(batch: MessageBatch<DeliveryJob>, env: Env, usage: Usage = newUsage("queue")): Promise<void> {
  const db = database(env.DB);
  const policy = deliveryPolicy(env);
  const now = Date.now();
  const refs = [...new Map(batch.messages.flatMap((m) => m.body.deliveries).map((r) => [r.deliveryId, r])).values()];
  const rows = await loadDeliveries(db, refs);
  const isDue = (row: DueDelivery) => row.status === "pending" && (row.next_attempt_at ?? 0) - EARLY_TOLERANCE_MS <= now;
  const due = rows.filter((row) => isDue(row) && row.webhook_live);
  const orphaned = rows.filter((row) => row.status === "pending" && !row.webhook_live);

  const buildBody = bodyBuilder();
  // Past the budget no new attempt starts; those deliveries stay pending and due, so their message is retried.
  const startBy = now + consumerAttemptBudgetMs(env);
  const recorder = outcomeRecorder(env.DB);
  const results = await mapWithLimit(due, OPEN_CONNECTIONS_PER_INVOCATION, async (row) => {
    if (Date.now() >= startBy) return null;
    const outcome = await attempt(row, buildBody, env, policy);
    recorder.add(outcome);
    return outcome;
  });
  await recorder.flush();
  const outcomes = results.filter((o): o is AttemptOutcome => o !== null);
  usage.subrequests += outcomes.length;
  if (orphaned.length > 0) await cancelDeliveries(db, orphaned, now);

  settleMessages(batch, nextDueTimes(rows, outcomes, new Set(outcomes.map((o) => o.deliveryId))), Date.now(), usage);
}
