import type { AppRouteHandler } from "../../app-env";
import { getDelivery, listDeliveries, testWebhook } from "../../services/deliveries";
import { recoverDeliveries, retryDelivery } from "../../services/redelivery";
import { pageHeaders, parseTimeRange } from "../common.schemas";
import type * as routes from "./deliveries.routes";

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const query = c.req.valid("query");
  const page = await listDeliveries(c.var.ctx, c.req.valid("param").id, { ...query, ...parseTimeRange(query) });
  return c.json(page.items, 200, pageHeaders(c.req.url, page));
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  const { id, delivery_id } = c.req.valid("param");
  return c.json(await getDelivery(c.var.ctx, id, delivery_id), 200);
};

export const test: AppRouteHandler<typeof routes.test> = async (c) => c.json(await testWebhook(c.var.ctx, c.req.valid("param").id), 200);

export const retry: AppRouteHandler<typeof routes.retry> = async (c) => {
  const { id, delivery_id } = c.req.valid("param");
  return c.json(await retryDelivery(c.var.ctx, id, delivery_id), 202);
};

export const recover: AppRouteHandler<typeof routes.recover> = async (c) => {
  const { since, until } = c.req.valid("json");
  const range = { since: Date.parse(since), until: until === undefined ? Date.now() : Date.parse(until) };
  return c.json(await recoverDeliveries(c.var.ctx, c.req.valid("param").id, range), 202);
};
