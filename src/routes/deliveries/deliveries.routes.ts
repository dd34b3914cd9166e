import { createRoute, z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES } from "../../services/deliveries";
import { RECOVER_LIMIT } from "../../services/redelivery";
import {
  authErrors,
  bodyErrors,
  conflictOf,
  cursorListHeaders,
  cursorPageQuery,
  errorResponse,
  IdParams,
  isoTime,
  jsonBody,
  jsonResponse,
  notFoundError,
  notFoundOf,
  oneCursor,
  timeRangeQuery,
} from "../common.schemas";
import { attemptExample, deliveryExample, EXAMPLE_IDS } from "../examples";

export const Delivery = z
  .object({
    id: z.string().openapi({
      description:
        "Unique per webhook; also sent as the webhook-id header (the receiver's idempotency key). A first send's id is its event's id, the same at every webhook the event goes to; a redelivery's is new",
    }),
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

export const DeliveryDetail = Delivery.extend({ attempt_log: z.array(Attempt) }).openapi("DeliveryDetail");

/** The one definition of a delivery's shape: the services build it, the tests read it. */
export type DeliveryView = z.infer<typeof Delivery>;
export type DeliveryDetailView = z.infer<typeof DeliveryDetail>;

const TestResult = z
  .object({
    success: z.boolean(),
    status_code: z.number().int().nullable(),
    response_time_ms: z.number(),
    error: z.string().nullable(),
    delivery_id: z.string(),
  })
  .openapi("WebhookTestResult");

const RecoverRequest = z
  .object({
    since: isoTime.openapi({ description: "Deliveries created at or after this time" }),
    until: isoTime.optional().openapi({ description: "Deliveries created before this time; default now" }),
  })
  .superRefine((range, ctx) => {
    const until = range.until === undefined ? Date.now() : Date.parse(range.until);
    if (Date.parse(range.since) >= until) {
      const message = range.until === undefined ? "since must be in the past (until defaults to now)" : "since must be before until";
      ctx.addIssue({ code: "custom", path: ["since"], message });
    }
  })
  .openapi("RecoverRequest");

const RecoverResult = z
  .object({
    deliveries_queued: z
      .number()
      .int()
      .openapi({ description: `Failed deliveries re-queued by this call, at most ${RECOVER_LIMIT}` }),
    has_more: z.boolean().openapi({ description: "The limit was reached: call again with the same range to continue" }),
  })
  .openapi("RecoverResult");

const DeliveryParams = IdParams.extend({ delivery_id: z.string().openapi({ param: { name: "delivery_id", in: "path" } }) });

const tags = ["Deliveries"];
const security = [{ apiKey: [] }];

export const list = createRoute({
  operationId: "listDeliveries",
  method: "get",
  path: "/api/v1/webhooks/{id}/deliveries",
  tags,
  security,
  summary: "Delivery log of a webhook, newest first",
  request: {
    params: IdParams,
    query: z
      .object({
        ...cursorPageQuery(50),
        status: z.enum(DELIVERY_STATUSES).optional(),
        event: z.string().max(100).optional().openapi({ description: "Event type, e.g. query.created" }),
        ...timeRangeQuery,
      })
      .superRefine(oneCursor),
  },
  responses: {
    200: { ...jsonResponse(z.array(Delivery), "A page of deliveries", [deliveryExample]), headers: cursorListHeaders },
    ...authErrors,
    ...notFoundError,
    422: errorResponse("validation_failed: a query parameter is invalid (named in `fields`), or a JSON body was sent that is not acceptable", [
      "validation_failed",
      'status: Invalid option: expected one of "pending"|"success"|"failed"|"cancelled"',
      [{ field: "status", message: 'Invalid option: expected one of "pending"|"success"|"failed"|"cancelled"' }],
    ]),
  },
});

export const get = createRoute({
  operationId: "getDelivery",
  method: "get",
  path: "/api/v1/webhooks/{id}/deliveries/{delivery_id}",
  tags,
  security,
  summary: "One delivery with every attempt",
  request: { params: DeliveryParams },
  responses: {
    200: jsonResponse(DeliveryDetail, "The delivery", { ...deliveryExample, attempt_log: [attemptExample] }),
    ...authErrors,
    ...notFoundOf("Webhook", "Delivery"),
  },
});

export const test = createRoute({
  operationId: "testWebhook",
  method: "post",
  path: "/api/v1/webhooks/{id}/test",
  tags,
  security,
  summary: "Send one signed webhook.test event now (no retries)",
  request: { params: IdParams },
  responses: {
    200: jsonResponse(TestResult, "The attempt's result", {
      success: true,
      status_code: 200,
      response_time_ms: 42,
      error: null,
      delivery_id: EXAMPLE_IDS.DELIVERY_ID,
    }),
    ...authErrors,
    ...notFoundError,
  },
});

export const retry = createRoute({
  operationId: "retryDelivery",
  method: "post",
  path: "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
  tags,
  security,
  summary: "Start a new attempt cycle, now, for a failed or cancelled delivery",
  description:
    "The delivery goes back to pending with the same id (the webhook-id header), its attempt log kept and its attempt numbers " +
    "counting on; the webhook's retry schedule starts again. 409 if the delivery is pending or succeeded, or the webhook is inactive.",
  request: { params: DeliveryParams },
  responses: {
    202: jsonResponse(Delivery, "The delivery, pending again", {
      ...deliveryExample,
      status: "pending",
      attempts: 3,
      last_status_code: 503,
      last_error: "HTTP 503",
      last_response_excerpt: "Service Unavailable",
      next_retry_at: "2024-11-24T13:00:00Z",
      finished_at: null,
    }),
    ...authErrors,
    ...notFoundOf("Webhook", "Delivery"),
    ...conflictOf("Only a failed or cancelled delivery can be retried; this one is success"),
  },
});

export const recover = createRoute({
  operationId: "recoverDeliveries",
  method: "post",
  path: "/api/v1/webhooks/{id}/recover",
  tags,
  security,
  summary: "Re-queue the failed deliveries created in a time range",
  description:
    `Each failed delivery of the webhook created in [since, until) starts a new attempt cycle, oldest first, at most ${RECOVER_LIMIT} ` +
    "per call; has_more says the limit was reached and the same call again continues. 409 if the webhook is inactive.",
  request: { params: IdParams, body: jsonBody(RecoverRequest, { since: "2024-11-24T00:00:00Z", until: "2024-11-25T00:00:00Z" }) },
  responses: {
    202: jsonResponse(RecoverResult, "How many were re-queued", { deliveries_queued: 12, has_more: false }),
    ...authErrors,
    ...notFoundError,
    ...conflictOf("The webhook is inactive; re-enable it (PUT is_active: true) before redelivering"),
    ...bodyErrors,
  },
});
