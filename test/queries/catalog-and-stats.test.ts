import { describe, expect, it } from "vitest";
import { published, receiverWebhook } from "../helpers/delivery";
import { api, createTenant, expectError, receiver, type Tenant, uniqueKey } from "../helpers/harness";
import {
  backdate,
  bodies,
  createQuery,
  escalate,
  GUIDE_EVENTS,
  GUIDE_EXAMPLES,
  type GuideEvent,
  giveFeedback,
  guideKeys,
  received,
  resolve,
  settledDeliveries,
  TEXTS,
} from "../helpers/queries";

interface EventTypeView {
  type: string;
  description: string;
  schema: JsonSchema;
  example: Record<string, unknown>;
}

interface JsonSchema {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/** The JSON Schema keywords the catalog uses, enough to tell whether a value validates. */
function validates(value: unknown, schema: JsonSchema): boolean {
  if (schema.anyOf) return schema.anyOf.some((s) => validates(value, s));
  const types = schema.type === undefined ? [] : [schema.type].flat();
  const typeOf = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  const typeOk =
    types.length === 0 || types.some((t) => t === typeOf || (t === "integer" && Number.isInteger(value)) || (t === "number" && typeOf === "number"));
  if (!typeOk) return false;
  if (typeof value === "string" && (value.length < (schema.minLength ?? 0) || value.length > (schema.maxLength ?? Infinity))) return false;
  if (typeof value === "number" && (value < (schema.minimum ?? -Infinity) || value > (schema.maximum ?? Infinity))) return false;
  if (typeOf === "object") {
    const object = value as Record<string, unknown>;
    if ((schema.required ?? []).some((key) => !(key in object))) return false;
    return Object.entries(schema.properties ?? {}).every(([key, s]) => !(key in object) || validates(object[key], s));
  }
  return true;
}

async function eventTypes(tenant: Tenant): Promise<EventTypeView[]> {
  const res = await api("/api/v1/event-types", { key: tenant.key });
  expect(res.status).toBe(200);
  return (await res.json()) as EventTypeView[];
}

const JSON_TYPES: Record<string, string> = { string: "string", boolean: "boolean" };
/** The JSON Schema type the guide's example value implies (an integer example: integer). */
const schemaTypeOf = (type: GuideEvent, field: string) => {
  const value = (GUIDE_EXAMPLES[type].data as Record<string, unknown>)[field];
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return JSON_TYPES[typeof value];
};

describe("GET /api/v1/event-types", () => {
  it("lists the guide's four types, each with a description, a JSON Schema of its data and the guide's example", async () => {
    const types = await eventTypes(await createTenant());
    expect(types.map((t) => t.type)).toEqual(GUIDE_EVENTS);

    for (const t of types) {
      const type = t.type as GuideEvent;
      expect(Object.keys(t).sort()).toEqual(["description", "example", "schema", "type"]);
      expect(t.description.length, type).toBeGreaterThan(10);
      expect(t.schema.type).toBe("object");
      expect([...(t.schema.required ?? [])].sort(), type).toEqual(guideKeys(type));
      expect(Object.keys(t.schema.properties ?? {}).sort(), type).toEqual(guideKeys(type));
      for (const field of guideKeys(type)) {
        const property = t.schema.properties![field];
        const declared = property.anyOf ? property.anyOf.map((s) => s.type) : [property.type];
        expect(declared, `${type}.${field}`).toContain(schemaTypeOf(type, field));
      }
      expect(t.example, type).toEqual(GUIDE_EXAMPLES[type].data);
      expect(validates(t.example, t.schema), type).toBe(true);
    }

    const feedbackText = types.find((t) => t.type === "feedback.received")!.schema.properties!.feedback_text;
    expect(validates(null, feedbackText)).toBe(true);
    expect(validates(4, feedbackText)).toBe(false);
  });

  it("each example publishes (202) and is delivered as given; the schema's required fields are enforced", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("examples");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const types = await eventTypes(tenant);

    for (const t of types) {
      const res = await api("/api/v1/events", { method: "POST", key: tenant.key, json: { event: t.type, data: t.example } });
      expect(res.status, await res.clone().text()).toBe(202);
      expect(await res.json()).toMatchObject({ event: t.type, deliveries_scheduled: 1 });

      for (const field of t.schema.required!) {
        const { [field]: _dropped, ...incomplete } = t.example;
        expect(validates(incomplete, t.schema), `${t.type} without ${field}`).toBe(false);
        const refused = await expectError(
          await api("/api/v1/events", { method: "POST", key: tenant.key, json: { event: t.type, data: incomplete } }),
          422,
          "validation_failed",
        );
        expect(refused.fields?.map((f) => f.field)).toEqual([`data.${field}`]);
      }
    }

    const requests = await received(key, 4);
    for (const body of bodies(requests)) expect(body.data).toEqual(GUIDE_EXAMPLES[body.event].data);
  });

  it("what a query's lifecycle delivers validates against the served schemas", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("lifecycle");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const schemas = Object.fromEntries((await eventTypes(tenant)).map((t) => [t.type, t.schema]));

    const q = await createQuery(tenant, { query: TEXTS.chargedTwice });
    await escalate(tenant, q.id);
    await resolve(tenant, q.id);
    await giveFeedback(tenant, q.id, { rating: 3 });

    const requests = await received(key, 4);
    expect(
      bodies(requests)
        .map((b) => b.event)
        .sort(),
    ).toEqual([...GUIDE_EVENTS].sort());
    for (const body of bodies(requests)) expect(validates(body.data, schemas[body.event]), body.event).toBe(true);
  });
});

async function stats(tenant: Tenant) {
  const res = await api("/api/v1/stats", { key: tenant.key });
  expect(res.status).toBe(200);
  return res.json();
}

describe("GET /api/v1/stats", () => {
  it("a fresh tenant: zero counts, null means", async () => {
    expect(await stats(await createTenant())).toEqual({
      queries: { total: 0, by_status: { open: 0, escalated: 0, resolved: 0 }, by_category: {}, escalation_rate: 0, mean_resolution_time_seconds: null },
      feedback: { count: 0, mean_rating: null },
      deliveries: {
        by_status: { pending: 0, success: 0, failed: 0, cancelled: 0 },
        last_24h: { since: expect.any(String), attempts: 0, succeeded: 0, failed: 0, p50_response_ms: null, p95_response_ms: null },
      },
    });
  });

  it("exact figures for a known set of queries, ratings and deliveries", async () => {
    const tenant = await createTenant();
    await receiverWebhook(tenant, uniqueKey("ok"), "200", { events: GUIDE_EVENTS });
    // 4xx is permanent: each query.created to this webhook fails after one attempt.
    await receiverWebhook(tenant, uniqueKey("refuses"), "400");

    const technical = await createQuery(tenant, { query: TEXTS.crash });
    const billing = await createQuery(tenant, { query: TEXTS.chargedTwice });
    const legal = await createQuery(tenant, { query: "I will sue" });
    await createQuery(tenant, { query: "What are your office hours?" });
    await createQuery(tenant, { query: "How do I change my password?" });
    await createQuery(tenant, { query: "Thanks, great service!" });
    expect(legal).toMatchObject({ category: "General", status: "escalated" });

    await backdate(technical.id, 100_000);
    await backdate(billing.id, 200_000);
    const r1 = (await resolve(tenant, technical.id)).resolution_time_seconds!;
    await escalate(tenant, billing.id);
    const r2 = (await resolve(tenant, billing.id)).resolution_time_seconds!;
    await giveFeedback(tenant, technical.id, { rating: 4, feedback_text: TEXTS.feedback });
    await giveFeedback(tenant, billing.id, { rating: 5 });
    await giveFeedback(tenant, legal.id, { rating: 2 });
    expect(r1).toBeGreaterThanOrEqual(100);
    expect(r2).toBeGreaterThanOrEqual(200);

    // ok webhook: 6 created + 2 escalated (legal, billing) + 2 resolved + 3 feedback; refusing webhook: 6 created.
    expect(await settledDeliveries(tenant.id)).toEqual({ success: 13, failed: 6 });
    expect(await stats(tenant)).toEqual({
      queries: {
        total: 6,
        by_status: { open: 3, escalated: 1, resolved: 2 },
        by_category: { Technical: 1, Billing: 1, General: 3, Account: 1 },
        escalation_rate: 0.3333, // billing (then resolved) and legal, of 6
        // The mean of the two resolution times the API reported, to a tenth.
        mean_resolution_time_seconds: Number(((r1 + r2) / 2).toFixed(1)),
      },
      feedback: { count: 3, mean_rating: 3.67 },
      deliveries: {
        by_status: { pending: 0, success: 13, failed: 6, cancelled: 0 },
        // One attempt each (no retries): the hourly statistics, folded or not, count the same.
        last_24h: {
          since: expect.any(String),
          attempts: 19,
          succeeded: 13,
          failed: 6,
          p50_response_ms: expect.any(Number),
          p95_response_ms: expect.any(Number),
        },
      },
    });
  });

  it("counts pending deliveries, and cancelled ones once their webhook is disabled", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("hang");
    // The receiver holds every request: both deliveries stay pending until the webhook is disabled.
    const webhook = await receiverWebhook(tenant, key, "hang");
    await published(tenant, "query.created");
    await published(tenant, "query.created");
    expect(await stats(tenant)).toMatchObject({ deliveries: { by_status: { pending: 2, success: 0, failed: 0, cancelled: 0 } } });
    const res = await api(`/api/v1/webhooks/${webhook.id}`, { method: "PUT", key: tenant.key, json: { is_active: false } });
    expect(res.status).toBe(200);
    expect(await stats(tenant)).toMatchObject({ deliveries: { by_status: { pending: 0, success: 0, failed: 0, cancelled: 2 } } });
    await receiver.release(key);
  });

  it("counts a query's category and status as they are now", async () => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.crash });
    expect(await stats(tenant)).toMatchObject({ queries: { total: 1, by_status: { open: 1, escalated: 0, resolved: 0 }, by_category: { Technical: 1 } } });
    await escalate(tenant, q.id);
    expect(await stats(tenant)).toMatchObject({
      queries: { by_status: { open: 0, escalated: 1, resolved: 0 }, escalation_rate: 1, mean_resolution_time_seconds: null },
    });
    await backdate(q.id, 42_000);
    const { resolution_time_seconds } = await resolve(tenant, q.id);
    expect(await stats(tenant)).toMatchObject({
      queries: { by_status: { open: 0, escalated: 0, resolved: 1 }, escalation_rate: 1, mean_resolution_time_seconds: resolution_time_seconds },
    });
  });
});
