/**
 * The examples of the OpenAPI document, one place: what the routes answer for the README's
 * walk-through (a webhook receiving query events, one query's life). Each is checked against
 * its schema by the OpenAPI lint (test/routes/openapi-lint.test.ts).
 */
const T0 = "2024-11-24T12:00:00Z";
const T1 = "2024-11-24T12:05:30Z";
export const EXAMPLE_WEBHOOK_ID = "550e8400-e29b-41d4-a716-446655440000";
const EVENT_ID = "7d444840-9dc0-41d1-8a3e-5b7c3e1e2f60";
// A first send's delivery id is its event's id (src/db/unwritten-deliveries.ts).
const DELIVERY_ID = EVENT_ID;

export const webhookExample = {
  id: EXAMPLE_WEBHOOK_ID,
  url: "https://your-domain.com/webhook/smartsupport",
  events: ["query.created", "query.escalated"],
  description: "Support dashboard",
  is_active: true,
  delivery_count: 12,
  failure_count: 1,
  retry_schedule_seconds: [5, 300, 1800, 7200, 18000, 36000, 36000],
  rate_limit_per_second: null,
  consecutive_failures: 0,
  last_delivery_at: T1,
  last_success_at: T1,
  disabled_at: null,
  disabled_reason: null,
  created_at: T0,
  updated_at: T0,
};

export const createWebhookExample = {
  url: "https://your-domain.com/webhook/smartsupport",
  events: ["query.created", "query.escalated"] as ("query.created" | "query.escalated")[],
  description: "Support dashboard",
};

export const deliveryExample = {
  id: DELIVERY_ID,
  webhook_id: EXAMPLE_WEBHOOK_ID,
  event_id: EVENT_ID,
  event: "query.created",
  status: "success" as const,
  attempts: 1,
  last_status_code: 200,
  last_error: null,
  last_response_time_ms: 42,
  last_response_excerpt: "ok",
  next_retry_at: null,
  created_at: T0,
  finished_at: T0,
};

export const attemptExample = { attempt: 1, status_code: 200, error: null, response_time_ms: 42, response_excerpt: "ok", attempted_at: T0 };

export const queryExample = {
  id: "conv_abc123",
  user_id: "user_456",
  query: "My application keeps crashing when I try to export data",
  category: "Technical",
  sentiment: "Negative",
  priority: 7,
  is_vip: false,
  status: "open" as const,
  escalated: false,
  escalation_reason: null,
  response: null,
  resolution_time_seconds: null,
  created_at: T0,
  escalated_at: null,
  resolved_at: null,
};

export const publishedRefExample = { event_id: EVENT_ID, event: "query.created", deliveries_scheduled: 1 };

export const publishedExample = { event_id: EVENT_ID, event: "query.created", created_at: T0, deliveries_scheduled: 1, enqueued: true, replayed: false };

export const EXAMPLE_TIMES = { T0, T1 };
export const EXAMPLE_IDS = { EVENT_ID, DELIVERY_ID };
