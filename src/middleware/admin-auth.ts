import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import { timingSafeEqual } from "../lib/crypto";
import { DomainError } from "../lib/errors";
import { authenticationFailed } from "./rate-limit";
import { bearerToken } from "./tenant-auth";

/**
 * Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`; without the secret configured they stay closed.
 * A wrong token counts against the client's failed-authentication limit (429 past it; see rate-limit.ts).
 */
export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  const token = bearerToken(c.req.header("Authorization"));
  if (!expected || !token || !timingSafeEqual(token, expected)) {
    const message = expected ? "Invalid admin token" : "Admin API is disabled: ADMIN_TOKEN is not configured";
    throw token ? await authenticationFailed(c, message) : new DomainError("unauthorized", message);
  }
  await next();
});
