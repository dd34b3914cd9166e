import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { DomainError } from "../lib/errors";
import { authenticateApiKey } from "../services/api-keys";
import { serviceContext } from "../services/context";
import { authenticationFailed } from "./rate-limit";

export function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match ? match[1] : null;
}

/**
 * Resolves `Authorization: Bearer <api key>` to the calling tenant and key, or answers 401 (a
 * missing key, an unknown or revoked one, a key of a disabled tenant). Refused keys count
 * against the client's failed-authentication limit (429 past it; see rate-limit.ts).
 */
export const tenantAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw new DomainError("unauthorized", "Missing API key: send Authorization: Bearer <api key>");
  const identity = await authenticateApiKey(c.var.db, token);
  if (!identity) throw await authenticationFailed(c, "Invalid or revoked API key");
  if (identity.tenantDisabled) throw await authenticationFailed(c, "The tenant of this API key is disabled; ask the operator to enable it");
  c.set("tenantId", identity.tenantId);
  c.set("ctx", serviceContext(c.env, c.var.config, identity.tenantId, c.var.db));
  c.set("apiKeyId", identity.keyId);
  await next();
});
