import type { AppRouteHandler } from "../../app-env";
import type { EventType } from "../../events/catalog";
import { exactBody } from "../../middleware/exact-json-body";
import { publishEventBatch } from "../../services/event-batch";
import { getEventDetail, listEvents } from "../../services/event-log";
import { publishEvent, redeliverEvent } from "../../services/events";
import { pageHeaders, parseTimeRange } from "../common.schemas";
import type * as routes from "./events.routes";

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const query = c.req.valid("query");
  const page = await listEvents(c.var.ctx, { ...query, ...parseTimeRange(query) });
  return c.json(page.items, 200, pageHeaders(c.req.url, page));
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => c.json(await getEventDetail(c.var.ctx, c.req.valid("param").id), 200);

export const redeliver: AppRouteHandler<typeof routes.redeliver> = async (c) => {
  // The body is optional: without one, every subscribed active webhook.
  const webhookIds = (c.req.valid("json") as { webhook_ids?: string[] } | undefined)?.webhook_ids;
  return c.json(await redeliverEvent(c.var.ctx, c.req.valid("param").id, webhookIds), 202);
};

export const publish: AppRouteHandler<typeof routes.publish> = async (c) => {
  const { event } = c.req.valid("json");
  // Stored and delivered: the body as sent (big integers digit for digit), whose shape the validator checked.
  const { data } = exactBody<{ data: Record<string, unknown> }>(c);
  const idempotencyKey = c.req.valid("header")["idempotency-key"];
  return c.json(await publishEvent(c.var.ctx, event, data, { idempotencyKey }), 202);
};

export const publishBatch: AppRouteHandler<typeof routes.publishBatch> = async (c) => {
  c.req.valid("json");
  // Stored and delivered: each event's data as sent (big integers digit for digit), whose shape the validator checked.
  const { events } = exactBody<{ events: Array<{ event: EventType; data: Record<string, unknown>; idempotency_key?: string }> }>(c);
  const items = events.map((e) => ({ type: e.event, data: e.data, idempotencyKey: e.idempotency_key }));
  return c.json({ events: await publishEventBatch(c.var.ctx, items) }, 202);
};
