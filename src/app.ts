import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./app-env";
import { parseConfig } from "./config";
import { database } from "./db/client";
import { LIMITS } from "./env";
import { DomainError } from "./lib/errors";
import { requestLog } from "./middleware/request-log";
import { portalRoutes } from "./portal/portal.index";
import { adminRoutes } from "./routes/admin/tenants.index";
import { apiKeyRoutes } from "./routes/api-keys/api-keys.index";
import { catalogRoutes } from "./routes/catalog/catalog.index";
import { withSharedResponses } from "./routes/common.schemas";
import { deliveryRoutes } from "./routes/deliveries/deliveries.index";
import { docsRoutes } from "./routes/docs/docs.index";
import { handleError, renderError } from "./routes/error-response";
import { eventRoutes } from "./routes/events/events.index";
import { healthRoutes } from "./routes/health/health.index";
import { portalSessionRoutes } from "./routes/portal/portal-sessions.index";
import { queryRoutes } from "./routes/queries/queries.index";
import { createRouter, createTenantRouter } from "./routes/router";
import { statsRoutes } from "./routes/stats/stats.index";
import { webhookRoutes } from "./routes/webhooks/webhooks.index";

const OPENAPI_DESCRIPTION = [
  "Webhook management and delivery API of the Multi-Agent HR Intelligence Platform.",
  "",
  'Every error is `{"error": {"code", "message", "fields"?, "request_id"}}`, with the request id also in the `X-Request-Id` header.',
  "A method a path does not serve answers 405 `method_not_allowed` with an `Allow` header listing those it does;",
  "an unknown path answers 404 `not_found`.",
].join("\n");

/** OpenAPI 3.1's SPDX `identifier` (the generator's types know only 3.0's `url`): all rights reserved. */
const LICENSE = { name: "Proprietary", identifier: "LicenseRef-Proprietary" };

export function createApp() {
  const app = createRouter();

  app.use(requestId({ headerName: "X-Request-Id" }));
  app.use(requestLog);
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        renderError(
          c,
          new DomainError("method_not_allowed", `${c.req.method} is not allowed here; allowed: ${methods.join(", ")}`, { allowedMethods: methods }),
        ),
    }),
  );
  app.use(async (c, next) => {
    c.set("db", database(c.env.DB));
    await next();
  });
  // The vars, parsed once per request before anything reads them: a deployment with a bad var
  // answers 503 misconfigured naming it on every API route and portal page (the document and
  // /docs still load).
  const withConfig = createMiddleware<AppEnv>(async (c, next) => {
    const parsed = parseConfig(c.env);
    if (!parsed.ok) throw parsed.error;
    c.set("config", parsed.config);
    await next();
  });
  app.use("/api/*", withConfig);
  app.use("/portal", withConfig);
  app.use("/portal/*", withConfig);
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: LIMITS.maxRequestBodyBytes,
      onError: () => {
        throw new DomainError("payload_too_large", `Request body is larger than ${LIMITS.maxRequestBodyBytes} bytes`);
      },
    }),
  );
  app.route("/", healthRoutes);
  app.route("/", adminRoutes); // adminAuth, then exactJsonBody, on each route
  app.route("/", createTenantRouter(apiKeyRoutes, webhookRoutes, deliveryRoutes, eventRoutes, queryRoutes, catalogRoutes, statsRoutes, portalSessionRoutes));

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "http", scheme: "bearer", description: "A tenant API key" });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", { type: "http", scheme: "bearer", description: "The ADMIN_TOKEN secret" });
  for (const definition of app.openAPIRegistry.definitions) if (definition.type === "route") withSharedResponses(definition.route);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "hr-intel-webhooks",
      version: "1.0.0",
      description: OPENAPI_DESCRIPTION,
      license: LICENSE,
    },
    // Relative: the deployment that serves the document, whatever its host ("Try it out" calls it).
    // An absolute localhost URL under `npm run dev` would fail the lint's no-server-example.com rule.
    servers: [{ url: "/", description: "The deployment serving this document" }],
  });
  app.route("/", docsRoutes);
  // The tenant portal's HTML pages (src/portal/): its own session cookie, CSP and error pages.
  app.route("/", portalRoutes);

  app.notFound((c) => renderError(c, new DomainError("not_found", `No route for ${c.req.method} ${c.req.path}`)));
  app.onError(handleError);
  return app;
}
