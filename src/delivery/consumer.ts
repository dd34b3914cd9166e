import { sql } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { deliveryPolicy, type DeliveryPolicy, type Env } from "../env";
import { decryptSecret } from "../lib/crypto";
import { newUsage, type Usage } from "../lib/usage";
import { attemptDelivery } from "./attempt";
import type { DeliveryJob } from "./job";
import { deliveryBody } from "./payload";
import { recordOutcomes, type AttemptOutcome } from "./record";
import { deliveryVerdict } from "./retry-policy";
import { importSigningKey } from "./signing";

/** A job arriving this much before its delivery's next_attempt_at is a stale duplicate. */
const EARLY_TOLERANCE_MS = 500;

interface DueDelivery {
  id: string;
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

/** Everything the batch needs, for all its messages, in one query. */
function loadDeliveries(db: Database, ids: string[]) {
  return db.all<DueDelivery>(sql`SELECT d.id, d.webhook_id, d.status, d.attempts, d.next_attempt_at,
      w.url, w.secret_encrypted, (w.is_active = 1 AND w.deleted_at IS NULL) AS webhook_live,
      e.type AS event_type, e.data AS event_data, e.created_at AS event_created_at
    FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN webhooks w ON w.id = d.webhook_id
    WHERE d.id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
}

function isDue(row: DueDelivery, now: number): boolean {
  return row.status === "pending" && (row.next_attempt_at ?? 0) - EARLY_TOLERANCE_MS <= now;
}

/** Decrypts and imports each webhook's signing key once per batch. */
function signingKeys(env: Env) {
  const keys = new Map<string, Promise<CryptoKey>>();
  return (row: DueDelivery) => {
    let key = keys.get(row.webhook_id);
    if (!key) {
      key = decryptSecret(row.secret_encrypted!, env.SECRET_ENCRYPTION_KEY!).then(importSigningKey);
      keys.set(row.webhook_id, key);
    }
    return key;
  };
}

async function attempt(row: DueDelivery, key: Promise<CryptoKey>, policy: DeliveryPolicy): Promise<AttemptOutcome> {
  const body = deliveryBody({ type: row.event_type, data: JSON.parse(row.event_data), createdAt: row.event_created_at }, row.webhook_id);
  const target = { webhookId: row.webhook_id, deliveryId: row.id, url: row.url!, signingKey: await key };
  const result = await attemptDelivery(target, body, policy.timeoutMs);
  const verdict = deliveryVerdict(policy, result.class, row.attempts + 1);
  return { deliveryId: row.id, webhookId: row.webhook_id, attemptsBefore: row.attempts, result, verdict };
}

/** Webhooks deleted or deactivated after the job was queued: their deliveries are cancelled. */
const cancelDeliveries = (db: Database, ids: string[], now: number) =>
  db.run(sql`UPDATE deliveries SET status = 'cancelled', finished_at = ${now}, next_attempt_at = NULL,
      last_error = 'webhook deleted or deactivated'
    WHERE status = 'pending' AND id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);

/**
 * The queue consumer: reads the batch's deliveries in one query, makes the due attempts
 * concurrently, writes every result in one D1 batch, then acks or schedules the retry
 * through the queue's own delay. If D1 fails, the whole batch is retried (nothing is acked).
 */
export async function consumeDeliveries(batch: MessageBatch<DeliveryJob>, env: Env, usage: Usage = newUsage("queue")): Promise<void> {
  const db = database(env.DB);
  const policy = deliveryPolicy(env);
  const now = Date.now();
  const rows = await loadDeliveries(db, [...new Set(batch.messages.map((m) => m.body.deliveryId))]);
  const due = rows.filter((row) => isDue(row, now) && row.webhook_live);
  const orphaned = rows.filter((row) => isDue(row, now) && !row.webhook_live).map((row) => row.id);
  const keyFor = signingKeys(env);
  const outcomes = await Promise.all(due.map((row) => attempt(row, keyFor(row), policy)));
  usage.subrequests += outcomes.length;
  await recordOutcomes(env.DB, outcomes);
  if (orphaned.length > 0) await cancelDeliveries(db, orphaned, now);

  const retries = new Map(outcomes.flatMap((o) => (o.verdict.status === "pending" ? [[o.deliveryId, o.verdict.retryInSeconds]] : [])));
  const retried = new Set<string>();
  for (const message of batch.messages) {
    const delaySeconds = retries.get(message.body.deliveryId);
    // One retry per delivery even if the batch held duplicate jobs for it.
    if (delaySeconds !== undefined && !retried.has(message.body.deliveryId)) {
      retried.add(message.body.deliveryId);
      message.retry({ delaySeconds: Math.ceil(delaySeconds) }); // the queue takes whole seconds
      usage.queue_retries++;
    } else {
      message.ack();
      usage.queue_acks++;
    }
  }
}
