import { z } from "@hono/zod-openapi";
import { LIMITS } from "../../env";
import { EVENT_TYPES } from "../../events/catalog";
import { RETRY_SCHEDULE_LIMITS, retryScheduleProblem } from "../../lib/retry-schedule";
import { DEFAULT_ROTATION_OVERLAP_SECONDS, MAX_ROTATION_OVERLAP_SECONDS } from "../../services/webhooks";
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

const SCHEDULE_EXAMPLE = [5, 300, 1800, 7200, 18000, 36000, 36000];

/**
 * Checked as a whole by retryScheduleProblem, so that every problem (an entry too, or the
 * total) is reported on the field itself with one message; documented as the array it is.
 */
const retrySchedule = z
  .custom<number[] | null>()
  .superRefine((waits, ctx) => {
    const problem = waits === null ? null : retryScheduleProblem(waits);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({
    type: ["array", "null"],
    items: { type: "integer", minimum: RETRY_SCHEDULE_LIMITS.minWaitSeconds, maximum: RETRY_SCHEDULE_LIMITS.maxWaitSeconds },
    maxItems: RETRY_SCHEDULE_LIMITS.maxWaits,
    description:
      "Waits in seconds between attempts (n waits, n + 1 attempts): up to 20, each 1 to 86,400, at most 604,800 (7 days) in all. " +
      "null or omitted: the deployment's default schedule.",
    example: SCHEDULE_EXAMPLE,
  });

const rateLimit = z
  .number()
  .int("rate_limit_per_second must be a whole number")
  .min(1, "rate_limit_per_second must be at least 1")
  .max(1000, "rate_limit_per_second must be at most 1000")
  .nullable()
  .openapi({ description: "At most this many attempts per second to this webhook; null: no limit", example: 10 });

const tuning = { retry_schedule_seconds: retrySchedule.optional(), rate_limit_per_second: rateLimit.optional() };

export const CreateWebhook = z
  .object({ url, events, description: description.optional(), is_active: z.boolean().optional(), ...tuning })
  .openapi("CreateWebhook");

export const UpdateWebhook = z
  .object({
    url: url.optional(),
    events: events.optional(),
    description: description.optional(),
    is_active: z.boolean().optional().openapi({ description: "true also re-enables a webhook the platform disabled (clears disabled_at)" }),
    ...tuning,
  })
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
    retry_schedule_seconds: z
      .array(z.number().int())
      .openapi({ description: "The schedule in effect: the webhook's own, or the default", example: SCHEDULE_EXAMPLE }),
    rate_limit_per_second: z.number().int().nullable(),
    consecutive_failures: z.number().int().openapi({ description: "Failed deliveries in a row since the last success" }),
    last_delivery_at: z.string().nullable().openapi({ description: "Last attempt to this endpoint", example: "2024-11-24T12:00:00Z" }),
    last_success_at: z.string().nullable().openapi({ example: "2024-11-24T12:00:00Z" }),
    disabled_at: z.string().nullable().openapi({ description: "When the platform disabled the webhook; null unless disabled by the platform" }),
    disabled_reason: z.string().nullable(),
    created_at: z.string().openapi({ example: "2024-11-24T12:00:00Z" }),
    updated_at: z.string().openapi({ example: "2024-11-24T12:00:00Z" }),
  })
  .openapi("Webhook");

export const WebhookWithSecret = Webhook.extend({
  secret_key: z.string().openapi({ example: "wsk_live_abc123def456..." }),
}).openapi("WebhookWithSecret");

/** The one definition of a webhook's shape: the services build it, the tests read it. */
export type WebhookView = z.infer<typeof Webhook>;
export type WebhookWithSecretView = z.infer<typeof WebhookWithSecret>;

export const RotateSecret = z
  .object({
    overlap_seconds: z
      .number("overlap_seconds must be a number")
      .int("overlap_seconds must be a whole number")
      .min(0, "overlap_seconds must be at least 0")
      .max(MAX_ROTATION_OVERLAP_SECONDS, `overlap_seconds must be at most ${MAX_ROTATION_OVERLAP_SECONDS} (7 days)`)
      .optional()
      .openapi({
        description:
          `Seconds the replaced secret keeps signing deliveries, 0 to ${MAX_ROTATION_OVERLAP_SECONDS}; default ${DEFAULT_ROTATION_OVERLAP_SECONDS} (1 day). ` +
          "0 ends it at once.",
        example: 3600,
      }),
  })
  .openapi("RotateSecret");

export const RotatedSecret = Webhook.extend({
  secret_key: z.string().openapi({ description: "The new secret; shown only here", example: "wsk_live_abc123def456..." }),
  previous_secret_expires_at: z.string().nullable().openapi({
    description: "Until then deliveries are signed with the previous secret too (null: overlap_seconds was 0)",
    example: "2024-11-25T12:00:00Z",
  }),
}).openapi("RotatedSecret");
export type RotatedSecretView = z.infer<typeof RotatedSecret>;

/** A bare array, as the original platform answered; the total is in X-Total-Count. */
export const WebhookList = z.array(Webhook).openapi("WebhookList");

export const ListWebhooksQuery = z.object({ ...pageQuery(100), is_active: booleanQuery });
