import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { portalSessions, tenants } from "../db/schema";
import { randomToken, sha256Hex } from "../lib/crypto";
import { newId } from "../lib/ids";
import { formatTime } from "../lib/time";
import type { ServiceContext } from "./context";

/** A link must be opened within this long unless the request says otherwise (1 h), at most 7 days. */
export const DEFAULT_LINK_TTL_SECONDS = 3600;
export const MAX_LINK_TTL_SECONDS = 7 * 86_400;
/** An opened session lasts 12 h. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

const LINK_TOKEN_PREFIX = "ptl_";
const SESSION_COOKIE_PREFIX = "pts_";

export interface PortalSessionRequest {
  readOnly: boolean;
  linkTtlSeconds: number;
}

/**
 * POST /api/v1/portal/sessions: a one-time link token for the tenant's portal (returned once,
 * only its hash stored). The caller builds the URL from it (the Worker's own origin).
 */
export async function createPortalSession({ db, tenantId }: ServiceContext, request: PortalSessionRequest) {
  const token = randomToken(LINK_TOKEN_PREFIX);
  const now = Date.now();
  const expiresAt = now + request.linkTtlSeconds * 1000;
  await db.insert(portalSessions).values({
    id: newId(),
    tenantId,
    tokenHash: await sha256Hex(token),
    tokenExpiresAt: expiresAt,
    sessionTtlMs: SESSION_TTL_MS,
    readOnly: request.readOnly,
    createdAt: now,
  });
  return { token, expires_at: formatTime(expiresAt) };
}

export interface PortalSession {
  id: string;
  tenantId: string;
  readOnly: boolean;
  expiresAt: number;
}

const sessionOf = (row: { id: string; tenantId: string; readOnly: boolean; sessionExpiresAt: number | null }): PortalSession => ({
  id: row.id,
  tenantId: row.tenantId,
  readOnly: row.readOnly,
  expiresAt: row.sessionExpiresAt ?? 0,
});

/**
 * Opens a link: claims its token (unused, unexpired) and binds a new session cookie value to the
 * row, in one conditional UPDATE, so of two requests with the same link only one gets a session.
 * null for a used, expired or unknown token.
 */
export async function openPortalLink(db: Database, token: string): Promise<{ cookie: string; session: PortalSession } | null> {
  if (!token.startsWith(LINK_TOKEN_PREFIX)) return null;
  const cookie = randomToken(SESSION_COOKIE_PREFIX);
  const now = Date.now();
  const [row] = await db
    .update(portalSessions)
    .set({ tokenUsedAt: now, sessionHash: await sha256Hex(cookie), sessionExpiresAt: sql`${now} + ${portalSessions.sessionTtlMs}` })
    .where(and(eq(portalSessions.tokenHash, await sha256Hex(token)), isNull(portalSessions.tokenUsedAt), gt(portalSessions.tokenExpiresAt, now)))
    .returning();
  return row ? { cookie, session: sessionOf(row) } : null;
}

/**
 * The live session a cookie value names: opened, unexpired, not revoked, its tenant enabled.
 * One indexed read per portal request.
 */
export async function findPortalSession(db: Database, cookie: string): Promise<PortalSession | null> {
  if (!cookie.startsWith(SESSION_COOKIE_PREFIX)) return null;
  const [row] = await db
    .select({ id: portalSessions.id, tenantId: portalSessions.tenantId, readOnly: portalSessions.readOnly, sessionExpiresAt: portalSessions.sessionExpiresAt })
    .from(portalSessions)
    .innerJoin(tenants, eq(tenants.id, portalSessions.tenantId))
    .where(
      and(
        eq(portalSessions.sessionHash, await sha256Hex(cookie)),
        gt(portalSessions.sessionExpiresAt, Date.now()),
        isNull(portalSessions.revokedAt),
        isNull(tenants.disabledAt),
      ),
    )
    .limit(1);
  return row ? sessionOf(row) : null;
}

/** Sign out: the session ends for good (the server refuses its cookie from now on). */
export async function revokePortalSession({ db, tenantId }: ServiceContext, sessionId: string): Promise<void> {
  await db
    .update(portalSessions)
    .set({ revokedAt: Date.now() })
    .where(and(eq(portalSessions.id, sessionId), eq(portalSessions.tenantId, tenantId)));
}
