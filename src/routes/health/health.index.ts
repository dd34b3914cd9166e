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
  responses: {
    200: {
      ...jsonResponse(z.object({ status: z.literal("ok"), environment: z.string() }), "The Worker is up", { status: "ok", environment: "production" }),
      headers: z.object({
        "X-Dev-Run": z.string().optional().openapi({ description: "Under `npm run dev` only: the run's id, by which the script knows it reached its own server" }),
      }),
    },
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>().openapi(health, (c) => {
  if (c.env.DEV_RUN_ID) c.header("X-Dev-Run", c.env.DEV_RUN_ID);
  return c.json({ status: "ok" as const, environment: c.env.ENVIRONMENT ?? "production" }, 200);
});
