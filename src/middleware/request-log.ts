import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../app-env";

/**
 * One JSON line per request, for `wrangler tail` and Workers Logs to filter on:
 *   {"type":"request","request_id","method","route","status","duration_ms","tenant_id"?}
 * `route` is the pattern that answered ("/api/v1/webhooks/:id"; null when no route matched),
 * never the URL: a query string or a path segment may carry what should not be logged, and
 * no header (Authorization included) is read. tenant_id is there once the API key was accepted.
 * Errors are rendered by app.onError before this line is written, so their status is logged.
 */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  try {
    await next();
  } finally {
    const handler = matchedRoutes(c)
      .filter((route) => route.method !== "ALL")
      .at(-1);
    const line = {
      type: "request",
      request_id: c.var.requestId,
      method: c.req.method,
      route: handler?.path ?? null,
      status: c.res.status,
      // Workers freeze the clock during execution: this is the time spent waiting on I/O (D1, queues, fetch).
      duration_ms: Math.round(performance.now() - started),
      ...(c.var.tenantId ? { tenant_id: c.var.tenantId } : {}),
    };
    console.log(JSON.stringify(line));
  }
});
