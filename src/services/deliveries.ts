import { and, desc, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { deliveries, events, type DeliveryRow, type DeliveryStatus, type WebhookRow } from "../db/schema";
import { attemptDelivery } from "../delivery/attempt";
import { deliveryBody } from "../delivery/payload";
import { recordOutcomes } from "../delivery/record";
import { importSigningKey, type SigningKeys } from "../delivery/signing";
import { autoDisablePolicy, deliveryPolicy, type Env } from "../env";
import { TEST_EVENT_TYPE } from "../events/catalog";
import { decryptSecret } from "../lib/crypto";
import { notFound } from "../lib/errors";
import { isUuid, newTimeOrderedId } from "../lib/ids";
import { formatOptionalTime, formatTime } from "../lib/time";
import { findWebhook } from "./webhooks";

export function deliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    webhook_id: row.webhookId,
    event_id: row.eventId,
    event: row.eventType,
    status: row.status,
    attempts: row.attempts,
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    last_response_time_ms: row.lastResponseMs,
    last_response_excerpt: row.lastResponseExcerpt,
    next_retry_at: row.status === "pending" ? formatOptionalTime(row.nextAttemptAt) : null,
    created_at: formatTime(row.createdAt),
    finished_at: formatOptionalTime(row.finishedAt),
  };
}

export interface DeliveryFilter {
  skip: number;
  limit: number;
  status?: DeliveryStatus;
  event?: string;
}

export async function listDeliveries(db: Database, tenantId: string, webhookId: string, filter: DeliveryFilter) {
  const webhook = await findWebhook(db, tenantId, webhookId);
  const rows = await db
    .select()
    .from(deliveries)
    .where(
      and(
        eq(deliveries.webhookId, webhook.id),
        filter.status ? eq(deliveries.status, filter.status) : undefined,
        filter.event ? eq(deliveries.eventType, filter.event) : undefined,
      ),
    )
    .orderBy(desc(deliveries.id)) // time-ordered ids: newest first along the primary key
    .limit(filter.limit)
    .offset(filter.skip);
  return rows.map(deliveryView);
}

export async function getDelivery(db: Database, tenantId: string, webhookId: string, deliveryId: string) {
  const webhook = await findWebhook(db, tenantId, webhookId);
  if (!isUuid(deliveryId)) throw notFound("Delivery");
  const [row] = await db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.webhookId, webhook.id), eq(deliveries.id, deliveryId)))
    .limit(1);
  if (!row) throw notFound("Delivery");
  return { ...deliveryView(row), attempt_log: row.attemptLog };
}

/** The webhook's signing keys, the previous secret's while its rotation overlap lasts. */
export async function webhookSigningKeys(webhook: WebhookRow, env: Env, now: number): Promise<SigningKeys> {
  const open = async (sealed: string) => importSigningKey(await decryptSecret(sealed, env));
  const previous = webhook.previousSecretEncrypted && (webhook.previousSecretExpiresAt ?? 0) > now ? webhook.previousSecretEncrypted : null;
  const [current, previousKey] = await Promise.all([open(webhook.secretEncrypted), previous ? open(previous) : null]);
  return { current, previous: previousKey };
}

const TEST_EVENT_DATA = { message: "This is a test event from hr-intel-webhooks", test: true };

/**
 * POST /webhooks/{id}/test: one signed attempt right now, no retries, logged (and counted)
 * like any delivery so it shows up in the delivery log.
 */
export async function testWebhook(db: Database, env: Env, tenantId: string, webhookId: string) {
  const webhook = await findWebhook(db, tenantId, webhookId);
  const now = Date.now();
  const event = { id: newTimeOrderedId(now), tenantId, type: TEST_EVENT_TYPE, data: TEST_EVENT_DATA, createdAt: now, deliveriesScheduled: 1 };
  const delivery = { id: newTimeOrderedId(now), tenantId, webhookId: webhook.id, eventId: event.id, eventType: TEST_EVENT_TYPE, createdAt: now, nextAttemptAt: null };
  await db.batch([db.insert(events).values(event), db.insert(deliveries).values(delivery)]);

  const signingKeys = await webhookSigningKeys(webhook, env, now);
  const body = deliveryBody(event, webhook.id);
  const result = await attemptDelivery({ webhookId: webhook.id, deliveryId: delivery.id, url: webhook.url, signingKeys }, body, deliveryPolicy(env).timeoutMs);
  const status = result.class === "success" ? "success" : "failed";
  await recordOutcomes(env.DB, [{ deliveryId: delivery.id, webhookId: webhook.id, attemptsBefore: 0, result, verdict: { status } }], autoDisablePolicy(env));
  return {
    success: status === "success",
    status_code: result.statusCode,
    response_time_ms: result.responseTimeMs,
    error: result.error,
    delivery_id: delivery.id,
  };
}
