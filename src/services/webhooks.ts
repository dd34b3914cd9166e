import { and, count, desc, eq, getTableColumns, is, isNull, SQL, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteSelect } from "drizzle-orm/sqlite-core";
import { type Config, requireSecretKeys } from "../config";
import type { Database } from "../db/client";
import { unfoldedCounts, withUnfoldedCounts } from "../db/counters";
import { type WebhookRow, webhooks } from "../db/schema";
import { cancelPendingDeliveries } from "../delivery/cancel";
import { defaultRetrySchedule, LIMITS } from "../env";
import { encryptSecret, randomToken } from "../lib/crypto";
import { DomainError, notFound } from "../lib/errors";
import { isUuid, newId } from "../lib/ids";
import { formatOptionalTime, formatTime } from "../lib/time";
import { checkWebhookUrl } from "../lib/url-policy";
import type { RotatedSecretView, WebhookView, WebhookWithSecretView } from "../routes/webhooks/webhooks.schemas";
import type { ServiceContext } from "./context";

const SECRET_PREFIX = "wsk_live_";

export interface WebhookInput {
  url: string;
  events: string[];
  description?: string | null;
  is_active?: boolean;
  /** null: the deployment's default schedule. */
  retry_schedule_seconds?: number[] | null;
  rate_limit_per_second?: number | null;
}

/**
 * The API's view of a webhook; never its secret (see webhookWithSecret). `defaultSchedule`
 * is shown for a webhook without its own retry schedule: the one its deliveries follow.
 * Its type is the response schema's (webhooks.schemas.ts:Webhook), the one definition of the shape.
 */
export function webhookView(row: WebhookRow, defaultSchedule: number[]): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    is_active: row.isActive,
    delivery_count: row.deliveryCount,
    failure_count: row.failureCount,
    retry_schedule_seconds: row.retrySchedule ?? defaultSchedule,
    rate_limit_per_second: row.rateLimitPerSecond,
    consecutive_failures: row.consecutiveFailures,
    last_delivery_at: formatOptionalTime(row.lastDeliveryAt),
    last_success_at: formatOptionalTime(row.lastSuccessAt),
    disabled_at: formatOptionalTime(row.disabledAt),
    disabled_reason: row.disabledReason,
    created_at: formatTime(row.createdAt),
    updated_at: formatTime(row.updatedAt),
  };
}

export const defaultScheduleOf = (config: Config) => defaultRetrySchedule(config.delivery);

/** Only the creation and rotation responses carry secret_key. */
const webhookWithSecret = (row: WebhookRow, config: Config, secretKey: string): WebhookWithSecretView => ({
  ...webhookView(row, defaultScheduleOf(config)),
  secret_key: secretKey,
});

function acceptedUrl(config: Config, raw: string): string {
  const verdict = checkWebhookUrl(raw.trim(), { production: config.production, maxLength: LIMITS.maxUrlLength });
  if (!verdict.ok) throw new DomainError("unsafe_url", `Webhook URL refused: ${verdict.reason}`, { fields: [{ field: "url", message: verdict.reason }] });
  return verdict.url;
}

/**
 * Inserts the webhook only while its tenant has fewer than `limit` live (not soft-deleted)
 * webhooks, else 403: one conditional INSERT … SELECT … WHERE (SELECT count(*) …) < limit …
 * RETURNING. D1 runs statements one at a time, so concurrent creates cannot pass the quota
 * together, and a create stays one statement (the count reads the tenant's rows through the
 * webhooks_tenant index). The SELECT lists every column as drizzle's values() would: the
 * row's value, else the column's default, else NULL.
 */
async function insertWithinQuota(db: Database, limit: number, row: typeof webhooks.$inferInsert): Promise<WebhookRow> {
  const values = Object.entries(getTableColumns(webhooks)).map(([key, column]) => {
    const value = row[key as keyof typeof row];
    if (value !== undefined) return sql.param(value, column);
    if (column.default === undefined) return sql`NULL`;
    return is(column.default, SQL) ? column.default : sql.param(column.default, column);
  });
  const [stored] = await db
    .insert(webhooks)
    .select(sql`SELECT ${sql.join(values, sql`, `)}
      WHERE (SELECT count(*) FROM ${webhooks} WHERE tenant_id = ${row.tenantId} AND deleted_at IS NULL) < ${limit}`)
    .returning();
  if (!stored)
    throw new DomainError("quota_exceeded", `Webhook quota reached: a tenant may have at most ${limit} webhooks (MAX_WEBHOOKS_PER_TENANT); delete one first`);
  return stored;
}

export async function createWebhook({ db, config, tenantId }: ServiceContext, input: WebhookInput) {
  const secrets = requireSecretKeys(config);
  const url = acceptedUrl(config, input.url);
  const secretKey = randomToken(SECRET_PREFIX);
  const now = Date.now();
  const row = await insertWithinQuota(db, config.maxWebhooksPerTenant, {
    id: newId(),
    tenantId,
    url,
    events: input.events,
    description: input.description ?? null,
    secretEncrypted: await encryptSecret(secretKey, secrets),
    isActive: input.is_active ?? true,
    retrySchedule: input.retry_schedule_seconds ?? null,
    rateLimitPerSecond: input.rate_limit_per_second ?? null,
    createdAt: now,
    updatedAt: now,
  });
  return webhookWithSecret(row, config, secretKey);
}

const ownedBy = (tenantId: string, id: string) => and(eq(webhooks.id, id), eq(webhooks.tenantId, tenantId), isNull(webhooks.deletedAt));

/**
 * The webhook's counter deltas not yet folded (unfoldedCounts, one pass over the delta rows), to
 * read in the same D1 batch as its row (cancelling deliveries changes no counter); withCounted adds them.
 */
const unfoldedOf = (db: Database, tenantId: string, id: string) =>
  unfoldedCounts(db, db.select({ id: webhooks.id }).from(webhooks).where(ownedBy(tenantId, id)).$dynamic());

/** The webhook row with its counters as the API shows them (folded values plus unfolded deltas), or 404. */
function withCounted(rows: WebhookRow[], unfolded: Parameters<typeof withUnfoldedCounts>[1]): WebhookRow {
  const [row] = withUnfoldedCounts(rows, unfolded);
  if (!row) throw notFound("Webhook");
  return row;
}

/** A live webhook of this tenant, or 404 (also for other tenants' ids and non-UUIDs). */
export async function findWebhook(db: Database, tenantId: string, id: string): Promise<WebhookRow> {
  if (!isUuid(id)) throw notFound("Webhook");
  const [row] = await db.select().from(webhooks).where(ownedBy(tenantId, id)).limit(1);
  if (!row) throw notFound("Webhook");
  return row;
}

/** GET /webhooks/{id}: the webhook with its current counters. */
export async function getWebhook({ db, config, tenantId }: ServiceContext, id: string) {
  if (!isUuid(id)) throw notFound("Webhook");
  const [rows, unfolded] = await db.batch([db.select().from(webhooks).where(ownedBy(tenantId, id)).limit(1), unfoldedOf(db, tenantId, id)]);
  return webhookView(withCounted(rows, unfolded), defaultScheduleOf(config));
}

export async function listWebhooks({ db, config, tenantId }: ServiceContext, page: { skip: number; limit: number; isActive?: boolean }) {
  const filter = and(
    eq(webhooks.tenantId, tenantId),
    isNull(webhooks.deletedAt),
    page.isActive === undefined ? undefined : eq(webhooks.isActive, page.isActive),
  );
  const pageOf = <T extends SQLiteSelect>(query: T) =>
    query.where(filter).orderBy(desc(webhooks.createdAt), desc(webhooks.id)).limit(page.limit).offset(page.skip);
  const [rows, unfolded, [{ total }]] = await db.batch([
    pageOf(db.select().from(webhooks).$dynamic()),
    unfoldedCounts(db, pageOf(db.select({ id: webhooks.id }).from(webhooks).$dynamic())),
    db.select({ total: count() }).from(webhooks).where(filter),
  ]);
  const defaultSchedule = defaultScheduleOf(config);
  return { items: withUnfoldedCounts(rows, unfolded).map((row) => webhookView(row, defaultSchedule)), total };
}

/**
 * A webhook re-enabled by its owner (is_active: true while inactive, e.g. after the platform
 * disabled it) starts with a clean record: no longer disabled, no failure streak. On a webhook
 * that is already active, is_active: true changes nothing, so a client that always sends it
 * does not reset the streak that auto-disable counts. Decided in the UPDATE on the row as it
 * is, so a disable that lands just before is undone whole.
 */
const unlessActive = (column: SQLiteColumn, reset: number | null) => sql`CASE WHEN ${webhooks.isActive} THEN ${column} ELSE ${reset} END`;
const REENABLED = {
  disabledAt: unlessActive(webhooks.disabledAt, null),
  disabledReason: unlessActive(webhooks.disabledReason, null),
  consecutiveFailures: unlessActive(webhooks.consecutiveFailures, 0),
  failingSince: unlessActive(webhooks.failingSince, null),
};

export async function updateWebhook({ db, config, tenantId }: ServiceContext, id: string, input: Partial<WebhookInput>) {
  const existing = await findWebhook(db, tenantId, id);
  const now = Date.now();
  const changes: Partial<typeof webhooks.$inferInsert> = { updatedAt: now };
  if (input.url !== undefined) changes.url = acceptedUrl(config, input.url);
  if (input.events !== undefined) changes.events = input.events;
  if (input.description !== undefined) changes.description = input.description;
  if (input.is_active !== undefined) changes.isActive = input.is_active;
  if (input.is_active === true) Object.assign(changes, REENABLED);
  if (input.retry_schedule_seconds !== undefined) changes.retrySchedule = input.retry_schedule_seconds;
  if (input.rate_limit_per_second !== undefined) changes.rateLimitPerSecond = input.rate_limit_per_second;
  const unfolded = unfoldedOf(db, tenantId, existing.id);
  const update = db.update(webhooks).set(changes).where(ownedBy(tenantId, existing.id)).returning();
  const [counts, rows] =
    input.is_active === false
      ? await db.batch([unfolded, update, ...cancelPendingDeliveries(db, tenantId, existing.id, now)])
      : await db.batch([unfolded, update]);
  return webhookView(withCounted(rows, counts), defaultScheduleOf(config));
}

export async function deleteWebhook({ db, tenantId }: ServiceContext, id: string): Promise<void> {
  const existing = await findWebhook(db, tenantId, id);
  const now = Date.now();
  await db.batch([
    db.update(webhooks).set({ deletedAt: now, isActive: false, updatedAt: now }).where(ownedBy(tenantId, existing.id)),
    ...cancelPendingDeliveries(db, tenantId, existing.id, now),
  ]);
}

/** How long the secret a rotation replaces keeps signing, unless the request says otherwise. */
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 86_400;
export const MAX_ROTATION_OVERLAP_SECONDS = 604_800;

/**
 * POST /webhooks/{id}/rotate-secret: a new secret_key (shown only in this answer). The one it
 * replaces moves, sealed as it was, to previous_secret_encrypted and keeps signing for
 * `overlapSeconds` (see signedRequest); 0 ends it at once. A rotation during an overlap
 * drops the older secret. One UPDATE, which reads the current secret in the row itself, so
 * concurrent rotations each move the secret they replace.
 */
export async function rotateWebhookSecret({ db, config, tenantId }: ServiceContext, id: string, overlapSeconds: number): Promise<RotatedSecretView> {
  const secrets = requireSecretKeys(config);
  const existing = await findWebhook(db, tenantId, id);
  const secretKey = randomToken(SECRET_PREFIX);
  const sealed = await encryptSecret(secretKey, secrets);
  const now = Date.now();
  const keepPrevious = overlapSeconds > 0;
  const [rows, unfolded] = await db.batch([
    db
      .update(webhooks)
      .set({
        secretEncrypted: sealed,
        previousSecretEncrypted: keepPrevious ? sql`${webhooks.secretEncrypted}` : null,
        previousSecretExpiresAt: keepPrevious ? now + overlapSeconds * 1000 : null,
        updatedAt: now,
      })
      .where(ownedBy(tenantId, existing.id))
      .returning(),
    unfoldedOf(db, tenantId, existing.id),
  ]);
  const row = withCounted(rows, unfolded);
  return { ...webhookWithSecret(row, config, secretKey), previous_secret_expires_at: formatOptionalTime(row.previousSecretExpiresAt) };
}
