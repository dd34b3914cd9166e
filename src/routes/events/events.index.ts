import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { EVENT_CATALOG, EVENT_TYPES, type EventType } from "../../events/catalog";
import { DeliveryDetail } from "../deliveries/deliveries.index";
import { getEventDetail, listEvents } from "../../services/event-log";
import { MAX_REDELIVERIES_PER_EVENT, publishEvent, redeliverEvent } from "../../services/events";
import { exactBody } from "../../middleware/exact-json-body";
import {
  authErrors,
  bodyErrors,
  cursorListHeaders,
  cursorPageQuery,
  errorResponse,
  IdParams,
  jsonBody,
  jsonResponse,
  notFoundError,
  notFoundOf,
  oneCursor,
  pageHeaders,
  parseTimeRange,
  quotaError,
  timeRangeQuery,
} from "../common.schemas";
import { attemptExample, deliveryExample, EXAMPLE_IDS, EXAMPLE_TIMES, EXAMPLE_WEBHOOK_ID, publishedExample } from "../examples";

const eventBody = (type: EventType) =>
  z.object({ event: z.literal(type), data: EVENT_CATALOG[type].data.openapi({ example: EVENT_CATALOG[type].example }) });

const [first, ...rest] = EVENT_TYPES.map(eventBody);
/** One schema per event type, chosen by `event`, so `data` is checked against that type's shape. */
export const PublishEvent = z.discriminatedUnion("event", [first, ...rest]).openapi("PublishEvent");

export const Published = z
  .object({
    event_id: z.string(),
    event: z.string(),
    created_at: z.string(),
    deliveries_scheduled: z.number().int(),
    enqueued: z.boolean().openapi({ description: "false if the queue refused; the outbox sweep retries within minutes" }),
    replayed: z.boolean().openapi({ description: "true when an earlier publish with the same Idempotency-Key is returned" }),
  })
  .openapi("PublishedEvent");

const publish = createRoute({
  operationId: "publishEvent",
  method: "post",
  path: "/api/v1/events",
  tags: ["Events"],
  security: [{ apiKey: [] }],
  summary: "Publish an event to every subscribed active webhook of the tenant",
  request: {
    headers: z.object({
      "idempotency-key": z.string().min(1).max(255).optional().openapi({
        description:
          "Within 24 h, a publish with the same key and the same request (event type and data) returns the first result; with another request it is refused (422 idempotency_key_reused). After 24 h the key may name a new event.",
      }),
    }),
    body: jsonBody(PublishEvent, { event: "query.created", data: EVENT_CATALOG["query.created"].example }),
  },
  responses: {
    202: jsonResponse(Published, "Stored and scheduled", publishedExample),
    ...authErrors,
    ...bodyErrors,
    ...quotaError(
      "the event would go to more than MAX_FANOUT_PER_EVENT subscribed active webhooks; nothing is stored",
      "Fan-out quota exceeded: an event may go to at most 1000 subscribed active webhooks (MAX_FANOUT_PER_EVENT)",
    ),
    422: errorResponse(
      "validation_failed: invalid fields, named in `fields` (a number that is not finite, e.g. 1e400, included); " +
        "idempotency_key_reused: the Idempotency-Key was used within 24 h with another event type or data",
      ["validation_failed", "data.priority: Invalid input: expected number, received string", [{ field: "data.priority", message: "Invalid input: expected number, received string" }]],
      [
        "idempotency_key_reused",
        'Idempotency-Key "order-42" was used within 24 hours for another request (event type or data); use a new key for a new event',
      ],
    ),
  },
});

const StoredEvent = z
  .object({
    id: z.string().openapi({ example: "01937a5e-8f3c-7a00-9d2e-3b1f0c4a5e6d" }),
    event: z.string().openapi({ example: "query.created" }),
    data: z.record(z.string(), z.unknown()),
    query_id: z.string().nullable().openapi({ description: "The support query that produced the event, if any" }),
    deliveries_scheduled: z.number().int().openapi({ description: "Deliveries scheduled when it was published" }),
    created_at: z.string().openapi({ example: "2024-11-24T12:00:00Z" }),
    redelivered_at: z.array(z.string()).openapi({ description: "When it was sent again (POST /events/{id}/redeliver), oldest first" }),
  })
  .openapi("Event");

const EventDetail = StoredEvent.extend({
  deliveries: z.array(DeliveryDetail).openapi({ description: "One per webhook per send (the publish, then each redelivery), oldest first, each with its attempts" }),
}).openapi("EventDetail");

const RedeliverRequest = z
  .object({
    webhook_ids: z
      .array(z.string().max(100))
      .min(1, "webhook_ids must name at least one webhook (omit it for every subscribed active webhook)")
      .max(1000, "webhook_ids may name at most 1000 webhooks")
      .refine((ids) => new Set(ids).size === ids.length, "webhook ids must not repeat")
      .optional()
      .openapi({ description: "Default: every active webhook subscribed to the event's type now", example: ["550e8400-e29b-41d4-a716-446655440000"] }),
  })
  .openapi("RedeliverRequest");

const Redelivered = z
  .object({
    event_id: z.string(),
    event: z.string(),
    deliveries_scheduled: z.number().int(),
    deliveries: z.array(z.object({ id: z.string().openapi({ description: "The new delivery's id (its webhook-id header)" }), webhook_id: z.string() })),
    enqueued: z.boolean().openapi({ description: "false if the queue refused; the outbox sweep retries within minutes" }),
  })
  .openapi("RedeliveredEvent");

const security = [{ apiKey: [] }];
const QUERY_PARAMETER_ERROR = [
  "validation_failed",
  "since: must be an ISO 8601 time, e.g. 2024-11-24T12:00:00Z",
  [{ field: "since", message: "must be an ISO 8601 time, e.g. 2024-11-24T12:00:00Z" }],
] as const satisfies [string, string, { field: string; message: string }[]];
const storedEventExample = {
  id: EXAMPLE_IDS.EVENT_ID,
  event: "query.created",
  data: EVENT_CATALOG["query.created"].example,
  query_id: "conv_abc123",
  deliveries_scheduled: 1,
  created_at: EXAMPLE_TIMES.T0,
  redelivered_at: [] as string[],
};

const list = createRoute({
  operationId: "listEvents",
  method: "get",
  path: "/api/v1/events",
  tags: ["Events"],
  security,
  summary: "The tenant's events, newest first",
  description:
    "Paged with skip/limit (X-Total-Count: every matching event) or with the before/after cursors of the Link header, " +
    "which cost the same D1 rows at any depth and send no X-Total-Count.",
  request: {
    query: z
      .object({ ...cursorPageQuery(50), event: z.string().max(100).optional().openapi({ description: "Event type, e.g. query.created" }), ...timeRangeQuery })
      .superRefine(oneCursor),
  },
  responses: {
    200: { ...jsonResponse(z.array(StoredEvent), "A page of events", [storedEventExample]), headers: cursorListHeaders },
    ...authErrors,
    422: errorResponse("validation_failed: a query parameter is invalid (named in `fields`), or a JSON body was sent that is not acceptable", [...QUERY_PARAMETER_ERROR]),
  },
});

const get = createRoute({
  operationId: "getEvent",
  method: "get",
  path: "/api/v1/events/{id}",
  tags: ["Events"],
  security,
  summary: "One event with its data and, per webhook, its deliveries' status and attempts",
  request: { params: IdParams },
  responses: {
    200: jsonResponse(EventDetail, "The event", { ...storedEventExample, deliveries: [{ ...deliveryExample, attempt_log: [attemptExample] }] }),
    ...authErrors,
    ...notFoundOf("Event"),
  },
});

const redeliver = createRoute({
  operationId: "redeliverEvent",
  method: "post",
  path: "/api/v1/events/{id}/redeliver",
  tags: ["Events"],
  security,
  summary: "Send the event again, as new deliveries",
  description:
    "New deliveries (new ids, a fresh retry schedule) to the named webhooks, or to every active webhook subscribed to the event's type now. " +
    `An event can be redelivered ${MAX_REDELIVERIES_PER_EVENT} times.`,
  request: { params: IdParams, body: { ...jsonBody(RedeliverRequest, { webhook_ids: [EXAMPLE_WEBHOOK_ID] }), required: false } },
  responses: {
    202: jsonResponse(Redelivered, "Stored and scheduled", {
      event_id: EXAMPLE_IDS.EVENT_ID,
      event: "query.created",
      deliveries_scheduled: 1,
      deliveries: [{ id: "01a22898-5b80-7b5d-8be9-1222cca7f6bd", webhook_id: EXAMPLE_WEBHOOK_ID }],
      enqueued: true,
    }),
    ...authErrors,
    ...bodyErrors,
    ...notFoundOf("Event"),
    ...quotaError(
      "the event would go to more than MAX_FANOUT_PER_EVENT webhooks; nothing is scheduled",
      "Fan-out quota exceeded: an event may go to at most 1000 subscribed active webhooks (MAX_FANOUT_PER_EVENT)",
    ),
    409: errorResponse(`conflict: the event was redelivered ${MAX_REDELIVERIES_PER_EVENT} times already`, [
      "conflict",
      `The event was redelivered ${MAX_REDELIVERIES_PER_EVENT} times already (the most an event records); publish it again as a new event`,
    ]),
    422: errorResponse(
      "validation_failed: invalid fields, named in `fields`; a named webhook that is unknown (or another tenant's, or deleted), inactive, " +
        "or not subscribed to the event's type is named as webhook_ids[i]",
      ["validation_failed", "webhook_ids: webhook ids must not repeat", [{ field: "webhook_ids", message: "webhook ids must not repeat" }]],
    ),
  },
});

export const eventRoutes = new OpenAPIHono<AppEnv>()
  .openapi(list, async (c) => {
    const query = c.req.valid("query");
    const page = await listEvents(c.var.db, c.var.tenantId, { ...query, ...parseTimeRange(query) });
    return c.json(page.items, 200, pageHeaders(c.req.url, page));
  })
  .openapi(get, async (c) => c.json(await getEventDetail(c.var.db, c.var.tenantId, c.req.valid("param").id), 200))
  .openapi(redeliver, async (c) => {
    // The body is optional: without one, every subscribed active webhook.
    const webhookIds = (c.req.valid("json") as { webhook_ids?: string[] } | undefined)?.webhook_ids;
    return c.json(await redeliverEvent(c.var.db, c.env, c.var.tenantId, c.req.valid("param").id, webhookIds), 202);
  })
  .openapi(publish, async (c) => {
  const { event } = c.req.valid("json");
  // Stored and delivered: the body as sent (big integers digit for digit), whose shape the validator checked.
  const { data } = exactBody<{ data: Record<string, unknown> }>(c);
  const idempotencyKey = c.req.valid("header")["idempotency-key"];
  return c.json(await publishEvent(c.var.db, c.env, c.var.tenantId, event, data, { idempotencyKey }), 202);
});
