import type { AppRouteHandler } from "../../app-env";
import { tenantStats, webhookStats } from "../../services/stats";
import type * as routes from "./stats.routes";

export const stats: AppRouteHandler<typeof routes.stats> = async (c) => c.json(await tenantStats(c.var.ctx), 200);

export const getWebhookStats: AppRouteHandler<typeof routes.getWebhookStats> = async (c) =>
  c.json(await webhookStats(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200);
