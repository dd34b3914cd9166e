import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { createApiKey, listApiKeys, revokeApiKey } from "../../services/api-keys";
import { authErrors, bodyErrors, conflictError, IdParams, jsonBody, jsonResponse, listHeaders, notFoundError } from "../common.schemas";

export const CreateKey = z.object({ name: z.string().trim().min(1).max(200).nullable().optional() }).openapi("CreateApiKey");
const KeySummary = z.object({ id: z.string(), name: z.string().nullable(), prefix: z.string(), created_at: z.string() });
export const IssuedKey = KeySummary.extend({ api_key: z.string() }).openapi("IssuedApiKey");

const tags = ["API keys"];
const security = [{ apiKey: [] }];

const create = createRoute({
  method: "post",
  path: "/api/v1/api-keys",
  tags,
  security,
  summary: "Issue a new API key (shown only in this response)",
  request: { body: { ...jsonBody(CreateKey), required: false } },
  responses: { 201: jsonResponse(IssuedKey, "The new key"), ...authErrors, ...bodyErrors },
});

const list = createRoute({
  method: "get",
  path: "/api/v1/api-keys",
  tags,
  security,
  summary: "List live API keys (no secrets)",
  responses: { 200: { ...jsonResponse(z.array(KeySummary).openapi("ApiKeyList"), "Live keys; the total is in X-Total-Count"), headers: listHeaders }, ...authErrors },
});

const revoke = createRoute({
  method: "delete",
  path: "/api/v1/api-keys/{id}",
  tags,
  security,
  summary: "Revoke an API key; it is refused from the next request on",
  description: "The tenant's last live key cannot be revoked (409 conflict): issue another one first.",
  request: { params: IdParams },
  responses: { 204: { description: "Revoked" }, ...authErrors, ...notFoundError, ...conflictError },
});

export const apiKeyRoutes = new OpenAPIHono<AppEnv>()
  .openapi(create, async (c) => {
    const name = c.req.valid("json")?.name ?? null; // the body is optional
    return c.json(await createApiKey(c.var.db, c.var.tenantId, name), 201);
  })
  .openapi(list, async (c) => {
    const keys = await listApiKeys(c.var.db, c.var.tenantId);
    return c.json(keys, 200, { "X-Total-Count": String(keys.length) });
  })
  .openapi(revoke, async (c) => {
    await revokeApiKey(c.var.db, c.var.tenantId, c.req.valid("param").id);
    return c.body(null, 204);
  });
