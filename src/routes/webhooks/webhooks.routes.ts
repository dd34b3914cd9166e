import { createRoute } from "@hono/zod-openapi";
import { authErrors, bodyErrors, IdParams, jsonBody, jsonResponse, listHeaders, notFoundError, quotaError } from "../common.schemas";
import { createWebhookExample, webhookExample } from "../examples";
import { CreateWebhook, ListWebhooksQuery, RotatedSecret, RotateSecret, UpdateWebhook, Webhook, WebhookList, WebhookWithSecret } from "./webhooks.schemas";

const tags = ["Webhooks"];
const security = [{ apiKey: [] }];
const SECRET_EXAMPLE = "wsk_live_2kX9vQ7mT4pL8rN1sW6yZ3bC5dF0gH2jK4lM6nP8qR0";

export const create = createRoute({
  operationId: "createWebhook",
  method: "post",
  path: "/api/v1/webhooks",
  tags,
  security,
  summary: "Register a webhook",
  request: { body: jsonBody(CreateWebhook, createWebhookExample) },
  responses: {
    201: jsonResponse(WebhookWithSecret, "The webhook; secret_key is shown only here", {
      ...webhookExample,
      delivery_count: 0,
      failure_count: 0,
      last_delivery_at: null,
      last_success_at: null,
      secret_key: SECRET_EXAMPLE,
    }),
    ...authErrors,
    ...bodyErrors,
    ...quotaError(
      "the tenant has MAX_WEBHOOKS_PER_TENANT live webhooks already",
      "Webhook quota reached: a tenant may have at most 100 webhooks (MAX_WEBHOOKS_PER_TENANT); delete one first",
    ),
  },
});

export const list = createRoute({
  operationId: "listWebhooks",
  method: "get",
  path: "/api/v1/webhooks",
  tags,
  security,
  summary: "List webhooks, newest first",
  request: { query: ListWebhooksQuery },
  responses: { 200: { ...jsonResponse(WebhookList, "A page of webhooks", [webhookExample]), headers: listHeaders }, ...authErrors, 422: bodyErrors[422] },
});

export const get = createRoute({
  operationId: "getWebhook",
  method: "get",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Get a webhook",
  request: { params: IdParams },
  responses: { 200: jsonResponse(Webhook, "The webhook", webhookExample), ...authErrors, ...notFoundError },
});

export const update = createRoute({
  operationId: "updateWebhook",
  method: "put",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Update url, events, description, is_active, retry_schedule_seconds or rate_limit_per_second",
  request: { params: IdParams, body: jsonBody(UpdateWebhook, { events: ["query.created", "query.escalated", "query.resolved"], rate_limit_per_second: 10 }) },
  responses: {
    200: jsonResponse(Webhook, "The updated webhook", {
      ...webhookExample,
      events: ["query.created", "query.escalated", "query.resolved"],
      rate_limit_per_second: 10,
      updated_at: "2024-11-24T12:10:00Z",
    }),
    ...authErrors,
    ...notFoundError,
    ...bodyErrors,
  },
});

export const remove = createRoute({
  operationId: "deleteWebhook",
  method: "delete",
  path: "/api/v1/webhooks/{id}",
  tags,
  security,
  summary: "Delete a webhook and cancel its pending deliveries",
  request: { params: IdParams },
  responses: { 204: { description: "Deleted" }, ...authErrors, ...notFoundError },
});

export const rotateSecret = createRoute({
  operationId: "rotateWebhookSecret",
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
  request: { params: IdParams, body: { ...jsonBody(RotateSecret, { overlap_seconds: 3600 }), required: false } },
  responses: {
    200: jsonResponse(RotatedSecret, "The webhook and its new secret_key", {
      ...webhookExample,
      secret_key: SECRET_EXAMPLE,
      previous_secret_expires_at: "2024-11-24T13:00:00Z",
    }),
    ...authErrors,
    ...notFoundError,
    ...bodyErrors,
  },
});
