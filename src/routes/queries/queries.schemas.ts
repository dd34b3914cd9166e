import { z } from "@hono/zod-openapi";
import { QUERY_STATUSES } from "../../services/queries";
import { CATEGORIES, SENTIMENTS } from "../../triage/triage";
import { booleanQuery, oneCursor, pageQuery } from "../common.schemas";

const queryText = z
  .string()
  .trim()
  .min(1, "query must not be empty")
  .max(10_000, "query must be at most 10,000 characters")
  .openapi({ example: "My application keeps crashing when I try to export data" });

export const CreateQuery = z
  .object({
    user_id: z.string().trim().min(1).max(200).openapi({ example: "user_456" }),
    query: queryText,
    category: z.enum(CATEGORIES).optional().openapi({ description: "Supplied by an agent; wins over triage" }),
    sentiment: z.enum(SENTIMENTS).optional().openapi({ description: "Supplied by an agent; wins over triage" }),
    priority: z.number().int().min(1).max(10).optional().openapi({ description: "Supplied by an agent; wins over triage" }),
    is_vip: z.boolean().optional(),
  })
  .openapi("CreateQuery");

export const EscalateQuery = z.object({ reason: z.string().trim().min(1).max(1000) }).openapi("EscalateQuery");
export const ResolveQuery = z.object({ response: z.string().trim().min(1).max(20_000) }).openapi("ResolveQuery");
export const QueryFeedback = z
  .object({
    rating: z.number().int("rating must be an integer").min(1, "rating must be 1..5").max(5, "rating must be 1..5"),
    feedback_text: z.string().max(5000).nullable().optional(),
  })
  .openapi("QueryFeedback");

const PublishedRef = z.object({ event_id: z.string(), event: z.string(), deliveries_scheduled: z.number().int() }).passthrough();

export const Query = z
  .object({
    id: z.string().openapi({ example: "conv_abc123" }),
    user_id: z.string(),
    query: z.string(),
    category: z.string(),
    sentiment: z.string(),
    priority: z.number().int(),
    is_vip: z.boolean(),
    status: z.enum(QUERY_STATUSES),
    escalated: z.boolean(),
    escalation_reason: z.string().nullable(),
    response: z.string().nullable(),
    resolution_time_seconds: z.number().nullable(),
    created_at: z.string(),
    escalated_at: z.string().nullable(),
    resolved_at: z.string().nullable(),
  })
  .openapi("Query");

export const QueryWithEvents = Query.extend({ events: z.array(PublishedRef) }).openapi("QueryChange");

export const QueryDetail = Query.extend({
  feedback: z.object({ id: z.string(), rating: z.number().int(), feedback_text: z.string().nullable(), created_at: z.string() }).nullable(),
  events: z.array(
    z.object({
      event_id: z.string(),
      event: z.string(),
      data: z.record(z.string(), z.unknown()),
      deliveries_scheduled: z.number().int(),
      created_at: z.string(),
    }),
  ),
}).openapi("QueryDetail");

export const FeedbackCreated = z
  .object({
    id: z.string(),
    query_id: z.string(),
    rating: z.number().int(),
    feedback_text: z.string().nullable(),
    created_at: z.string(),
    events: z.array(PublishedRef),
  })
  .openapi("FeedbackCreated");

const queryCursor = (description: string) =>
  z
    .string()
    .max(100)
    .optional()
    .openapi({ description: `${description}; no X-Total-Count is sent`, example: "conv_abc123" });

export const ListQueriesQuery = z
  .object({
    ...pageQuery(50),
    before: queryCursor('Queries older than this query id (from the Link header\'s rel="next"), in created_at order'),
    after: queryCursor('Queries newer than this query id (from the Link header\'s rel="prev")'),
    status: z.enum(QUERY_STATUSES).optional(),
    category: z.string().max(100).optional(),
    user_id: z.string().max(200).optional(),
    escalated: booleanQuery,
  })
  .superRefine(oneCursor);
