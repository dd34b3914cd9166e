import { type SQL, sql } from "drizzle-orm";
import type { DeliveryRow } from "./schema";

/**
 * Deliveries are written once. A publish stores the event with the webhooks it goes to
 * (events.webhook_ids) and no delivery rows; each first send's row is inserted with its first
 * attempt's result (src/delivery/record.ts), one D1 row write per delivery where a pending insert
 * and its update cost two. Until then the delivery is "unwritten": its id is its event's id, and
 * everything that shows or counts deliveries reads the unwritten ones from the events too.
 *
 * The outbox sweep (src/delivery/sweep.ts) writes a pending row for every delivery still unwritten
 * SWEEP_GRACE after its event (its job was lost, or waits in a backlog), then moves the "events"
 * sweep cursor past those events: unwritten deliveries are looked for only after that cursor, among
 * the tenant's last few minutes of events (a primary-key range of events), never in the whole log.
 */

/** The deliveries columns, in the order every query here selects them. */
export const DELIVERY_COLUMNS = sql.raw(
  "id, tenant_id, webhook_id, event_id, event_type, status, attempts, cycle_start, next_attempt_at, last_status_code, last_error, last_response_ms, last_response_excerpt, attempt_log, created_at, finished_at",
);

/** The last event whose deliveries all have rows (sweep_cursors.events); '' before the first. */
export const SWEPT_EVENTS_CURSOR = sql`coalesce((SELECT value FROM sweep_cursors WHERE name = 'events'), '')`;

/** Which of a tenant's unwritten deliveries to read. */
export interface UnwrittenFilter {
  /** One webhook's only: an event that does not name it is passed over by a string search, before its list is expanded. */
  webhookId?: string;
  /** Further conditions on `events` and on `j.value` (the webhook id), e.g. a time range. */
  where?: SQL;
}

/**
 * The tenant's unwritten deliveries as rows of deliveries (DELIVERY_COLUMNS): pending, no attempt
 * yet, due when their event was published. Reads the tenant's events after the sweep cursor (a
 * primary-key range: the last SWEEP_GRACE_SECONDS and a minute of publishing) and, for each, a
 * primary-key probe of deliveries per webhook it names.
 */
export function unwrittenDeliveries(tenantId: string, { webhookId, where }: UnwrittenFilter = {}): SQL {
  const conditions = [
    sql`events.tenant_id = ${tenantId} AND events.id > ${SWEPT_EVENTS_CURSOR}`,
    ...(webhookId ? [sql`instr(events.webhook_ids, ${JSON.stringify(webhookId)}) > 0 AND j.value = ${webhookId}`] : []),
    ...(where ? [where] : []),
    sql`NOT EXISTS (SELECT 1 FROM deliveries AS written WHERE written.webhook_id = j.value AND written.id = events.id)`,
  ];
  return sql`SELECT events.id AS id, events.tenant_id AS tenant_id, j.value AS webhook_id, events.id AS event_id, events.type AS event_type,
      'pending' AS status, 0 AS attempts, 0 AS cycle_start, events.created_at AS next_attempt_at, NULL AS last_status_code, NULL AS last_error,
      NULL AS last_response_ms, NULL AS last_response_excerpt, '[]' AS attempt_log, events.created_at AS created_at, NULL AS finished_at
    FROM events CROSS JOIN json_each(events.webhook_ids) AS j
    WHERE ${sql.join(conditions, sql` AND `)}`;
}

/** A row selected as DELIVERY_COLUMNS, as drizzle would have read it from deliveries. */
export interface RawDeliveryRow {
  id: string;
  tenant_id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryRow["status"];
  attempts: number;
  cycle_start: number;
  next_attempt_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  last_response_ms: number | null;
  last_response_excerpt: string | null;
  attempt_log: string;
  created_at: number;
  finished_at: number | null;
}

export const deliveryRowOf = (raw: RawDeliveryRow): DeliveryRow => ({
  id: raw.id,
  tenantId: raw.tenant_id,
  webhookId: raw.webhook_id,
  eventId: raw.event_id,
  eventType: raw.event_type,
  status: raw.status,
  attempts: raw.attempts,
  cycleStart: raw.cycle_start,
  nextAttemptAt: raw.next_attempt_at,
  lastStatusCode: raw.last_status_code,
  lastError: raw.last_error,
  lastResponseMs: raw.last_response_ms,
  lastResponseExcerpt: raw.last_response_excerpt,
  attemptLog: JSON.parse(raw.attempt_log),
  createdAt: raw.created_at,
  finishedAt: raw.finished_at,
});
