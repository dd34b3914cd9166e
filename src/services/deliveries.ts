import { and, count, eq } from "drizzle-orm";
import { requireSecretKeys } from "../config";
import { type DeliveryRow, type DeliveryStatus, deliveries, events } from "../db/schema";
import { bodyPartsForWebhooks } from "../delivery/payload";
import { outcomeRecorder } from "../delivery/record";
import { deliverOnce, stepContext } from "../delivery/step";
import { TEST_EVENT_TYPE } from "../events/catalog";
import { notFound } from "../lib/errors";
import { isUuid, newTimeOrderedId } from "../lib/ids";
import { formatOptionalTime, formatTime } from "../lib/time";
import type { DeliveryDetailView, DeliveryView } from "../routes/deliveries/deliveries.routes";
import type { ServiceContext } from "./context";
import { findWebhook } from "./webhooks";

/** The states of a delivery, for the API to validate and document its status filter. */
export { DELIVERY_STATUSES } from "../db/schema";

import { idCursor, idTimeRange, isCursorRequest, type Page, type PageRequest, pageOf, type TimeRange } from "./paging";

/** Its type is the response schema's (deliveries.routes.ts:Delivery), the one definition of the shape. */
export function deliveryView(row: DeliveryRow): DeliveryView {
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

/** The delivery log's filters and paging: an options object, so a portal page can pass just what it needs. */
export interface DeliveryListOptions extends PageRequest, TimeRange {
  status?: DeliveryStatus;
  event?: string;
}

/**
 * GET /webhooks/{id}/deliveries, newest first. Every condition is on the primary key
 * (webhook_id, id) or on the row it finds: since/until and the cursors are ranges of the
 * time-ordered id, so a cursor page reads about `limit` rows (more when status or event
 * filter rows out) wherever it is in the log. The total is counted on skip/limit requests
 * only: it reads every row of the webhook in the time range.
 */
export async function listDeliveries({ db, tenantId }: ServiceContext, webhookId: string, options: DeliveryListOptions): Promise<Page<DeliveryView>> {
  const webhook = await findWebhook(db, tenantId, webhookId);
  const matching = and(
    eq(deliveries.webhookId, webhook.id),
    idTimeRange(deliveries.id, options),
    options.status ? eq(deliveries.status, options.status) : undefined,
    options.event ? eq(deliveries.eventType, options.event) : undefined,
  );
  const cursor = idCursor(deliveries.id, options);
  const page = db.select().from(deliveries).where(and(matching, cursor.where)).orderBy(cursor.orderBy).limit(cursor.limit).offset(options.skip);
  if (isCursorRequest(options)) {
    const [rows] = await db.batch([page]);
    return pageOf(rows.map(deliveryView), options, null);
  }
  const [rows, [{ total }]] = await db.batch([page, db.select({ total: count() }).from(deliveries).where(matching)]);
  return pageOf(rows.map(deliveryView), options, total);
}

export async function getDelivery({ db, tenantId }: ServiceContext, webhookId: string, deliveryId: string): Promise<DeliveryDetailView> {
  const webhook = await findWebhook(db, tenantId, webhookId);
  if (!isUuid(deliveryId)) throw notFound("Delivery");
  const [row] = await db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.webhookId, webhook.id), eq(deliveries.id, deliveryId)))
    .limit(1);
  if (!row) throw notFound("Delivery");
  return deliveryDetailView(row);
}

export const deliveryDetailView = (row: DeliveryRow): DeliveryDetailView => ({ ...deliveryView(row), attempt_log: row.attemptLog });

const TEST_EVENT_DATA = { message: "This is a test event from hr-intel-webhooks", test: true };

/** A test delivery is attempted once: it succeeds or fails at its first attempt. */
const NO_RETRIES: readonly number[] = [];

/**
 * POST /webhooks/{id}/test: one signed attempt right now, no retries, made, logged and counted
 * by the consumer's own step (deliverOnce, outcomeRecorder) so it shows up in the delivery log.
 * An inactive webhook can be tested (before re-enabling it); the URL policy, the signing and
 * the endpoint's health apply as to any delivery.
 */
export async function testWebhook({ db, env, config, tenantId }: ServiceContext, webhookId: string) {
  requireSecretKeys(config);
  const webhook = await findWebhook(db, tenantId, webhookId);
  const now = Date.now();
  const event = { id: newTimeOrderedId(now), tenantId, type: TEST_EVENT_TYPE, data: TEST_EVENT_DATA, createdAt: now, deliveriesScheduled: 1 };
  const delivery = {
    id: newTimeOrderedId(now),
    tenantId,
    webhookId: webhook.id,
    eventId: event.id,
    eventType: TEST_EVENT_TYPE,
    createdAt: now,
    nextAttemptAt: null,
  };
  await db.batch([db.insert(events).values(event), db.insert(deliveries).values(delivery)]);

  const outcome = await deliverOnce(
    {
      webhookId: webhook.id,
      deliveryId: delivery.id,
      url: webhook.url,
      secretEncrypted: webhook.secretEncrypted,
      previousSecretEncrypted: webhook.previousSecretEncrypted,
      previousSecretExpiresAt: webhook.previousSecretExpiresAt,
      attempts: 0,
      cycleStart: 0,
      retrySchedule: NO_RETRIES,
      body: () => bodyPartsForWebhooks(event)(webhook.id),
    },
    stepContext(config),
  );
  const recorder = outcomeRecorder(env, config.autoDisable);
  recorder.add(outcome);
  await recorder.flush();
  const { result } = outcome;
  return {
    success: outcome.verdict.status === "success",
    status_code: result.statusCode,
    response_time_ms: result.responseTimeMs,
    error: result.error,
    delivery_id: delivery.id,
  };
}
