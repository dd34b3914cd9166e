import { z } from "@hono/zod-openapi";

/**
 * The guide's four event types and the shape of their `data`, one place. Publishing
 * validates against these schemas and GET /api/v1/event-types renders them.
 */
const queryId = z.string().min(1).max(100);
const userId = z.string().min(1).max(200);
const category = z.string().min(1).max(100);
const sentiment = z.string().min(1).max(50);
const priority = z.number().int().min(1).max(10);
const queryText = z.string().min(1).max(10_000);

export const EVENT_CATALOG = {
  "query.created": {
    description: "A new customer query was received.",
    data: z.looseObject({ query_id: queryId, user_id: userId, category, sentiment, priority, query: queryText }),
    example: {
      query_id: "conv_abc123",
      user_id: "user_456",
      category: "Technical",
      sentiment: "Negative",
      priority: 7,
      query: "My application keeps crashing when I try to export data",
    },
  },
  "query.resolved": {
    description: "A query was successfully resolved.",
    data: z.looseObject({
      query_id: queryId,
      user_id: userId,
      category,
      resolution_time_seconds: z.number().min(0),
      response: z.string().min(1).max(20_000),
    }),
    example: {
      query_id: "conv_abc123",
      user_id: "user_456",
      category: "Technical",
      resolution_time_seconds: 330.5,
      response: "The issue was caused by insufficient memory...",
    },
  },
  "query.escalated": {
    description: "A query was escalated to human support.",
    data: z.looseObject({
      query_id: queryId,
      user_id: userId,
      category,
      sentiment,
      priority,
      escalation_reason: z.string().min(1).max(1000),
      query: queryText,
    }),
    example: {
      query_id: "conv_abc123",
      user_id: "user_456",
      category: "Billing",
      sentiment: "Angry",
      priority: 9,
      escalation_reason: "Billing dispute - requires manual review",
      query: "I was charged twice for the same subscription",
    },
  },
  "feedback.received": {
    description: "A customer gave feedback on an AI response.",
    data: z.looseObject({
      query_id: queryId,
      user_id: userId,
      rating: z.number().int().min(1).max(5),
      feedback_text: z.string().max(5000).nullable(),
      category,
    }),
    example: {
      query_id: "conv_abc123",
      user_id: "user_456",
      rating: 4,
      feedback_text: "Helpful, but could be more detailed",
      category: "Technical",
    },
  },
} as const;

export type EventType = keyof typeof EVENT_CATALOG;
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as [EventType, ...EventType[]];

/** Sent only by POST /webhooks/{id}/test; not subscribable. */
export const TEST_EVENT_TYPE = "webhook.test";
