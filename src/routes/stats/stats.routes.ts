import { createRoute, z } from "@hono/zod-openapi";
import { HOUR_MS, MAX_STATS_HOURS } from "../../services/stats";
import { authErrors, errorResponse, IdParams, jsonResponse, notFoundError } from "../common.schemas";

const Percentiles = {
  p50_response_ms: z.number().nullable().openapi({ description: "Median response time of the attempts (null: none), from √2-wide histogram buckets (±19 %)" }),
  p95_response_ms: z.number().nullable().openapi({ description: "95th percentile response time of the attempts (null: none)" }),
};

const HourlyFigures = z.object({
  attempts: z.number().int().openapi({ description: "HTTP attempts made (first attempts and retries)" }),
  succeeded: z.number().int().openapi({ description: "Deliveries whose attempt in this period succeeded" }),
  failed: z.number().int().openapi({ description: "Deliveries that failed for good in this period (retries used up, or a 4xx)" }),
  ...Percentiles,
});

const Stats = z
  .object({
    queries: z.object({
      total: z.number().int(),
      by_status: z.record(z.string(), z.number().int()),
      by_category: z.record(z.string(), z.number().int()),
      escalation_rate: z.number().nullable(),
      mean_resolution_time_seconds: z.number().nullable(),
    }),
    feedback: z.object({ count: z.number().int(), mean_rating: z.number().nullable() }),
    deliveries: z.object({
      by_status: z.record(z.string(), z.number().int()).openapi({
        description:
          "success and failed: every delivery ever finished that way, from the webhooks' counters (they outlive RETENTION_SECONDS); " +
          "pending and cancelled: among the deliveries created in the last 9 days",
        example: { pending: 2, cancelled: 0, success: 1520, failed: 12 },
      }),
      last_24h: HourlyFigures.extend({
        since: z.string().openapi({ description: "Start of the first of the 24 hours (the current one is the last)", example: "2024-11-24T12:00:00Z" }),
      }),
    }),
  })
  .openapi("Stats");

export const stats = createRoute({
  method: "get",
  path: "/api/v1/stats",
  operationId: "getStats",
  tags: ["Support queries"],
  security: [{ apiKey: [] }],
  summary: "Counts by status and category, escalation rate, mean resolution time, mean rating, deliveries by status and in the last 24 hours",
  responses: {
    200: jsonResponse(Stats, "The tenant's figures", {
      queries: {
        total: 3,
        by_status: { open: 1, escalated: 1, resolved: 1 },
        by_category: { Technical: 2, Billing: 1 },
        escalation_rate: 0.3333,
        mean_resolution_time_seconds: 330.5,
      },
      feedback: { count: 1, mean_rating: 5 },
      deliveries: {
        by_status: { pending: 2, cancelled: 0, success: 1520, failed: 12 },
        last_24h: { since: "2024-11-23T13:00:00Z", attempts: 130, succeeded: 120, failed: 2, p50_response_ms: 45, p95_response_ms: 181 },
      },
    }),
    ...authErrors,
  },
});

const isoTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time, e.g. 2024-11-24T12:00:00Z" }).openapi({ example: "2024-11-24T12:00:00Z" });

const StatsRange = z
  .object({
    since: isoTime.optional().openapi({ description: "First hour (rounded down to its start); default: the 24 hours up to until, its own hour the last" }),
    until: isoTime.optional().openapi({ description: "Hours starting before this time; default now" }),
  })
  .transform((q, ctx) => {
    const until = q.until === undefined ? Date.now() : Date.parse(q.until);
    const since = q.since === undefined ? Math.ceil(until / HOUR_MS) * HOUR_MS - 24 * HOUR_MS : Date.parse(q.since);
    if (since >= until) ctx.addIssue({ code: "custom", path: ["since"], message: "since must be before until" });
    else if (until - Math.floor(since / HOUR_MS) * HOUR_MS > MAX_STATS_HOURS * HOUR_MS) {
      ctx.addIssue({ code: "custom", path: ["since"], message: `the range may span at most ${MAX_STATS_HOURS} hours (31 days)` });
    }
    return { since, until };
  });

const WebhookStats = z
  .object({
    webhook_id: z.string(),
    since: z.string().openapi({ example: "2024-11-24T12:00:00Z" }),
    until: z.string().openapi({ example: "2024-11-25T12:00:00Z" }),
    totals: HourlyFigures,
    hours: z.array(HourlyFigures.extend({ hour: z.string().openapi({ description: "Start of the hour", example: "2024-11-24T12:00:00Z" }) })).openapi({
      description: "Every hour of the range, oldest first; hours without attempts are zeros",
    }),
  })
  .openapi("WebhookStats");

export const getWebhookStats = createRoute({
  method: "get",
  path: "/api/v1/webhooks/{id}/stats",
  operationId: "getWebhookStats",
  tags: ["Webhooks"],
  security: [{ apiKey: [] }],
  summary: "Hourly attempts, outcomes and response times of one webhook (default: the last 24 hours; at most 31 days)",
  description:
    "Read from the hourly statistics, which outlive the delivery log (RETENTION_SECONDS). An attempt counts in the hour it was made; " +
    "figures reach the hourly table after their hour (the cron's fold, about hourly) and are included before that too.",
  request: { params: IdParams, query: StatsRange },
  responses: {
    200: jsonResponse(WebhookStats, "The webhook's hours", {
      webhook_id: "550e8400-e29b-41d4-a716-446655440000",
      since: "2024-11-24T12:00:00Z",
      until: "2024-11-24T13:00:00Z",
      totals: { attempts: 6, succeeded: 5, failed: 0, p50_response_ms: 45, p95_response_ms: 128 },
      hours: [{ hour: "2024-11-24T12:00:00Z", attempts: 6, succeeded: 5, failed: 0, p50_response_ms: 45, p95_response_ms: 128 }],
    }),
    ...notFoundError,
    ...authErrors,
    422: errorResponse("validation_failed: since or until is not an ISO 8601 time, since is not before until, or the range spans more than 31 days", [
      "validation_failed",
      "since: since must be before until",
      [{ field: "since", message: "since must be before until" }],
    ]),
  },
});
