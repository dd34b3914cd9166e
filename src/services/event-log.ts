import { and, count, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { runBatch } from "../db/batch";
import { deliveries, type EventRow, events, webhooks } from "../db/schema";
import { deliveryRowOf, type RawDeliveryRow, unwrittenDeliveries } from "../db/unwritten-deliveries";
import { notFound } from "../lib/errors";
import { firstTimeOrderedId, isUuid } from "../lib/ids";
import { formatTime } from "../lib/time";
import type { ServiceContext } from "./context";
import { deliveryDetailView } from "./deliveries";
import { idCursor, idTimeRange, isCursorRequest, type Page, type PageRequest, pageOf, type TimeRange } from "./paging";

export function eventView(row: EventRow) {
  return {
    id: row.id,
    event: row.type,
    data: row.data,
    query_id: row.queryId,
    deliveries_scheduled: row.deliveriesScheduled,
    created_at: formatTime(row.createdAt),
    redelivered_at: (row.redeliveredAt ?? []).map(formatTime),
  };
}

/** The event log's filters and paging (an options object, for the API and a future portal page alike). */
export interface EventListOptions extends PageRequest, TimeRange {
  /** Event type, e.g. query.created. */
  event?: string;
}

/**
 * GET /events, newest first, along the primary key (tenant_id, id): since/until and
 * the cursors are ranges of the time-ordered id. The total is counted on skip/limit requests only.
 */
export async function listEvents({ db, tenantId }: ServiceContext, options: EventListOptions): Promise<Page<ReturnType<typeof eventView>>> {
  const matching = and(eq(events.tenantId, tenantId), idTimeRange(events.id, options), options.event ? eq(events.type, options.event) : undefined);
  const cursor = idCursor(events.id, options);
  const page = db.select().from(events).where(and(matching, cursor.where)).orderBy(cursor.orderBy).limit(cursor.limit).offset(options.skip);
  if (isCursorRequest(options)) {
    const [rows] = await db.batch([page]);
    return pageOf(rows.map(eventView), options, null);
  }
  const [rows, [{ total }]] = await db.batch([page, db.select({ total: count() }).from(events).where(matching)]);
  return pageOf(rows.map(eventView), options, total);
}

export async function findEvent({ db, tenantId }: ServiceContext, eventId: string): Promise<EventRow> {
  if (!isUuid(eventId)) throw notFound("Event");
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.id, eventId), eq(events.tenantId, tenantId)))
    .limit(1);
  if (!row) throw notFound("Event");
  return row;
}

/**
 * GET /events/{id}: the event and its deliveries (one per webhook per send), written or not yet
 * (src/db/unwritten-deliveries.ts: read in parallel, from the event's own key). deliveries has
 * no event_id index (an index row per delivery would double its writes); its ids are
 * UUIDv7s made in the millisecond of the publish or of a redelivery, so each send's
 * deliveries lie in one millisecond of the key (webhook_id, id) of each of the tenant's
 * webhooks. Reads: the tenant's webhooks (index webhooks_tenant) plus, per send and webhook,
 * a seek into that millisecond: about W + D rows for W webhooks and D deliveries, in one
 * D1 round trip after the event's.
 */
export async function getEventDetail(ctx: ServiceContext, eventId: string) {
  const { db, d1, tenantId } = ctx;
  const event = await findEvent(ctx, eventId);
  const tenantWebhooks = db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.tenantId, tenantId));
  const sends = [...new Set([event.createdAt, ...(event.redeliveredAt ?? [])])];
  const inMillisecond = (at: number) =>
    db
      .select()
      .from(deliveries)
      .where(
        and(
          inArray(deliveries.webhookId, tenantWebhooks),
          gte(deliveries.id, firstTimeOrderedId(at)),
          lt(deliveries.id, firstTimeOrderedId(at + 1)),
          eq(deliveries.eventId, event.id),
        ),
      );
  const [first, ...rest] = sends.map(inMillisecond);
  const [written, [unwritten]] = await Promise.all([
    db.batch([first, ...rest]),
    runBatch<RawDeliveryRow>(d1, [unwrittenDeliveries(tenantId, { where: sql`events.id = ${event.id}` })]),
  ]);
  const found = [...written.flat(), ...unwritten.results.map(deliveryRowOf)];
  found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ...eventView(event), deliveries: found.map(deliveryDetailView) };
}
