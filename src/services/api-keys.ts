import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { apiKeys, tenants } from "../db/schema";
import { BoundedMap } from "../lib/bounded-map";
import { randomToken, sha256Hex } from "../lib/crypto";
import { DomainError, notFound } from "../lib/errors";
import { isUuid, newId } from "../lib/ids";
import { formatTime } from "../lib/time";
import type { ServiceContext } from "./context";

const API_KEY_PREFIX = "hrk_";
/** How much of a key is kept in clear so a person can recognise it in a list. */
const VISIBLE_PREFIX_CHARS = API_KEY_PREFIX.length + 6;

export interface IssuedKey {
  id: string;
  name: string | null;
  api_key: string;
  prefix: string;
  created_at: string;
}

/** The statement that stores a new key; the key itself is returned once and only its hash is kept. */
async function newKey(tenantId: string, name: string | null, now: number) {
  const apiKey = randomToken(API_KEY_PREFIX);
  const row = {
    id: newId(),
    tenantId,
    name,
    keyHash: await sha256Hex(apiKey),
    prefix: apiKey.slice(0, VISIBLE_PREFIX_CHARS),
    createdAt: now,
  };
  const issued: IssuedKey = { id: row.id, name, api_key: apiKey, prefix: row.prefix, created_at: formatTime(now) };
  return { row, issued };
}

export async function createTenant(db: Database, name: string) {
  const now = Date.now();
  const tenant = { id: newId(), name, createdAt: now };
  const { row, issued } = await newKey(tenant.id, "default", now);
  await db.batch([db.insert(tenants).values(tenant), db.insert(apiKeys).values(row)]);
  return { id: tenant.id, name, api_key: issued.api_key, created_at: formatTime(now) };
}

/** A new key for the tenant. It reads only db and tenantId, so the admin route (no tenant context) passes just those. */
export async function createApiKey({ db, tenantId }: Pick<ServiceContext, "db" | "tenantId">, name: string | null): Promise<IssuedKey> {
  const { row, issued } = await newKey(tenantId, name, Date.now());
  await db.insert(apiKeys).values(row);
  return issued;
}

export async function listApiKeys({ db, tenantId }: ServiceContext) {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt));
  return rows.map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, created_at: formatTime(k.createdAt) }));
}

/**
 * Revokes a live key of the tenant, unless it is the tenant's last one (409): the count is
 * part of the UPDATE's condition, so of two concurrent revocations of the last two keys
 * only one succeeds. Why nothing was revoked is read only after a refusal.
 */
export async function revokeApiKey({ db, tenantId }: ServiceContext, id: string): Promise<void> {
  if (!isUuid(id)) throw notFound("API key");
  const liveKey = and(eq(apiKeys.id, id), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt));
  const othersLive = sql`(SELECT count(*) FROM ${apiKeys} WHERE tenant_id = ${tenantId} AND revoked_at IS NULL) > 1`;
  const revoked = await db.update(apiKeys).set({ revokedAt: Date.now() }).where(and(liveKey, othersLive)).returning({ id: apiKeys.id });
  if (revoked.length > 0) return forgetTenantKeys(tenantId);
  const [exists] = await db.select({ id: apiKeys.id }).from(apiKeys).where(liveKey).limit(1);
  if (!exists) throw notFound("API key");
  throw new DomainError("conflict", "This is the tenant's last live API key and cannot be revoked: issue another key first");
}

/** Who a live key belongs to: the key's id (rate limits count per key) and its tenant. */
export interface KeyIdentity {
  keyId: string;
  tenantId: string;
  /** The operator disabled the tenant: the key is refused (401) until it is enabled again. */
  tenantDisabled: boolean;
}

/**
 * Identities of live keys by key hash, kept by the isolate for KEY_CACHE_MS: a busy publisher's
 * requests skip the D1 lookup, one statement of the three or so a publish makes at one endpoint
 * per event (D1 runs one query at a time per database: see the README's Capacity on paper).
 * Revoking a key or disabling its tenant clears the entries of this isolate at once; other
 * isolates see the change within KEY_CACHE_MS. Refused keys are never cached. Bounded: the
 * oldest entry goes first.
 */
const KEY_CACHE_MS = 10_000;
const keyCache = new BoundedMap<string, { identity: KeyIdentity; until: number }>(10_000);

/** Forgets the cached identities of a tenant's keys (all of them: revocations and disabling are rare). */
export function forgetTenantKeys(tenantId: string) {
  for (const [hash, entry] of keyCache) if (entry.identity.tenantId === tenantId) keyCache.delete(hash);
}

/** The identity behind a live key, or null: from the isolate's cache, or one indexed read (key hash, then the tenant's primary key). */
export async function authenticateApiKey(db: Database, apiKey: string, now = Date.now()): Promise<KeyIdentity | null> {
  const hash = await sha256Hex(apiKey);
  const cached = keyCache.get(hash);
  if (cached && cached.until > now) return cached.identity;
  const [row] = await db
    .select({ keyId: apiKeys.id, tenantId: apiKeys.tenantId, disabledAt: tenants.disabledAt })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
    .limit(1);
  keyCache.delete(hash);
  if (!row) return null;
  const identity = { keyId: row.keyId, tenantId: row.tenantId, tenantDisabled: row.disabledAt !== null };
  keyCache.set(hash, { identity, until: now + KEY_CACHE_MS });
  return identity;
}
