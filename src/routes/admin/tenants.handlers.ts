import type { AppRouteHandler } from "../../app-env";
import { createTenant } from "../../services/api-keys";
import { issueTenantApiKey, listTenants, setTenantDisabled } from "../../services/tenants";
import type * as routes from "./tenants.routes";

export const create: AppRouteHandler<typeof routes.create> = async (c) => c.json(await createTenant(c.var.db, c.req.valid("json").name), 201);

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const page = await listTenants(c.var.db, c.req.valid("query"));
  return c.json(page.items, 200, { "X-Total-Count": String(page.total) });
};

export const disable: AppRouteHandler<typeof routes.disable> = async (c) => c.json(await setTenantDisabled(c.var.db, c.req.valid("param").id, true), 200);

export const enable: AppRouteHandler<typeof routes.enable> = async (c) => c.json(await setTenantDisabled(c.var.db, c.req.valid("param").id, false), 200);

export const issueKey: AppRouteHandler<typeof routes.issueKey> = async (c) => {
  const name = c.req.valid("json")?.name ?? null; // the body is optional
  return c.json(await issueTenantApiKey(c.var.db, c.req.valid("param").id, name), 201);
};
