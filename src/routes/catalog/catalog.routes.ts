import { createRoute, z } from "@hono/zod-openapi";
import { EVENT_CATALOG, EVENT_TYPES } from "../../events/catalog";
import { authErrors, jsonResponse, listHeaders } from "../common.schemas";

const EventType = z
  .object({ type: z.string(), description: z.string(), schema: z.record(z.string(), z.unknown()), example: z.record(z.string(), z.unknown()) })
  .openapi("EventType");

/** Rendered from the same zod schemas that validate POST /api/v1/events. */
export const eventTypes = EVENT_TYPES.map((type) => ({
  type,
  description: EVENT_CATALOG[type].description,
  schema: z.toJSONSchema(EVENT_CATALOG[type].data) as Record<string, unknown>,
  example: EVENT_CATALOG[type].example as Record<string, unknown>,
}));

export const listEventTypes = createRoute({
  operationId: "listEventTypes",
  method: "get",
  path: "/api/v1/event-types",
  tags: ["Events"],
  security: [{ apiKey: [] }],
  summary: "Each event type with a JSON Schema of its data and an example",
  responses: {
    200: { ...jsonResponse(z.array(EventType), "The event catalog (all of it: no paging)", eventTypes.slice(0, 1)), headers: listHeaders },
    ...authErrors,
  },
});
