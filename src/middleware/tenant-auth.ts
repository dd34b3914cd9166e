import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { ApiError } from "../lib/errors";
import { authenticateApiKey } from "../services/api-keys";

export function bearerToken(header: string | undefined): string | null {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match ? match[1] : null;
}

/** Resolves `Authorization: Bearer <api key>` to the calling tenant, or answers 401. */
export const tenantAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw new ApiError("unauthorized", "Missing API key: send Authorization: Bearer <api key>");
  const tenantId = await authenticateApiKey(c.var.db, token);
  if (!tenantId) throw new ApiError("unauthorized", "Invalid or revoked API key");
  c.set("tenantId", tenantId);
  await next();
});
