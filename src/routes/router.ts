import { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import type { AppEnv } from "../app-env";
import { type DomainError, type FieldIssue, validationFailed } from "../lib/errors";
import { exactJsonBody } from "../middleware/exact-json-body";
import { apiKeyRateLimit, testEndpointRateLimit } from "../middleware/rate-limit";
import { tenantAuth } from "../middleware/tenant-auth";

function zodFields(error: ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message }));
}

/** Validation failures of any request part become one 422 shape naming the fields. */
function validationError(error: ZodError): DomainError {
  return validationFailed(zodFields(error));
}

/** Every router of the app: our bindings and variables, and the one validation hook. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as ZodError);
    },
  });
}

/**
 * One router for every route a tenant calls with its API key: authentication (tenantAuth sets
 * tenantId and apiKeyId), then the per-key rate limits, then the one JSON body reader, in that
 * order (a body is read only for an authenticated caller within its limits), applied by .use()
 * to the paths these routers serve. Hono runs a mounted router's middleware on every request
 * whose path matches it, also those no route of it serves: scoped to a wildcard, it would ask
 * /api/v1/health and the admin routes (adminAuth) for an API key, and turn their 405s into 401s.
 */
export function createTenantRouter(...routers: OpenAPIHono<AppEnv>[]) {
  const router = createRouter();
  const paths = [...new Set(routers.flatMap((r) => r.routes.map((route) => route.path)))];
  for (const path of paths) router.use(path, tenantAuth, apiKeyRateLimit);
  router.use("/api/v1/webhooks/:id/test", testEndpointRateLimit);
  for (const path of paths) router.use(path, exactJsonBody);
  for (const r of routers) router.route("/", r);
  return router;
}
