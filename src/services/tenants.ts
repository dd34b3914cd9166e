import { count, desc, eq, inArray, type SQLWrapper, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { apiKeys, events, tenants, webhooks } from "../db/schema";
import { notFound } from "../lib/errors";
import { isUuid } from "../lib/ids";
import { formatOptionalTime, formatTime } from "../lib/time";
import { createApiKey, forgetTenantKeys, type IssuedKey } from "./api-keys";

/** A tenant as the operator sees it, with what it holds. */
export interface TenantSummary {
  id: string;
  name: string;
  created_at: string;
  /** Set while the operator has the tenant disabled: its keys get 401, its deliveries wait. */
  disabled_at: string | null;
  /** Webhooks not deleted (inactive ones included): what MAX_WEBHOOKS_PER_TENANT counts. */
  webhook_count: number;
  live_api_key_count: number;
  event_count: number;
}

/**
 * The tenant's columns and the counts its own indexes answer (webhooks_tenant, api_keys_tenant).
 * Correlated by hand: drizzle leaves columns unqualified in a one-table select.
 */
const tenantWithCounts = {
  id: tenants.id,
  name: tenants.name,
  createdAt: tenants.createdAt,
  disabledAt: tenants.disabledAt,
  webhookCount: sql<number>`(SELECT count(*) FROM ${webhooks} AS w WHERE w.tenant_id = ${tenants}.id AND w.deleted_at IS NULL)`,
  liveKeyCount: sql<number>`(SELECT count(*) FROM ${apiKeys} AS k WHERE k.tenant_id = ${tenants}.id AND k.revoked_at IS NULL)`,
};

/**
 * Events per tenant, for the tenants `ids` selects. The events table has no index by tenant
 * (its rows are kept lean for the publish path), so this is one scan of it per call, grouped,
 * rather than one per tenant: fine for an operator's page, not for a hot path.
 */
const eventCounts = (db: Database, ids: SQLWrapper | string[]) =>
  db.select({ tenantId: events.tenantId, n: count() }).from(events).where(inArray(events.tenantId, ids)).groupBy(events.tenantId);

type TenantRow = { id: string; name: string; createdAt: number; disabledAt: number | null; webhookCount: number; liveKeyCount: number };

function summary(row: TenantRow, eventsByTenant: Map<string, number>): TenantSummary {
  return {
    id: row.id,
    name: row.name,
    created_at: formatTime(row.createdAt),
    disabled_at: formatOptionalTime(row.disabledAt),
    webhook_count: row.webhookCount,
    live_api_key_count: row.liveKeyCount,
    event_count: eventsByTenant.get(row.id) ?? 0,
  };
}

const byTenant = (rows: { tenantId: string; n: number }[]) => new Map(rows.map((r) => [r.tenantId, r.n]));

/** GET /admin/tenants: newest first, one D1 batch (the page, its event counts, the total). */
export async function listTenants(db: Database, page: { skip: number; limit: number }) {
  const pageIds = db.select({ id: tenants.id }).from(tenants).orderBy(desc(tenants.createdAt), desc(tenants.id)).limit(page.limit).offset(page.skip);
  const [rows, counted, [{ total }]] = await db.batch([
    db.select(tenantWithCounts).from(tenants).orderBy(desc(tenants.createdAt), desc(tenants.id)).limit(page.limit).offset(page.skip),
    eventCounts(db, pageIds),
    db.select({ total: count() }).from(tenants),
  ]);
  const eventsByTenant = byTenant(counted);
  return { items: rows.map((row) => summary(row, eventsByTenant)), total };
}

/**
 * POST /admin/tenants/{id}/disable and /enable. Disabling keeps the first disabled_at (so a
 * repeated call changes nothing); while disabled the tenant's keys get 401 and its deliveries
 * wait (the consumer sends their jobs on later, the sweep leaves them alone), to go out once
 * it is enabled. The change and the tenant's view are one D1 batch.
 */
export async function setTenantDisabled(db: Database, id: string, disabled: boolean): Promise<TenantSummary> {
  if (!isUuid(id)) throw notFound("Tenant");
  const disabledAt = disabled ? sql`COALESCE(${tenants.disabledAt}, ${Date.now()})` : null;
  const [, [row], counted] = await db.batch([
    db.update(tenants).set({ disabledAt }).where(eq(tenants.id, id)),
    db.select(tenantWithCounts).from(tenants).where(eq(tenants.id, id)),
    eventCounts(db, [id]),
  ]);
  if (!row) throw notFound("Tenant");
  forgetTenantKeys(id);
  return summary(row, byTenant(counted));
}

/** POST /admin/tenants/{id}/api-keys: a new key for the tenant (shown once), e.g. when it lost its keys. */
export async function issueTenantApiKey(db: Database, tenantId: string, name: string | null): Promise<IssuedKey> {
  if (!isUuid(tenantId)) throw notFound("Tenant");
  // Tenants are never deleted, so a tenant found here is still there for the insert.
  const [tenant] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
  if (!tenant) throw notFound("Tenant");
  return createApiKey({ db, tenantId }, name);
}
