import { createRoute, z } from "@hono/zod-openapi";
import { authErrors, bodyErrors, conflictOf, IdParams, jsonBody, jsonResponse, listHeaders, notFoundOf } from "../common.schemas";

export const CreateKey = z.object({ name: z.string().trim().min(1).max(200).nullable().optional() }).openapi("CreateApiKey");
const KeySummary = z.object({ id: z.string(), name: z.string().nullable(), prefix: z.string(), created_at: z.string() });
export const IssuedKey = KeySummary.extend({ api_key: z.string() }).openapi("IssuedApiKey");

const tags = ["API keys"];
const security = [{ apiKey: [] }];
/** Shared with the admin route that issues a tenant's key. */
export const KEY_SUMMARY_EXAMPLE = { id: "3f2b8c4d-1a5e-4b7f-9c0d-2e4f6a8b0c1d", name: "ci", prefix: "hrk_Xa9Qz1", created_at: "2024-11-24T12:00:00Z" };
export const ISSUED_KEY_EXAMPLE = { ...KEY_SUMMARY_EXAMPLE, api_key: "hrk_Xa9Qz1bR7kP2mW4vT8yL0nC6sD3fG5hJ1qE9uA2iO7x" };

export const create = createRoute({
  operationId: "createApiKey",
  method: "post",
  path: "/api/v1/api-keys",
  tags,
  security,
  summary: "Issue a new API key (shown only in this response)",
  request: { body: { ...jsonBody(CreateKey, { name: "ci" }), required: false } },
  responses: { 201: jsonResponse(IssuedKey, "The new key", ISSUED_KEY_EXAMPLE), ...authErrors, ...bodyErrors },
});

export const list = createRoute({
  operationId: "listApiKeys",
  method: "get",
  path: "/api/v1/api-keys",
  tags,
  security,
  summary: "List live API keys (no secrets)",
  responses: {
    200: {
      ...jsonResponse(z.array(KeySummary).openapi("ApiKeyList"), "Live keys; the total is in X-Total-Count", [KEY_SUMMARY_EXAMPLE]),
      headers: listHeaders,
    },
    ...authErrors,
  },
});

export const revoke = createRoute({
  operationId: "revokeApiKey",
  method: "delete",
  path: "/api/v1/api-keys/{id}",
  tags,
  security,
  summary: "Revoke an API key; it is refused from the next request on",
  description: "The tenant's last live key cannot be revoked (409 conflict): issue another one first.",
  request: { params: IdParams },
  responses: {
    204: { description: "Revoked" },
    ...authErrors,
    ...notFoundOf("API key"),
    ...conflictOf("This is the tenant's last live API key and cannot be revoked: issue another key first"),
  },
});
