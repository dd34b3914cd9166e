import { createRoute, z } from "@hono/zod-openapi";
import { jsonResponse } from "../common.schemas";

export const health = createRoute({
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
        "X-Dev-Run": z
          .string()
          .optional()
          .openapi({ description: "Under `npm run dev` only: the run's id, by which the script knows it reached its own server" }),
      }),
    },
  },
});
