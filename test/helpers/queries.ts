import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { ReceivedRequest } from "../setup/receiver";
import { deliveriesByStatus, eventually, storedDeliveryCount } from "./delivery";
import { api, receiver, type Tenant } from "./harness";

/**
 * The guide's four payload examples, copied verbatim from
 * shared/spec/webhook-integration-guide.md: the contract every delivered body is held to.
 */
export const GUIDE_EXAMPLES = {
  "query.created": {
    event: "query.created",
    timestamp: "2024-11-24T12:00:00Z",
    webhook_id: "550e8400-e29b-41d4-a716-446655440000",
    data: {
      query_id: "conv_abc123",
      user_id: "user_456",
      category: "Technical",
      sentiment: "Negative",
      priority: 7,
      query: "My application keeps crashing when I try to export data",
    },
  },
  "query.resolved": {
    event: "query.resolved",
    timestamp: "2024-11-24T12:05:30Z",
    webhook_id: "550e8400-e29b-41d4-a716-446655440000",
    data: {
      query_id: "conv_abc123",
      user_id: "user_456",
      category: "Technical",
      resolution_time_seconds: 330.5,
      response: "The issue was caused by insufficient memory...",
    },
  },
  "query.escalated": {
    event: "query.escalated",
    timestamp: "2024-11-24T12:02:15Z",
    webhook_id: "550e8400-e29b-41d4-a716-446655440000",
    data: {
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
    event: "feedback.received",
    timestamp: "2024-11-24T12:10:00Z",
    webhook_id: "550e8400-e29b-41d4-a716-446655440000",
    data: {
      query_id: "conv_abc123",
      user_id: "user_456",
      rating: 4,
      feedback_text: "Helpful, but could be more detailed",
      category: "Technical",
    },
  },
} as const;

export type GuideEvent = keyof typeof GUIDE_EXAMPLES;
export const GUIDE_EVENTS = Object.keys(GUIDE_EXAMPLES) as GuideEvent[];

/** The guide's example texts. */
export const TEXTS = {
  crash: GUIDE_EXAMPLES["query.created"].data.query,
  chargedTwice: GUIDE_EXAMPLES["query.escalated"].data.query,
  response: GUIDE_EXAMPLES["query.resolved"].data.response,
  billingReason: GUIDE_EXAMPLES["query.escalated"].data.escalation_reason,
  feedback: GUIDE_EXAMPLES["feedback.received"].data.feedback_text,
} as const;

export const guideKeys = (type: GuideEvent) => Object.keys(GUIDE_EXAMPLES[type].data).sort();

/** The JSON type of a value as the guide's examples use it: integer apart from number. */
export function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Types each field of `type` may take: the example's own, a number for any integer example, null for feedback_text. */
function allowedTypes(type: GuideEvent, field: string): string[] {
  const example = jsonType((GUIDE_EXAMPLES[type].data as Record<string, unknown>)[field]);
  if (type === "feedback.received" && field === "feedback_text") return ["string", "null"];
  // 330.5 is a number; a resolution of exactly 2 s serialises as 2, still a JSON number.
  if (example === "number") return ["number", "integer"];
  return [example];
}

/** The envelope and `data` of a delivered body against the guide's example of its type, field by field. */
export function expectGuideShape(body: Record<string, unknown>, type: GuideEvent) {
  expect(Object.keys(body).sort()).toEqual(["data", "event", "timestamp", "webhook_id"]);
  expect(body.event).toBe(type);
  expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  expect(typeof body.webhook_id).toBe("string");
  const data = body.data as Record<string, unknown>;
  expect(Object.keys(data).sort(), type).toEqual(guideKeys(type));
  for (const [field, value] of Object.entries(data)) {
    expect(allowedTypes(type, field), `${type} data.${field} = ${JSON.stringify(value)}`).toContain(jsonType(value));
  }
}

export interface QueryView {
  id: string;
  user_id: string;
  query: string;
  category: string;
  sentiment: string;
  priority: number;
  is_vip: boolean;
  status: "open" | "escalated" | "resolved";
  escalated: boolean;
  escalation_reason: string | null;
  response: string | null;
  resolution_time_seconds: number | null;
  created_at: string;
  escalated_at: string | null;
  resolved_at: string | null;
}

import type { PublishResult as PublishedRef } from "../../src/services/events";

export type { PublishedRef };

export interface QueryChange extends QueryView {
  events: PublishedRef[];
}

export interface QueryDetail extends QueryView {
  feedback: { id: string; rating: number; feedback_text: string | null; created_at: string } | null;
  events: { event_id: string; event: string; data: Record<string, unknown>; deliveries_scheduled: number; created_at: string }[];
}

export interface FeedbackCreated {
  id: string;
  query_id: string;
  rating: number;
  feedback_text: string | null;
  created_at: string;
  events: PublishedRef[];
}

let userCounter = 0;
/** A user id no other test uses, so triage's 24 h repeat count starts at zero. */
export const freshUser = (label = "user") => `${label}_${++userCounter}_${crypto.randomUUID().slice(0, 6)}`;

export const postQuery = (tenant: Tenant, body: unknown) => api("/api/v1/queries", { method: "POST", key: tenant.key, json: body });

export type QueryAction = "escalate" | "resolve" | "feedback";
export const act = (tenant: Tenant, id: string, action: QueryAction, body: unknown) =>
  api(`/api/v1/queries/${id}/${action}`, { method: "POST", key: tenant.key, json: body });

async function expectJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** POST /api/v1/queries, asserting the 201. */
export async function createQuery(tenant: Tenant, body: Record<string, unknown>): Promise<QueryChange> {
  return expectJson<QueryChange>(await postQuery(tenant, { user_id: freshUser(), ...body }), 201);
}

export const escalate = async (tenant: Tenant, id: string, reason: string = TEXTS.billingReason) =>
  expectJson<QueryChange>(await act(tenant, id, "escalate", { reason }), 200);

export const resolve = async (tenant: Tenant, id: string, response: string = TEXTS.response) =>
  expectJson<QueryChange>(await act(tenant, id, "resolve", { response }), 200);

export const giveFeedback = async (tenant: Tenant, id: string, body: Record<string, unknown>) =>
  expectJson<FeedbackCreated>(await act(tenant, id, "feedback", body), 201);

export const getQuery = async (tenant: Tenant, id: string) => expectJson<QueryDetail>(await api(`/api/v1/queries/${id}`, { key: tenant.key }), 200);

export const listQueries = async (tenant: Tenant, search = "") => expectJson<QueryView[]>(await api(`/api/v1/queries${search}`, { key: tenant.key }), 200);

/** The receiver's requests under `key` once there are exactly `count` (more fails at once). */
export function received(key: string, count: number): Promise<ReceivedRequest[]> {
  return eventually(async () => {
    const requests = await receiver.requests(key);
    expect(requests.length, `receiver ${key} got more than ${count}`).toBeLessThanOrEqual(count);
    return requests.length === count ? requests : null;
  });
}

export const bodies = (requests: ReceivedRequest[]) =>
  requests.map((r) => JSON.parse(r.body) as { event: GuideEvent; timestamp: string; webhook_id: string; data: Record<string, unknown> });

/** The delivered body of the one request carrying `type`. */
export function bodyOf(requests: ReceivedRequest[], type: GuideEvent) {
  const matching = bodies(requests).filter((b) => b.event === type);
  expect(matching, `exactly one ${type} delivered`).toHaveLength(1);
  return matching[0];
}

export interface StoredEvent {
  id: string;
  type: string;
  data: string;
  query_id: string | null;
}

/** The tenant's event rows, oldest first, straight from D1. */
export async function storedEvents(tenantId: string): Promise<StoredEvent[]> {
  const { results } = await env.DB.prepare("SELECT id, type, data, query_id FROM events WHERE tenant_id = ? ORDER BY id").bind(tenantId).all<StoredEvent>();
  return results;
}

export const storedQuery = (id: string) => env.DB.prepare("SELECT * FROM queries WHERE id = ?").bind(id).first<Record<string, unknown>>();

export async function storedCounts(tenantId: string) {
  const count = async (table: string) =>
    (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE tenant_id = ?`).bind(tenantId).first<{ n: number }>())!.n;
  return { queries: await count("queries"), events: await count("events"), deliveries: await storedDeliveryCount(tenantId), feedback: await count("feedback") };
}

/** Waits until none of the tenant's deliveries is pending; returns the count by status. */
export async function settledDeliveries(tenantId: string): Promise<Record<string, number>> {
  return eventually(async () => {
    const byStatus = await deliveriesByStatus(tenantId);
    return byStatus.pending ? null : byStatus;
  });
}

/** Moves a query's creation time back, as if it had been created `ms` earlier. */
export const backdate = (id: string, ms: number) => env.DB.prepare("UPDATE queries SET created_at = created_at - ? WHERE id = ?").bind(ms, id).run();
