import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { DELIVERY_STATUSES } from "../../db/schema";
import { getDelivery, listDeliveries, testWebhook } from "../../services/deliveries";
import { authErrors, IdParams, jsonResponse, notFoundError, pageQuery } from "../common.schemas";

const Delivery = z
  .object({
    id: z.string().openapi({ description: "Also sent as the webhook-id header: the receiver's idempotency key" }),
    webhook_id: z.string(),
    event_id: z.string(),
    event: z.string().openapi({ example: "query.created" }),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    last_response_time_ms: z.number().nullable(),
    last_response_excerpt: z.string().nullable().openapi({ description: "First 1024 characters of the last response body" }),
    next_retry_at: z.string().nullable(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("Delivery");

const Attempt = z.object({
  attempt: z.number().int(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  response_time_ms: z.number(),
  response_excerpt: z.string().nullable(),
  attempted_at: z.string(),
});

const DeliveryDetail = Delivery.extend({ attempt_log: z.array(Attempt) }).openapi("DeliveryDetail");

const TestResult = z
  .object({
    success: z.boolean(),
    status_code: z.number().int().nullable(),
    response_time_ms: z.number(),
    error: z.string().nullable(),
    delivery_id: z.string(),
  })
  .openapi("WebhookTestResult");

const tags = ["Deliveries"];
const security = [{ apiKey: [] }];

const list = createRoute({
  method: "get",
  path: "/api/v1/webhooks/{id}/deliveries",
  tags,
  security,
  summary: "Delivery log of a webhook, newest first",
  request: {
    params: IdParams,
    query: z.object({ ...pageQuery(50), status: z.enum(DELIVERY_STATUSES).optional(), event: z.string().max(100).optional() }),
  },
  responses: { 200: jsonResponse(z.array(Delivery), "A page of deliveries"), ...authErrors, ...notFoundError },
});

const get = createRoute({
  method: "get",
  path: "/api/v1/webhooks/{id}/deliveries/{delivery_id}",
  tags,
  security,
  summary: "One delivery with every attempt",
  request: { params: IdParams.extend({ delivery_id: z.string().openapi({ param: { name: "delivery_id", in: "path" } }) }) },
  responses: { 200: jsonResponse(DeliveryDetail, "The delivery"), ...authErrors, ...notFoundError },
});

const test = createRoute({
  method: "post",
  path: "/api/v1/webhooks/{id}/test",
  tags,
  security,
  summary: "Send one signed webhook.test event now (no retries)",
  request: { params: IdParams },
  responses: { 200: jsonResponse(TestResult, "The attempt's result"), ...authErrors, ...notFoundError },
});

export const deliveryRoutes = new OpenAPIHono<AppEnv>()
  .openapi(list, async (c) => c.json(await listDeliveries(c.var.db, c.var.tenantId, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(get, async (c) => {
    const { id, delivery_id } = c.req.valid("param");
    return c.json(await getDelivery(c.var.db, c.var.tenantId, id, delivery_id), 200);
  })
  .openapi(test, async (c) => c.json(await testWebhook(c.var.db, c.env, c.var.tenantId, c.req.valid("param").id), 200));
