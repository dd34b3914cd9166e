import { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import type { AppEnv } from "../app-env";
import { ApiError, type FieldIssue } from "../lib/errors";
import { exactJsonBody } from "../middleware/exact-json-body";
import { apiKeyRateLimit, testEndpointRateLimit } from "../middleware/rate-limit";
import { tenantAuth } from "../middleware/tenant-auth";

function zodFields(error: ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message }));
}

/** Validation failures of any request part become one 422 shape naming the fields. */
function validationError(error: ZodError): ApiError {
  const fields = zodFields(error);
  return new ApiError("validation_failed", fields.map((f) => `${f.field}: ${f.message}`).join("; "), fields);
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
 * The router of every route a tenant calls with its API key: authentication (tenantAuth sets
 * tenantId and apiKeyId), then the per-key rate limits, then the one JSON body reader, in that
 * order (a body is read only for an authenticated caller within its limits).
 *
 * Hono runs a mounted router's middleware on every request whose path matches it, also those
 * its own routes do not serve, hence the /api/v1/* scope (an unknown /api/v1 path answers 401
 * without a key, as before; /openapi.json and /docs stay open). Health and admin routes are
 * mounted before this router in app.ts: their handlers answer first and end the chain.
 */
export function createTenantRouter() {
  const router = createRouter();
  router.use("/api/v1/*", tenantAuth);
  router.use("/api/v1/*", apiKeyRateLimit);
  router.use("/api/v1/webhooks/:id/test", testEndpointRateLimit);
  router.use("/api/v1/*", exactJsonBody);
  return router;
}
