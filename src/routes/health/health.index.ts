import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { jsonResponse } from "../common.schemas";

const health = createRoute({
  method: "get",
  path: "/api/v1/health",
  operationId: "getHealth",
  tags: ["Health"],
  security: [], // open to anyone: uptime checks carry no key
  summary: "Liveness check (no authentication)",
  responses: { 200: jsonResponse(z.object({ status: z.literal("ok"), environment: z.string() }), "The Worker is up", { status: "ok", environment: "production" }) },
});

export const healthRoutes = new OpenAPIHono<AppEnv>().openapi(health, (c) =>
  c.json({ status: "ok" as const, environment: c.env.ENVIRONMENT ?? "production" }, 200),
);
