import { createRoute, z } from "@hono/zod-openapi";
import { adminAuth } from "../../middleware/admin-auth";
import { exactJsonBody } from "../../middleware/exact-json-body";
import { CreateKey, ISSUED_KEY_EXAMPLE, IssuedKey } from "../api-keys/api-keys.routes";
import { authErrors, bodyErrors, IdParams, jsonBody, jsonResponse, listHeaders, notFoundOf, pageQuery } from "../common.schemas";

const TENANT_EXAMPLE = {
  id: "1c9d4e2f-7a3b-4c5d-8e6f-0a1b2c3d4e5f",
  name: "Acme Support",
  created_at: "2024-11-24T12:00:00Z",
  disabled_at: null as string | null,
  webhook_count: 2,
  live_api_key_count: 1,
  event_count: 340,
};

const CreateTenant = z.object({ name: z.string().trim().min(1).max(200) }).openapi("CreateTenant");
const Tenant = z.object({ id: z.string(), name: z.string(), api_key: z.string(), created_at: z.string() }).openapi("TenantWithKey");

export const create = createRoute({
  operationId: "createTenant",
  method: "post",
  path: "/api/v1/admin/tenants",
  tags: ["Admin"],
  summary: "Create a tenant and its first API key (ADMIN_TOKEN)",
  security: [{ adminToken: [] }],
  middleware: [adminAuth, exactJsonBody] as const,
  request: { body: jsonBody(CreateTenant, { name: "Acme Support" }) },
  responses: {
    201: jsonResponse(Tenant, "The tenant; api_key is shown only here", {
      id: TENANT_EXAMPLE.id,
      name: TENANT_EXAMPLE.name,
      api_key: ISSUED_KEY_EXAMPLE.api_key,
      created_at: TENANT_EXAMPLE.created_at,
    }),
    ...authErrors,
    ...bodyErrors,
  },
});

const AdminTenant = z
  .object({
    id: z.string(),
    name: z.string(),
    created_at: z.string(),
    disabled_at: z.string().nullable().openapi({ description: "Set while disabled: the tenant's keys get 401 and its deliveries wait" }),
    webhook_count: z.number().int().openapi({ description: "Webhooks not deleted, inactive ones included" }),
    live_api_key_count: z.number().int(),
    event_count: z.number().int(),
  })
  .openapi("AdminTenant");

const admin = { tags: ["Admin"], security: [{ adminToken: [] }], middleware: adminAuth };

export const list = createRoute({
  operationId: "listTenants",
  ...admin,
  method: "get",
  path: "/api/v1/admin/tenants",
  summary: "List tenants with their webhook, live API key and event counts, newest first (ADMIN_TOKEN)",
  request: { query: z.object(pageQuery(100)) },
  responses: {
    200: {
      ...jsonResponse(z.array(AdminTenant).openapi("AdminTenantList"), "A page of tenants; the total is in X-Total-Count", [TENANT_EXAMPLE]),
      headers: listHeaders,
    },
    ...authErrors,
    422: bodyErrors[422],
  },
});

const toggle = (action: "disable" | "enable", summary: string) =>
  createRoute({
    ...admin,
    operationId: `${action}Tenant`,
    method: "post",
    path: `/api/v1/admin/tenants/{id}/${action}`,
    summary,
    request: { params: IdParams },
    responses: {
      200: jsonResponse(AdminTenant, "The tenant", { ...TENANT_EXAMPLE, disabled_at: action === "disable" ? "2024-11-24T12:30:00Z" : null }),
      ...authErrors,
      ...notFoundOf("Tenant"),
    },
  });

export const disable = toggle(
  "disable",
  "Disable a tenant: its API keys get 401, its deliveries wait (not attempted, not lost) until it is enabled (ADMIN_TOKEN)",
);
export const enable = toggle("enable", "Enable a disabled tenant: its keys work again and its waiting deliveries go out (ADMIN_TOKEN)");

export const issueKey = createRoute({
  operationId: "issueTenantApiKey",
  ...admin,
  middleware: [adminAuth, exactJsonBody] as const, // the one JSON body reader, after the token (as create)
  method: "post",
  path: "/api/v1/admin/tenants/{id}/api-keys",
  summary: "Issue a new API key for a tenant, shown only in this response (ADMIN_TOKEN)",
  request: { params: IdParams, body: { ...jsonBody(CreateKey, { name: "ci" }), required: false } },
  responses: { 201: jsonResponse(IssuedKey, "The new key", ISSUED_KEY_EXAMPLE), ...authErrors, ...notFoundOf("Tenant"), ...bodyErrors },
});
