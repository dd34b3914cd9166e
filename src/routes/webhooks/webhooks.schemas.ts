import { z } from "@hono/zod-openapi";
import { LIMITS } from "../../env";
import { EVENT_TYPES } from "../../events/catalog";
import { booleanQuery, pageQuery } from "../common.schemas";

const url = z
  .string()
  .trim()
  .min(1, "url is required")
  .max(LIMITS.maxUrlLength, `url must be at most ${LIMITS.maxUrlLength} characters`)
  .openapi({ example: "https://your-domain.com/webhook/smartsupport" });

const events = z
  .array(z.enum(EVENT_TYPES), "events must be an array of event types")
  .min(1, "at least one event type is required")
  .refine((list) => new Set(list).size === list.length, "event types must not repeat")
  .openapi({ example: ["query.created", "query.escalated"] });

const description = z.string().max(500).nullable();

export const CreateWebhook = z
  .object({ url, events, description: description.optional(), is_active: z.boolean().optional() })
  .openapi("CreateWebhook");

export const UpdateWebhook = z
  .object({ url: url.optional(), events: events.optional(), description: description.optional(), is_active: z.boolean().optional() })
  .openapi("UpdateWebhook");

export const Webhook = z
  .object({
    id: z.string().openapi({ example: "550e8400-e29b-41d4-a716-446655440000" }),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    is_active: z.boolean(),
    delivery_count: z.number().int().openapi({ description: "Finished deliveries: succeeded or failed for good" }),
    failure_count: z.number().int().openapi({ description: "Deliveries that failed for good" }),
    created_at: z.string().openapi({ example: "2024-11-24T12:00:00Z" }),
    updated_at: z.string().openapi({ example: "2024-11-24T12:00:00Z" }),
  })
  .openapi("Webhook");

export const WebhookWithSecret = Webhook.extend({
  secret_key: z.string().openapi({ example: "wsk_live_abc123def456..." }),
}).openapi("WebhookWithSecret");

/** A bare array, as the original platform answered; the total is in X-Total-Count. */
export const WebhookList = z.array(Webhook).openapi("WebhookList");

export const ListWebhooksQuery = z.object({ ...pageQuery(100), is_active: booleanQuery });
