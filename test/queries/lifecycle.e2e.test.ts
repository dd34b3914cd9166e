import { describe, expect, it } from "vitest";
import { receiverWebhook } from "../helpers/delivery";
import { createTenant, GUIDE_TIMESTAMP, uniqueKey } from "../helpers/harness";
import {
  backdate,
  bodies,
  bodyOf,
  createQuery,
  escalate,
  expectGuideShape,
  freshUser,
  GUIDE_EVENTS,
  type GuideEvent,
  getQuery,
  giveFeedback,
  guideKeys,
  received,
  resolve,
  settledDeliveries,
  storedEvents,
  storedQuery,
  TEXTS,
} from "../helpers/queries";

// Each event body is checked as the receiver got it: API → D1 → queue → consumer → HTTP.

describe("the guide's journey, end to end through the queue", () => {
  it("created → resolved → feedback: each delivered body has exactly the guide's fields and types", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("journey");
    const webhook = await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const user = freshUser("user_456");

    const created = await createQuery(tenant, { user_id: user, query: TEXTS.crash });
    expect(created).toMatchObject({
      user_id: user,
      query: TEXTS.crash,
      category: "Technical",
      sentiment: "Negative",
      priority: 5,
      is_vip: false,
      status: "open",
      escalated: false,
      escalation_reason: null,
      response: null,
      resolution_time_seconds: null,
      escalated_at: null,
      resolved_at: null,
    });
    expect(created.id).toMatch(/^conv_[A-Za-z0-9_-]+$/);
    expect(created.created_at).toMatch(GUIDE_TIMESTAMP);
    expect(created.events).toEqual([
      { event_id: expect.any(String), event: "query.created", created_at: created.created_at, deliveries_scheduled: 1, enqueued: true, replayed: false },
    ]);

    const resolved = await resolve(tenant, created.id, TEXTS.response);
    expect(resolved).toMatchObject({ id: created.id, status: "resolved", escalated: false, response: TEXTS.response });
    expect(resolved.resolved_at).toMatch(GUIDE_TIMESTAMP);
    expect(resolved.events.map((e) => [e.event, e.deliveries_scheduled])).toEqual([["query.resolved", 1]]);
    expect(resolved.events[0].created_at).toBe(resolved.resolved_at);

    const feedback = await giveFeedback(tenant, created.id, { rating: 4, feedback_text: TEXTS.feedback });
    expect(feedback).toMatchObject({ query_id: created.id, rating: 4, feedback_text: TEXTS.feedback });
    expect(feedback.events.map((e) => [e.event, e.deliveries_scheduled])).toEqual([["feedback.received", 1]]);

    const requests = await received(key, 3);
    expect(
      bodies(requests)
        .map((b) => b.event)
        .sort(),
    ).toEqual(["feedback.received", "query.created", "query.resolved"]);
    for (const body of bodies(requests)) {
      expectGuideShape(body, body.event);
      expect(body.webhook_id).toBe(webhook.id);
    }

    expect(bodyOf(requests, "query.created").data).toEqual({
      query_id: created.id,
      user_id: user,
      category: "Technical",
      sentiment: "Negative",
      priority: 5,
      query: TEXTS.crash,
    });
    expect(bodyOf(requests, "query.resolved").data).toEqual({
      query_id: created.id,
      user_id: user,
      category: "Technical",
      resolution_time_seconds: resolved.resolution_time_seconds,
      response: TEXTS.response,
    });
    expect(bodyOf(requests, "feedback.received").data).toEqual({
      query_id: created.id,
      user_id: user,
      rating: 4,
      feedback_text: TEXTS.feedback,
      category: "Technical",
    });
    // The envelope's timestamp is the publish time the API reported.
    expect(bodyOf(requests, "query.created").timestamp).toBe(created.events[0].created_at);
    expect(bodyOf(requests, "query.resolved").timestamp).toBe(resolved.events[0].created_at);
    expect(bodyOf(requests, "feedback.received").timestamp).toBe(feedback.events[0].created_at);
    expect(await settledDeliveries(tenant.id)).toEqual({ success: 3 });
  });

  it("charged twice → escalated with the guide's reason → feedback without text (null) → resolved", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("billing");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const user = freshUser();

    const created = await createQuery(tenant, { user_id: user, query: TEXTS.chargedTwice });
    expect(created).toMatchObject({ category: "Billing", sentiment: "Negative", priority: 5, status: "open", escalated: false });

    const escalated = await escalate(tenant, created.id, TEXTS.billingReason);
    expect(escalated).toMatchObject({ status: "escalated", escalated: true, escalation_reason: TEXTS.billingReason });
    expect(escalated.escalated_at).toMatch(GUIDE_TIMESTAMP);
    expect(escalated.events.map((e) => e.event)).toEqual(["query.escalated"]);

    const feedback = await giveFeedback(tenant, created.id, { rating: 2 });
    expect(feedback).toMatchObject({ rating: 2, feedback_text: null });

    const resolved = await resolve(tenant, created.id);
    // Resolving keeps the escalation on record.
    expect(resolved).toMatchObject({ status: "resolved", escalated: true, escalation_reason: TEXTS.billingReason });

    const requests = await received(key, 4);
    for (const body of bodies(requests)) expectGuideShape(body, body.event);
    expect(bodyOf(requests, "query.escalated").data).toEqual({
      query_id: created.id,
      user_id: user,
      category: "Billing",
      sentiment: "Negative",
      priority: 5,
      escalation_reason: TEXTS.billingReason,
      query: TEXTS.chargedTwice,
    });
    expect(bodyOf(requests, "feedback.received").data).toEqual({
      query_id: created.id,
      user_id: user,
      rating: 2,
      feedback_text: null,
      category: "Billing",
    });
    expect(bodyOf(requests, "query.resolved").data).toMatchObject({ category: "Billing", response: TEXTS.response });
  });

  it("a query triage escalates publishes query.created then query.escalated, both delivered with the guide's fields", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("triage");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const text = "I was charged twice for the same subscription and I will sue";

    const created = await createQuery(tenant, { query: text });
    expect(created).toMatchObject({
      category: "Billing",
      status: "escalated",
      escalated: true,
      escalation_reason: "Legal language detected - requires manual review",
    });
    expect(created.escalated_at).toBe(created.created_at);
    expect(created.events.map((e) => e.event)).toEqual(["query.created", "query.escalated"]);

    const requests = await received(key, 2);
    for (const body of bodies(requests)) expectGuideShape(body, body.event);
    expect(bodyOf(requests, "query.escalated").data).toMatchObject({
      query_id: created.id,
      escalation_reason: "Legal language detected - requires manual review",
      query: text,
    });
    expect(bodyOf(requests, "query.created").data.query_id).toBe(created.id);
  });

  it("supplied category, sentiment and priority reach the payloads as given", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("supplied");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });

    const created = await createQuery(tenant, { query: TEXTS.chargedTwice, category: "Billing", sentiment: "Angry", priority: 9 });
    expect(created).toMatchObject({ category: "Billing", sentiment: "Angry", priority: 9, status: "escalated" });
    expect(created.escalation_reason).toBe("Angry customer - Billing issue needs human attention");

    const requests = await received(key, 2);
    for (const body of bodies(requests)) expectGuideShape(body, body.event);
    // The guide's own query.escalated example, but for the reason wording.
    expect(bodyOf(requests, "query.escalated").data).toMatchObject({ category: "Billing", sentiment: "Angry", priority: 9, query: TEXTS.chargedTwice });
  });
});

describe("resolution time", () => {
  it("is the seconds from creation to resolution, to a tenth, in the response, the payload and GET", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("timing");
    await receiverWebhook(tenant, key, "200", { events: ["query.resolved"] });
    const created = await createQuery(tenant, { query: TEXTS.crash });
    // As if created 330.5 s ago (the guide's example), without waiting.
    await backdate(created.id, 330_500);

    const resolved = await resolve(tenant, created.id);
    const row = (await storedQuery(created.id))!;
    const expected = Math.round(((row.resolved_at as number) - (row.created_at as number)) / 100) / 10;

    expect(resolved.resolution_time_seconds).toBe(expected);
    expect(expected).toBeGreaterThanOrEqual(330.5);
    expect(expected).toBeLessThan(335);
    expect(Math.round(expected * 10) / 10).toBe(expected);
    expect(row.resolution_time_seconds).toBe(expected);
    expect((await getQuery(tenant, created.id)).resolution_time_seconds).toBe(expected);

    const [request] = await received(key, 1);
    const body = JSON.parse(request.body);
    expectGuideShape(body, "query.resolved");
    expect(body.data.resolution_time_seconds).toBe(expected);
  });

  it("of an escalated query still counts from creation, not from the escalation", async () => {
    const tenant = await createTenant();
    const created = await createQuery(tenant, { query: TEXTS.chargedTwice });
    await backdate(created.id, 60_000);
    await escalate(tenant, created.id);
    const resolved = await resolve(tenant, created.id);
    expect(resolved.resolution_time_seconds).toBeGreaterThanOrEqual(60);
    expect(resolved.resolution_time_seconds).toBeLessThan(65);
  });

  it("is a number even for an immediate resolution", async () => {
    const tenant = await createTenant();
    const created = await createQuery(tenant, { query: TEXTS.crash });
    const resolved = await resolve(tenant, created.id);
    expect(typeof resolved.resolution_time_seconds).toBe("number");
    expect(resolved.resolution_time_seconds).toBeGreaterThanOrEqual(0);
  });
});

describe("subscriptions", () => {
  it("a webhook subscribed to some types receives only those", async () => {
    const tenant = await createTenant();
    const [allKey, escalatedKey, feedbackKey, resolvedAndCreatedKey] = [uniqueKey("all"), uniqueKey("esc"), uniqueKey("fb"), uniqueKey("rc")];
    await receiverWebhook(tenant, allKey, "200", { events: GUIDE_EVENTS });
    await receiverWebhook(tenant, escalatedKey, "200", { events: ["query.escalated"] });
    await receiverWebhook(tenant, feedbackKey, "200", { events: ["feedback.received"] });
    await receiverWebhook(tenant, resolvedAndCreatedKey, "200", { events: ["query.resolved", "query.created"] });

    const created = await createQuery(tenant, { query: TEXTS.chargedTwice });
    expect(created.events.map((e) => [e.event, e.deliveries_scheduled])).toEqual([["query.created", 2]]);
    const escalated = await escalate(tenant, created.id);
    expect(escalated.events.map((e) => [e.event, e.deliveries_scheduled])).toEqual([["query.escalated", 2]]);
    const resolved = await resolve(tenant, created.id);
    expect(resolved.events.map((e) => [e.event, e.deliveries_scheduled])).toEqual([["query.resolved", 2]]);
    const feedback = await giveFeedback(tenant, created.id, { rating: 5, feedback_text: "Great" });
    expect(feedback.events.map((e) => [e.event, e.deliveries_scheduled])).toEqual([["feedback.received", 2]]);

    expect(await settledDeliveries(tenant.id)).toEqual({ success: 8 });
    expect(
      bodies(await received(allKey, 4))
        .map((b) => b.event)
        .sort(),
    ).toEqual([...GUIDE_EVENTS].sort());
    expect(bodies(await received(escalatedKey, 1)).map((b) => b.event)).toEqual(["query.escalated"]);
    expect(bodies(await received(feedbackKey, 1)).map((b) => b.event)).toEqual(["feedback.received"]);
    expect(
      bodies(await received(resolvedAndCreatedKey, 2))
        .map((b) => b.event)
        .sort(),
    ).toEqual(["query.created", "query.resolved"]);
  });
});

describe("GET /api/v1/queries/{id}", () => {
  it("shows the query with its feedback and the events it produced, as stored and delivered", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("detail");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });
    const created = await createQuery(tenant, { query: TEXTS.crash });
    const resolved = await resolve(tenant, created.id);
    const feedback = await giveFeedback(tenant, created.id, { rating: 4, feedback_text: TEXTS.feedback });

    const detail = await getQuery(tenant, created.id);
    const { events: _createdEvents, ...createdView } = created;
    const { events: _resolvedEvents, ...resolvedView } = resolved;
    expect(detail).toMatchObject({ ...createdView, ...resolvedView });
    expect(detail.feedback).toEqual({ id: feedback.id, rating: 4, feedback_text: TEXTS.feedback, created_at: feedback.created_at });
    expect(detail.events.map((e) => e.event)).toEqual(["query.created", "query.resolved", "feedback.received"]);
    expect(detail.events.map((e) => e.event_id)).toEqual([...created.events, ...resolved.events, ...feedback.events].map((e) => e.event_id));
    for (const e of detail.events) {
      expect(e.deliveries_scheduled).toBe(1);
      expect(e.created_at).toMatch(GUIDE_TIMESTAMP);
      expect(Object.keys(e.data).sort()).toEqual(guideKeys(e.event as GuideEvent));
    }

    // What GET shows is what the receiver got.
    const requests = await received(key, 3);
    for (const e of detail.events) expect(bodyOf(requests, e.event as GuideEvent).data).toEqual(e.data);
    expect((await storedEvents(tenant.id)).map((e) => e.query_id)).toEqual([created.id, created.id, created.id]);
  });

  it("an open query without feedback shows feedback null and its one event", async () => {
    const tenant = await createTenant();
    const created = await createQuery(tenant, { query: "What are your office hours?" });
    const detail = await getQuery(tenant, created.id);
    expect(detail).toMatchObject({ id: created.id, status: "open", category: "General", sentiment: "Neutral", priority: 3, feedback: null });
    expect(detail.events).toHaveLength(1);
    expect(detail.events[0]).toMatchObject({ event: "query.created", deliveries_scheduled: 0 });
    expect(detail.events[0].data).toEqual({
      query_id: created.id,
      user_id: created.user_id,
      category: "General",
      sentiment: "Neutral",
      priority: 3,
      query: "What are your office hours?",
    });
  });
});
