import { createRoute, z } from "@hono/zod-openapi";
import { EVENT_CATALOG, EVENT_TYPES, type EventType } from "../../events/catalog";
import { MAX_EVENTS_PER_BATCH } from "../../services/event-batch";
import { MAX_REDELIVERIES_PER_EVENT } from "../../services/events";
import {
  authErrors,
  bodyErrors,
  cursorListHeaders,
  cursorPageQuery,
  errorResponse,
  IdParams,
  jsonBody,
  jsonResponse,
  notFoundOf,
  oneCursor,
  quotaError,
  timeRangeQuery,
} from "../common.schemas";
import { DeliveryDetail } from "../deliveries/deliveries.routes";
import { attemptExample, deliveryExample, EXAMPLE_IDS, EXAMPLE_TIMES, EXAMPLE_WEBHOOK_ID, publishedExample } from "../examples";

const eventBody = (type: EventType) => z.object({ event: z.literal(type), data: EVENT_CATALOG[type].data.openapi({ example: EVENT_CATALOG[type].example }) });

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

export const publish = createRoute({
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
      [
        "validation_failed",
        "data.priority: Invalid input: expected number, received string",
        [{ field: "data.priority", message: "Invalid input: expected number, received string" }],
      ],
      ["idempotency_key_reused", 'Idempotency-Key "order-42" was used within 24 hours for another request (event type or data); use a new key for a new event'],
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
  deliveries: z
    .array(DeliveryDetail)
    .openapi({ description: "One per webhook per send (the publish, then each redelivery), oldest first, each with its attempts" }),
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

export const list = createRoute({
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
    422: errorResponse("validation_failed: a query parameter is invalid (named in `fields`), or a JSON body was sent that is not acceptable", [
      ...QUERY_PARAMETER_ERROR,
    ]),
  },
});

export const get = createRoute({
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

export const redeliver = createRoute({
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

/* POST /api/v1/events/batch */

const IdempotencyKey = z.string().min(1).max(255).optional().openapi({
  description:
    "This event's own Idempotency-Key: within 24 h the same key with the same event type and data returns the first result (replayed: true); with another request the whole batch is refused (422 idempotency_key_reused). Keys of one batch must differ.",
});

const batchEvent = (type: EventType) =>
  z.object({ event: z.literal(type), data: EVENT_CATALOG[type].data.openapi({ example: EVENT_CATALOG[type].example }), idempotency_key: IdempotencyKey });

const [firstBatchEvent, ...restBatchEvents] = EVENT_TYPES.map(batchEvent);
const BatchEvent = z.discriminatedUnion("event", [firstBatchEvent, ...restBatchEvents]).openapi("BatchEvent");

export const PublishEventBatch = z.object({ events: z.array(BatchEvent).min(1).max(MAX_EVENTS_PER_BATCH) }).openapi("PublishEventBatch");

const PublishedBatch = z
  .object({ events: z.array(Published).openapi({ description: "One result per event, in the order of the request" }) })
  .openapi("PublishedEventBatch");

export const publishBatch = createRoute({
  operationId: "publishEventBatch",
  method: "post",
  path: "/api/v1/events/batch",
  tags: ["Events"],
  security: [{ apiKey: [] }],
  summary: "Publish up to 100 events in one request, all or nothing",
  description:
    "Each event goes to every subscribed active webhook of the tenant, as POST /api/v1/events does. The new events and all their " +
    "deliveries are stored in one atomic write: if any event is refused (fan-out quota, an idempotency key used for another request, " +
    "invalid data), nothing is stored. One request counts once against the API rate limit.",
  request: {
    body: jsonBody(PublishEventBatch, { events: [{ event: "query.created", data: EVENT_CATALOG["query.created"].example, idempotency_key: "order-42" }] }),
  },
  responses: {
    202: jsonResponse(PublishedBatch, "Stored and scheduled (or replayed, per event)", { events: [publishedExample] }),
    ...authErrors,
    ...bodyErrors,
    ...quotaError(
      "an event of the batch would go to more than MAX_FANOUT_PER_EVENT subscribed active webhooks; nothing is stored",
      "Fan-out quota exceeded: an event may go to at most 1000 subscribed active webhooks (MAX_FANOUT_PER_EVENT)",
    ),
    422: errorResponse(
      "validation_failed: invalid fields, named in `fields` (events: 1 to 100; a repeated idempotency_key; a number that is not finite); " +
        "idempotency_key_reused: an event's idempotency_key was used within 24 h with another event type or data; nothing is stored",
      [
        "validation_failed",
        "events: Too big: expected array to have <=100 items",
        [{ field: "events", message: "Too big: expected array to have <=100 items" }],
      ],
      ["idempotency_key_reused", 'Idempotency-Key "order-42" was used within 24 hours for another request (event type or data); use a new key for a new event'],
    ),
  },
});
