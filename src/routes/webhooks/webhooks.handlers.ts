import type { AppRouteHandler } from "../../app-env";
import {
  createWebhook,
  DEFAULT_ROTATION_OVERLAP_SECONDS,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  rotateWebhookSecret,
  updateWebhook,
} from "../../services/webhooks";
import type * as routes from "./webhooks.routes";

export const create: AppRouteHandler<typeof routes.create> = async (c) => c.json(await createWebhook(c.var.ctx, c.req.valid("json")), 201);

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { skip, limit, is_active } = c.req.valid("query");
  const page = await listWebhooks(c.var.ctx, { skip, limit, isActive: is_active });
  return c.json(page.items, 200, { "X-Total-Count": String(page.total) });
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => c.json(await getWebhook(c.var.ctx, c.req.valid("param").id), 200);

export const update: AppRouteHandler<typeof routes.update> = async (c) =>
  c.json(await updateWebhook(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200);

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  await deleteWebhook(c.var.ctx, c.req.valid("param").id);
  return c.body(null, 204);
};

export const rotateSecret: AppRouteHandler<typeof routes.rotateSecret> = async (c) => {
  const overlap = c.req.valid("json")?.overlap_seconds ?? DEFAULT_ROTATION_OVERLAP_SECONDS; // the body is optional
  return c.json(await rotateWebhookSecret(c.var.ctx, c.req.valid("param").id, overlap), 200);
};
