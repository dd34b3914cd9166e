import { and, eq, type SQL, sql } from "drizzle-orm";
import { requireSecretKeys } from "../config";
import { runBatch } from "../db/batch";
import { type DeliveryRow, type DeliveryStatus, deliveries, events } from "../db/schema";
import { DELIVERY_COLUMNS, deliveryRowOf, type RawDeliveryRow, unwrittenDeliveries } from "../db/unwritten-deliveries";
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
 * GET /webhooks/{id}/deliveries, newest first: the written rows and the unwritten first sends
 * (src/db/unwritten-deliveries.ts) in one compound SELECT, which SQLite merges in key order.
 * Every condition on written rows is on the primary key (webhook_id, id) or on the row it finds:
 * since/until and the cursors are ranges of the time-ordered id, so a cursor page reads about
 * `limit` rows (more when status or event filter rows out) wherever it is in the log; unwritten
 * ones are looked for among the tenant's last few minutes of events only. The total is counted on
 * skip/limit requests only: it reads every row of the webhook in the time range.
 */
export async function listDeliveries({ db, d1, tenantId }: ServiceContext, webhookId: string, options: DeliveryListOptions): Promise<Page<DeliveryView>> {
  const webhook = await findWebhook(db, tenantId, webhookId);
  const { page, total } = deliveryLogQueries(tenantId, webhook.id, options);
  const [rows, counted] = await runBatch(d1, isCursorRequest(options) ? [page] : [page, total]);
  const items = (rows.results as unknown as RawDeliveryRow[]).map((raw) => deliveryView(deliveryRowOf(raw)));
  return pageOf(items, options, counted ? (counted.results[0] as { total: number }).total : null);
}

/** The log's page (limit + 1 rows in the cursor's order) and its total, written and unwritten deliveries alike. */
export function deliveryLogQueries(tenantId: string, webhookId: string, options: DeliveryListOptions) {
  const written = and(
    eq(deliveries.webhookId, webhookId),
    idTimeRange(deliveries.id, options),
    options.status ? eq(deliveries.status, options.status) : undefined,
    options.event ? eq(deliveries.eventType, options.event) : undefined,
  );
  const cursor = { written: idCursor(deliveries.id, options), unwritten: idCursor(events.id, options) };
  const unwritten = (where?: SQL) =>
    options.status === undefined || options.status === "pending"
      ? unwrittenDeliveries(tenantId, {
          webhookId,
          where: and(idTimeRange(events.id, options), options.event ? eq(events.type, options.event) : undefined, where),
        })
      : null;
  const unwrittenPage = unwritten(cursor.unwritten.where);
  const unwrittenAll = unwritten();
  return {
    page: sql`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${and(written, cursor.written.where)}
      ${unwrittenPage ? sql`UNION ALL ${unwrittenPage}` : sql``}
      ORDER BY id ${sql.raw(options.after !== undefined ? "ASC" : "DESC")} LIMIT ${cursor.written.limit} OFFSET ${options.skip}`,
    total: sql`SELECT (SELECT count(*) FROM deliveries WHERE ${written})${unwrittenAll ? sql` + (SELECT count(*) FROM (${unwrittenAll}))` : sql``} AS total`,
  };
}

/** One delivery of the webhook, written or not yet (a first send is found through its event, whose id it has). */
export async function findDelivery({ d1, tenantId }: ServiceContext, webhookId: string, deliveryId: string): Promise<DeliveryRow> {
  if (!isUuid(deliveryId)) throw notFound("Delivery");
  const [found] = await runBatch<RawDeliveryRow>(d1, [
    sql`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE webhook_id = ${webhookId} AND id = ${deliveryId}
      UNION ALL ${unwrittenDeliveries(tenantId, { webhookId, where: sql`events.id = ${deliveryId}` })}`,
  ]);
  if (!found.results[0]) throw notFound("Delivery");
  return deliveryRowOf(found.results[0]);
}

export async function getDelivery(ctx: ServiceContext, webhookId: string, deliveryId: string): Promise<DeliveryDetailView> {
  const webhook = await findWebhook(ctx.db, ctx.tenantId, webhookId);
  return deliveryDetailView(await findDelivery(ctx, webhook.id, deliveryId));
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
  // Its delivery is written with its result, by the recorder below (its id is the event's, as any first send's);
  // the event names no webhooks (webhook_ids null), so until then the log does not show it pending.
  const event = { id: newTimeOrderedId(now), tenantId, type: TEST_EVENT_TYPE, data: TEST_EVENT_DATA, createdAt: now, deliveriesScheduled: 1 };
  await db.insert(events).values(event);

  const outcome = await deliverOnce(
    {
      webhookId: webhook.id,
      deliveryId: event.id,
      event: { tenantId, eventId: event.id, type: TEST_EVENT_TYPE, createdAt: now },
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
    delivery_id: event.id,
  };
}
