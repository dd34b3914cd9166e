import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { EVENT_CATALOG, EVENT_TYPES, type EventType } from "../../events/catalog";
import { exactBody } from "../../middleware/exact-json-body";
import { MAX_EVENTS_PER_BATCH, publishEventBatch } from "../../services/event-batch";
import { authErrors, bodyErrors, errorResponse, jsonBody, jsonResponse, quotaError } from "../common.schemas";
import { Published } from "./events.index";
import { publishedExample } from "../examples";

const IdempotencyKey = z.string().min(1).max(255).optional().openapi({
  description:
    "This event's own Idempotency-Key: within 24 h the same key with the same event type and data returns the first result (replayed: true); with another request the whole batch is refused (422 idempotency_key_reused). Keys of one batch must differ.",
});

const batchEvent = (type: EventType) =>
  z.object({ event: z.literal(type), data: EVENT_CATALOG[type].data.openapi({ example: EVENT_CATALOG[type].example }), idempotency_key: IdempotencyKey });

const [first, ...rest] = EVENT_TYPES.map(batchEvent);
const BatchEvent = z.discriminatedUnion("event", [first, ...rest]).openapi("BatchEvent");

export const PublishEventBatch = z
  .object({ events: z.array(BatchEvent).min(1).max(MAX_EVENTS_PER_BATCH) })
  .openapi("PublishEventBatch");

const PublishedBatch = z
  .object({ events: z.array(Published).openapi({ description: "One result per event, in the order of the request" }) })
  .openapi("PublishedEventBatch");

const publishBatch = createRoute({
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
  request: { body: jsonBody(PublishEventBatch, { events: [{ event: "query.created", data: EVENT_CATALOG["query.created"].example, idempotency_key: "order-42" }] }) },
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
      ["validation_failed", "events: Too big: expected array to have <=100 items", [{ field: "events", message: "Too big: expected array to have <=100 items" }]],
      [
        "idempotency_key_reused",
        'Idempotency-Key "order-42" was used within 24 hours for another request (event type or data); use a new key for a new event',
      ],
    ),
  },
});

export const eventBatchRoutes = new OpenAPIHono<AppEnv>().openapi(publishBatch, async (c) => {
  c.req.valid("json");
  // Stored and delivered: each event's data as sent (big integers digit for digit), whose shape the validator checked.
  const { events } = exactBody<{ events: Array<{ event: EventType; data: Record<string, unknown>; idempotency_key?: string }> }>(c);
  const items = events.map((e) => ({ type: e.event, data: e.data, idempotencyKey: e.idempotency_key }));
  return c.json({ events: await publishEventBatch(c.var.db, c.env, c.var.tenantId, items) }, 202);
});
