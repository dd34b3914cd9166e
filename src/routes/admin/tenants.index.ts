import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { adminAuth } from "../../middleware/admin-auth";
import { exactJsonBody } from "../../middleware/exact-json-body";
import { createTenant } from "../../services/api-keys";
import { authErrors, bodyErrors, jsonBody, jsonResponse } from "../common.schemas";

const CreateTenant = z.object({ name: z.string().trim().min(1).max(200) }).openapi("CreateTenant");
const Tenant = z
  .object({ id: z.string(), name: z.string(), api_key: z.string(), created_at: z.string() })
  .openapi("TenantWithKey");

const create = createRoute({
  method: "post",
  path: "/api/v1/admin/tenants",
  tags: ["Admin"],
  summary: "Create a tenant and its first API key (ADMIN_TOKEN)",
  security: [{ adminToken: [] }],
  middleware: [adminAuth, exactJsonBody] as const,
  request: { body: jsonBody(CreateTenant) },
  responses: { 201: jsonResponse(Tenant, "The tenant; api_key is shown only here"), ...authErrors, ...bodyErrors },
});

export const adminRoutes = new OpenAPIHono<AppEnv>().openapi(create, async (c) =>
  c.json(await createTenant(c.var.db, c.req.valid("json").name), 201),
);
