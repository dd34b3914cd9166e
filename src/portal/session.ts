import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { serviceContext } from "../services/context";
import { findPortalSession, SESSION_TTL_MS } from "../services/portal-sessions";
import type { PortalEnv } from "./portal-env";
import { PortalRefusal } from "./refusal";

export const SESSION_COOKIE = "portal_session";

/** Secure everywhere but on a plain-http localhost (wrangler dev): browsers drop Secure cookies there. */
const isLocalHttp = (url: URL) => url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);

export function setSessionCookie(c: Context<PortalEnv>, value: string) {
  setCookie(c, SESSION_COOKIE, value, {
    path: "/portal",
    httpOnly: true,
    sameSite: "Strict",
    secure: !isLocalHttp(new URL(c.req.url)),
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

export const clearSessionCookie = (c: Context<PortalEnv>) => deleteCookie(c, SESSION_COOKIE, { path: "/portal" });

/** Every portal page: the cookie must name a live session (looked up on each request, so revocation is immediate). */
export const portalSession = createMiddleware<PortalEnv>(async (c, next) => {
  const cookie = getCookie(c, SESSION_COOKIE);
  const session = cookie ? await findPortalSession(c.var.db, cookie) : null;
  if (!session) throw new PortalRefusal(401, "No portal session", "Your portal session has ended or was never opened. Ask for a new portal link.");
  c.set("tenantId", session.tenantId);
  c.set("ctx", serviceContext(c.env, c.var.config, session.tenantId, c.var.db));
  c.set("session", session);
  await next();
});

const changesState = (method: string) => method !== "GET" && method !== "HEAD";

/**
 * Every state-changing request (any method but GET/HEAD) must say it comes from this origin:
 * browsers send Origin with every POST. SameSite=Strict already keeps the cookie off other
 * sites' requests; this refuses the rest (a missing or foreign Origin).
 */
export const sameOriginPost = createMiddleware<PortalEnv>(async (c, next) => {
  if (changesState(c.req.method) && c.req.header("Origin") !== new URL(c.req.url).origin) {
    throw new PortalRefusal(403, "Request refused", "This request did not come from the portal's own pages.");
  }
  await next();
});

/** A read-only session changes nothing: every state-changing request is refused here, whatever the page showed. */
export const readWriteSession = createMiddleware<PortalEnv>(async (c, next) => {
  if (changesState(c.req.method) && c.var.session.readOnly) {
    throw new PortalRefusal(403, "Read-only session", "This portal session is read-only: it can look at everything but change nothing.");
  }
  await next();
});
