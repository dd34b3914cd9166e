import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../app-env";
import { EVENT_CATALOG, EVENT_TYPES, type EventType } from "../../events/catalog";
import { publishEvent } from "../../services/events";
import { exactBody } from "../../middleware/exact-json-body";
import { authErrors, bodyErrors, errorResponse, jsonBody, jsonResponse, quotaError } from "../common.schemas";

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
    body: jsonBody(PublishEvent),
  },
  responses: {
    202: jsonResponse(Published, "Stored and scheduled"),
    ...authErrors,
    ...bodyErrors,
    ...quotaError("the event would go to more than MAX_FANOUT_PER_EVENT subscribed active webhooks; nothing is stored"),
    422: errorResponse(
      "validation_failed: invalid fields, named in `fields` (a number that is not finite, e.g. 1e400, included); " +
        "idempotency_key_reused: the Idempotency-Key was used within 24 h with another event type or data",
    ),
  },
});

export const eventRoutes = new OpenAPIHono<AppEnv>().openapi(publish, async (c) => {
  const { event } = c.req.valid("json");
  // Stored and delivered: the body as sent (big integers digit for digit), whose shape the validator checked.
  const { data } = exactBody<{ data: Record<string, unknown> }>(c);
  const idempotencyKey = c.req.valid("header")["idempotency-key"];
  return c.json(await publishEvent(c.var.db, c.env, c.var.tenantId, event, data, { idempotencyKey }), 202);
});
