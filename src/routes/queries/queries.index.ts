import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import * as service from "../../services/queries";
import * as routes from "./queries.routes";
import { pageHeaders } from "../common.schemas";
import type { EscalateQuery, ResolveQuery } from "./queries.schemas";
import type { z } from "@hono/zod-openapi";

export const queryRoutes = new OpenAPIHono<AppEnv>()
  .openapi(routes.create, async (c) => c.json(await service.createQuery(c.var.db, c.env, c.var.tenantId, c.req.valid("json")), 201))
  .openapi(routes.list, async (c) => {
    const page = await service.listQueries(c.var.db, c.var.tenantId, c.req.valid("query"));
    return c.json(page.items, 200, pageHeaders(c.req.url, page));
  })
  .openapi(routes.get, async (c) => c.json(await service.getQueryDetail(c.var.db, c.var.tenantId, c.req.valid("param").id), 200))
  .openapi(routes.escalate, async (c) => {
    const { reason } = c.req.valid("json") as z.infer<typeof EscalateQuery>;
    return c.json(await service.escalateQuery(c.var.db, c.env, c.var.tenantId, c.req.valid("param").id, reason), 200);
  })
  .openapi(routes.resolve, async (c) => {
    const { response } = c.req.valid("json") as z.infer<typeof ResolveQuery>;
    return c.json(await service.resolveQuery(c.var.db, c.env, c.var.tenantId, c.req.valid("param").id, response), 200);
  })
  .openapi(routes.addFeedback, async (c) => {
    const { rating, feedback_text } = c.req.valid("json");
    return c.json(await service.addFeedback(c.var.db, c.env, c.var.tenantId, c.req.valid("param").id, rating, feedback_text ?? null), 201);
  });
