import { createRoute } from "@hono/zod-openapi";
import { authErrors, bodyErrors, IdParams, jsonBody, jsonResponse, listHeaders, notFoundError, quotaError } from "../common.schemas";
import { CreateWebhook, ListWebhooksQuery, RotatedSecret, RotateSecret, UpdateWebhook, Webhook, WebhookList, WebhookWithSecret } from "./webhooks.schemas";

const tags = ["Webhooks"];
const security = [{ apiKey: [] }];

export const create = createRoute({
  method: "post",
  path: "/api/v1/webhooks",
  tags,
  security,
  summary: "Register a webhook",
  request: { body: jsonBody(CreateWebhook) },
  responses: {
    201: jsonResponse(WebhookWithSecret, "The webhook; secret_key is shown only here"),
    ...authErrors,
    ...bodyErrors,
    ...quotaError("the tenant has MAX_WEBHOOKS_PER_TENANT live webhooks already"),
  },
});

export const list = createRoute({
  method: "get",
  path: "/api/v1/webhooks",
  tags,
  security,
  summary: "List webhooks, newest first",
  request: { query: ListWebhooksQuery },
  responses: { 200: { ...jsonResponse(WebhookList, "A page of webhooks"), headers: listHeaders }, ...authErrors, 422: bodyErrors[422] },
});

export const get = createRoute({
  method: "get",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Get a webhook",
  request: { params: IdParams },
  responses: { 200: jsonResponse(Webhook, "The webhook"), ...authErrors, ...notFoundError },
});

export const update = createRoute({
  method: "put",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Update url, events, description, is_active, retry_schedule_seconds or rate_limit_per_second",
  request: { params: IdParams, body: jsonBody(UpdateWebhook) },
  responses: { 200: jsonResponse(Webhook, "The updated webhook"), ...authErrors, ...notFoundError, ...bodyErrors },
});

export const remove = createRoute({
  method: "delete",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Delete a webhook and cancel its pending deliveries",
  request: { params: IdParams },
  responses: { 204: { description: "Deleted" }, ...authErrors, ...notFoundError },
});

export const rotateSecret = createRoute({
  method: "post",
  path: "/api/v1/webhooks/{id}/rotate-secret",
  tags,
  security,
  summary: "Rotate the signing secret, the old one still signing during an overlap",
  description:
    "Answers the webhook with a new secret_key (shown only here). Until previous_secret_expires_at (now + overlap_seconds), " +
    "deliveries carry one Standard Webhooks signature per secret in webhook-signature (the new one first), so a verifier holding " +
    "either secret accepts them, while X-Webhook-Signature stays on the previous secret: a receiver following the guide switches " +
    "to the new secret when the overlap ends. Rotating again during an overlap drops the older secret. The body is optional.",
  request: { params: IdParams, body: { ...jsonBody(RotateSecret), required: false } },
  responses: { 200: jsonResponse(RotatedSecret, "The webhook and its new secret_key"), ...authErrors, ...notFoundError, ...bodyErrors },
});
