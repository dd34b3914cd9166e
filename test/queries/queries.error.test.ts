import { describe, expect, it } from "vitest";
import { receiverWebhook } from "../helpers/delivery";
import { api, createTenant, expectError, rawJson, type Tenant, uniqueKey } from "../helpers/harness";
import {
  act,
  bodies,
  createQuery,
  escalate,
  freshUser,
  GUIDE_EVENTS,
  getQuery,
  giveFeedback,
  postQuery,
  type QueryAction,
  received,
  resolve,
  settledDeliveries,
  storedCounts,
  storedQuery,
  TEXTS,
} from "../helpers/queries";

/**
 * Runs a refused request and asserts it changed nothing: no query, event, delivery or
 * feedback row in D1 (so the receiver has nothing it could be sent).
 */
async function refusedWithoutTrace(tenant: Tenant, request: () => Promise<Response>, status: number, code: string) {
  const before = await storedCounts(tenant.id);
  const error = await expectError(await request(), status, code);
  expect(await storedCounts(tenant.id)).toEqual(before);
  return error;
}

describe("state rules: 409 conflict, no event", () => {
  it("a resolved query cannot be escalated or resolved again; the receiver gets nothing more", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("resolved");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const q = await createQuery(tenant, { query: TEXTS.crash });
    await resolve(tenant, q.id);
    await received(key, 2);
    const rowBefore = await storedQuery(q.id);

    const onEscalate = await refusedWithoutTrace(tenant, () => act(tenant, q.id, "escalate", { reason: "late" }), 409, "conflict");
    expect(onEscalate.message).toBe("A resolved query cannot be escalated");
    const onResolve = await refusedWithoutTrace(tenant, () => act(tenant, q.id, "resolve", { response: "again" }), 409, "conflict");
    expect(onResolve.message).toBe("The query is already resolved");
    expect(await storedQuery(q.id)).toEqual(rowBefore);

    // A later, allowed change is the sentinel: once it arrives, nothing else was queued before it.
    await giveFeedback(tenant, q.id, { rating: 5 });
    const requests = await received(key, 3);
    expect(
      bodies(requests)
        .map((b) => b.event)
        .sort(),
    ).toEqual(["feedback.received", "query.created", "query.resolved"]);
    expect(await settledDeliveries(tenant.id)).toEqual({ success: 3 });
  });

  it("an escalated query cannot be escalated again", async () => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.chargedTwice });
    await escalate(tenant, q.id, "first reason");
    const error = await refusedWithoutTrace(tenant, () => act(tenant, q.id, "escalate", { reason: "second reason" }), 409, "conflict");
    expect(error.message).toBe("The query is already escalated");
    expect((await getQuery(tenant, q.id)).escalation_reason).toBe("first reason");
  });

  it("feedback on an open query is refused", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("open");
    await receiverWebhook(tenant, key, "200", { events: ["feedback.received", "query.escalated"] });
    const q = await createQuery(tenant, { query: TEXTS.crash });
    const error = await refusedWithoutTrace(tenant, () => act(tenant, q.id, "feedback", { rating: 4 }), 409, "conflict");
    expect(error.message).toBe("Feedback is accepted only after the query was resolved or escalated");
    expect((await getQuery(tenant, q.id)).feedback).toBeNull();

    await escalate(tenant, q.id);
    expect(bodies(await received(key, 1)).map((b) => b.event)).toEqual(["query.escalated"]);
  });

  it("feedback is accepted once per query", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("once");
    await receiverWebhook(tenant, key, "200", { events: ["feedback.received", "query.escalated"] });
    const q = await createQuery(tenant, { query: TEXTS.crash });
    await resolve(tenant, q.id);
    const first = await giveFeedback(tenant, q.id, { rating: 4, feedback_text: TEXTS.feedback });

    const error = await refusedWithoutTrace(tenant, () => act(tenant, q.id, "feedback", { rating: 1, feedback_text: "changed my mind" }), 409, "conflict");
    expect(error.message).toBe("Feedback was already given for this query");
    expect((await getQuery(tenant, q.id)).feedback).toEqual({ id: first.id, rating: 4, feedback_text: TEXTS.feedback, created_at: first.created_at });

    // Sentinel: an allowed event on another query arrives; the refused feedback never does.
    await createQuery(tenant, { query: "I will sue" });
    const requests = await received(key, 2);
    expect(
      bodies(requests)
        .map((b) => b.event)
        .sort(),
    ).toEqual(["feedback.received", "query.escalated"]);
    expect(bodies(requests).find((b) => b.event === "feedback.received")!.data.rating).toBe(4);
  });

  it("concurrent feedback on one query: exactly one wins, one event", async () => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.crash });
    await resolve(tenant, q.id);
    const before = (await storedCounts(tenant.id)).events;

    const responses = await Promise.all([1, 2, 3, 4, 5].map((rating) => act(tenant, q.id, "feedback", { rating })));
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect((await storedCounts(tenant.id)).events).toBe(before + 1);
    expect((await storedCounts(tenant.id)).feedback).toBe(1);
  });

  it("concurrent resolutions: exactly one wins, one query.resolved", async () => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.crash });
    const before = (await storedCounts(tenant.id)).events;

    const responses = await Promise.all(["a", "b", "c"].map((response) => act(tenant, q.id, "resolve", { response })));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect((await storedCounts(tenant.id)).events).toBe(before + 1);
  });
});

describe("validation: 422 validation_failed, nothing stored", () => {
  it.each([
    ["empty query", { query: "" }, "query"],
    ["whitespace-only query", { query: " \n\t  " }, "query"],
    ["query over 10,000 characters", { query: "a".repeat(10_001) }, "query"],
    ["missing query", { query: undefined }, "query"],
    ["query not a string", { query: 42 }, "query"],
    ["null query", { query: null }, "query"],
    ["user_id over 200 characters", { user_id: "u".repeat(201) }, "user_id"],
    ["missing user_id", { user_id: undefined }, "user_id"],
    ["empty user_id", { user_id: "  " }, "user_id"],
    ["unknown category", { category: "Weather" }, "category"],
    ["unknown sentiment", { sentiment: "Meh" }, "sentiment"],
    ["priority 0", { priority: 0 }, "priority"],
    ["priority 11", { priority: 11 }, "priority"],
    ["priority 2.5", { priority: 2.5 }, "priority"],
    ["priority as a string", { priority: "7" }, "priority"],
    ["is_vip as a string", { is_vip: "yes" }, "is_vip"],
  ])("POST /queries refuses %s", async (_label, override, field) => {
    const tenant = await createTenant();
    const body = { user_id: freshUser(), query: TEXTS.crash, ...override };
    const error = await refusedWithoutTrace(tenant, () => postQuery(tenant, body), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toContain(field);
    expect(error.message).toContain(field);
  });

  it("names the query limits in the message", async () => {
    const tenant = await createTenant();
    const empty = await expectError(await postQuery(tenant, { user_id: "u", query: "   " }), 422, "validation_failed");
    expect(empty.message).toBe("query: query must not be empty");
    const long = await expectError(await postQuery(tenant, { user_id: "u", query: "a".repeat(10_001) }), 422, "validation_failed");
    expect(long.message).toBe("query: query must be at most 10,000 characters");
  });

  it("accepts a query of exactly 10,000 characters, and stores it trimmed", async () => {
    const tenant = await createTenant();
    const atLimit = await createQuery(tenant, { query: "a".repeat(10_000) });
    expect(atLimit.query).toHaveLength(10_000);
    const padded = await createQuery(tenant, { query: `  ${TEXTS.crash}  ` });
    expect(padded.query).toBe(TEXTS.crash);
  });

  it.each([
    ["rating 0", { rating: 0 }, "rating"],
    ["rating 6", { rating: 6 }, "rating"],
    ["rating -1", { rating: -1 }, "rating"],
    ["non-integer rating", { rating: 4.5 }, "rating"],
    ["rating as a string", { rating: "4" }, "rating"],
    ["missing rating", { feedback_text: "no rating" }, "rating"],
    ["feedback_text not a string", { rating: 4, feedback_text: 5 }, "feedback_text"],
    ["feedback_text over 5,000 characters", { rating: 4, feedback_text: "x".repeat(5001) }, "feedback_text"],
  ])("feedback refuses %s", async (_label, body, field) => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.crash });
    await resolve(tenant, q.id);
    const error = await refusedWithoutTrace(tenant, () => act(tenant, q.id, "feedback", body), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
  });

  it("rating messages say the range and the integer rule", async () => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.crash });
    await resolve(tenant, q.id);
    expect((await expectError(await act(tenant, q.id, "feedback", { rating: 6 }), 422, "validation_failed")).message).toBe("rating: rating must be 1..5");
    expect((await expectError(await act(tenant, q.id, "feedback", { rating: 0 }), 422, "validation_failed")).message).toBe("rating: rating must be 1..5");
    expect((await expectError(await act(tenant, q.id, "feedback", { rating: 3.5 }), 422, "validation_failed")).message).toBe(
      "rating: rating must be an integer",
    );
  });

  it.each([
    ["escalate", {}, "reason"],
    ["escalate", { reason: "   " }, "reason"],
    ["resolve", {}, "response"],
    ["resolve", { response: "" }, "response"],
    ["escalate", { reason: "r".repeat(1001) }, "reason"],
    ["resolve", { response: "r".repeat(20_001) }, "response"],
  ] as const)("%s refuses %j", async (action, body, field) => {
    const tenant = await createTenant();
    const q = await createQuery(tenant, { query: TEXTS.crash });
    const error = await refusedWithoutTrace(tenant, () => act(tenant, q.id, action, body), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
    expect((await getQuery(tenant, q.id)).status).toBe("open");
  });

  it("malformed JSON and a non-JSON body are refused before anything is stored", async () => {
    const tenant = await createTenant();
    await refusedWithoutTrace(
      tenant,
      () => api("/api/v1/queries", { method: "POST", key: tenant.key, ...rawJson('{"user_id": "u", "query": ') }),
      400,
      "invalid_json",
    );
    await refusedWithoutTrace(
      tenant,
      () =>
        api("/api/v1/queries", {
          method: "POST",
          key: tenant.key,
          body: "user_id=u&query=x",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        }),
      415,
      "unsupported_media_type",
    );
  });

  it.each([
    ["?status=closed", "status"],
    ["?escalated=yes", "escalated"],
    ["?limit=0", "limit"],
    ["?limit=101", "limit"],
    ["?skip=-1", "skip"],
    ["?skip=abc", "skip"],
  ])("GET /queries%s is 422", async (search, field) => {
    const tenant = await createTenant();
    const error = await expectError(await api(`/api/v1/queries${search}`, { key: tenant.key }), 422, "validation_failed");
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
  });
});

describe("unknown and malformed ids: 404 not_found", () => {
  const actions: [QueryAction, Record<string, unknown>][] = [
    ["escalate", { reason: "r" }],
    ["resolve", { response: "r" }],
    ["feedback", { rating: 4 }],
  ];

  it.each([
    ["an unknown well-formed id", "conv_AAAAAAAAAAAA"],
    ["a malformed id", "not-a-query"],
    ["a uuid", "550e8400-e29b-41d4-a716-446655440000"],
    ["a too short id", "conv_"],
    ["an encoded path", "conv_..%2F..%2Fadmin"],
    ["an SQL-looking id", "conv_x'%20OR%20'1'%3D'1"],
  ])("%s", async (_label, id) => {
    const tenant = await createTenant();
    await createQuery(tenant, { query: TEXTS.crash });
    const get = await expectError(await api(`/api/v1/queries/${id}`, { key: tenant.key }), 404, "not_found");
    expect(get.message).toBe("Query not found");
    for (const [action, body] of actions) {
      const error = await refusedWithoutTrace(tenant, () => act(tenant, id, action, body), 404, "not_found");
      expect(error.message).toBe("Query not found");
    }
  });
});
