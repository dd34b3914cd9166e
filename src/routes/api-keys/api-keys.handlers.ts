import type { AppRouteHandler } from "../../app-env";
import { createApiKey, listApiKeys, revokeApiKey } from "../../services/api-keys";
import type * as routes from "./api-keys.routes";

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const name = c.req.valid("json")?.name ?? null; // the body is optional
  return c.json(await createApiKey(c.var.ctx, name), 201);
};

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const keys = await listApiKeys(c.var.ctx);
  return c.json(keys, 200, { "X-Total-Count": String(keys.length) });
};

export const revoke: AppRouteHandler<typeof routes.revoke> = async (c) => {
  await revokeApiKey(c.var.ctx, c.req.valid("param").id);
  return c.body(null, 204);
};
