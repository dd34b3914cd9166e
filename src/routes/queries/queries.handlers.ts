import type { AppRouteHandler } from "../../app-env";
import * as service from "../../services/queries";
import { pageHeaders } from "../common.schemas";
import type * as routes from "./queries.routes";

export const create: AppRouteHandler<typeof routes.create> = async (c) => c.json(await service.createQuery(c.var.ctx, c.req.valid("json")), 201);

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const page = await service.listQueries(c.var.ctx, c.req.valid("query"));
  return c.json(page.items, 200, pageHeaders(c.req.url, page));
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => c.json(await service.getQueryDetail(c.var.ctx, c.req.valid("param").id), 200);

export const escalate: AppRouteHandler<typeof routes.escalate> = async (c) => {
  const { reason } = c.req.valid("json");
  return c.json(await service.escalateQuery(c.var.ctx, c.req.valid("param").id, reason), 200);
};

export const resolve: AppRouteHandler<typeof routes.resolve> = async (c) => {
  const { response } = c.req.valid("json");
  return c.json(await service.resolveQuery(c.var.ctx, c.req.valid("param").id, response), 200);
};

export const addFeedback: AppRouteHandler<typeof routes.addFeedback> = async (c) => {
  const { rating, feedback_text } = c.req.valid("json");
  return c.json(await service.addFeedback(c.var.ctx, c.req.valid("param").id, rating, feedback_text ?? null), 201);
};
