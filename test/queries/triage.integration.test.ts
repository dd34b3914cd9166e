import { describe, expect, it } from "vitest";
import { receiverWebhook } from "../helpers/delivery";
import { createTenant, uniqueKey } from "../helpers/harness";
import { backdate, bodies, bodyOf, createQuery, expectGuideShape, freshUser, GUIDE_EVENTS, received, TEXTS } from "../helpers/queries";

// The rules themselves are unit-tested in test/triage; here: that creation feeds them the
// right inputs (the user's last 24 h in D1, is_vip, supplied values) and stores their verdict.

describe("repeat contact", () => {
  it("the 2nd query of a user within 24 h gets +2 priority; the 3rd is escalated naming the repeat rule", async () => {
    const tenant = await createTenant();
    const key = uniqueKey("repeat");
    await receiverWebhook(tenant, key, "200", { events: ["query.escalated"] });
    const user = freshUser();

    const first = await createQuery(tenant, { user_id: user, query: TEXTS.crash });
    const second = await createQuery(tenant, { user_id: user, query: TEXTS.crash });
    const third = await createQuery(tenant, { user_id: user, query: TEXTS.crash });

    expect(first).toMatchObject({ priority: 5, status: "open", escalated: false });
    // The guide's query.created example: Technical, Negative, priority 7.
    expect(second).toMatchObject({ category: "Technical", sentiment: "Negative", priority: 7, status: "open", escalated: false });
    expect(third).toMatchObject({ priority: 7, status: "escalated", escalated: true });
    expect(third.escalation_reason).toBe("Repeat contact (3rd query in 24h) - Technical issue");
    expect(third.events.map((e) => e.event)).toEqual(["query.created", "query.escalated"]);

    const [request] = await received(key, 1);
    const body = JSON.parse(request.body);
    expectGuideShape(body, "query.escalated");
    expect(body.data).toMatchObject({ query_id: third.id, escalation_reason: third.escalation_reason, priority: 7 });
  });

  it("counts only the same user's queries of the last 24 hours", async () => {
    const tenant = await createTenant();
    const user = freshUser();
    const old = await createQuery(tenant, { user_id: user, query: TEXTS.crash });
    await backdate(old.id, 24 * 60 * 60 * 1000 + 1000);
    await createQuery(tenant, { query: TEXTS.crash }); // another user

    expect(await createQuery(tenant, { user_id: user, query: TEXTS.crash })).toMatchObject({ priority: 5, escalated: false });
    expect(await createQuery(tenant, { user_id: user, query: TEXTS.crash })).toMatchObject({ priority: 7, escalated: false });
  });
});

describe("VIP", () => {
  it("adds 2 to the priority", async () => {
    const tenant = await createTenant();
    expect(await createQuery(tenant, { query: "What are your office hours?" })).toMatchObject({ priority: 3, is_vip: false });
    expect(await createQuery(tenant, { query: "What are your office hours?", is_vip: true })).toMatchObject({ priority: 5, is_vip: true });
    expect(await createQuery(tenant, { query: TEXTS.crash, is_vip: true })).toMatchObject({ priority: 7, escalated: false });
  });

  it("a VIP's repeat contact reaches priority 9 and is escalated as high priority", async () => {
    const tenant = await createTenant();
    const user = freshUser();
    await createQuery(tenant, { user_id: user, query: TEXTS.chargedTwice, is_vip: true });
    const second = await createQuery(tenant, { user_id: user, query: TEXTS.chargedTwice, is_vip: true });
    expect(second).toMatchObject({ category: "Billing", priority: 9, status: "escalated" });
    // The guide's own reason wording for a billing dispute.
    expect(second.escalation_reason).toBe(`High priority (9) - ${TEXTS.billingReason}`);
  });
});

describe("escalation phrases", () => {
  it.each([
    ["I will sue you over this invoice", "Billing", "Legal language detected - requires manual review"],
    ["I want to speak to manager about my invoice", "Billing", TEXTS.billingReason],
    ["Let me talk to a manager about the export", "Technical", "Technical issue - requires manual review"],
  ])("%j escalates at creation", async (query, category, reason) => {
    const tenant = await createTenant();
    const key = uniqueKey("phrase");
    await receiverWebhook(tenant, key, "200", { events: GUIDE_EVENTS });

    const created = await createQuery(tenant, { query });
    expect(created).toMatchObject({ category, status: "escalated", escalated: true, escalation_reason: reason });

    const requests = await received(key, 2);
    for (const body of bodies(requests)) expectGuideShape(body, body.event);
    expect(bodyOf(requests, "query.escalated").data).toMatchObject({ query_id: created.id, escalation_reason: reason, category });
  });

  it("a query without them stays open and publishes query.created only", async () => {
    const tenant = await createTenant();
    const created = await createQuery(tenant, { query: "Thanks, the manager dashboard is great" });
    expect(created).toMatchObject({ status: "open", escalated: false, escalation_reason: null, sentiment: "Positive" });
    expect(created.events.map((e) => e.event)).toEqual(["query.created"]);
  });
});

describe("supplied values win over triage", () => {
  it("category, sentiment and priority as given, whatever the text, VIP or repeat", async () => {
    const tenant = await createTenant();
    const user = freshUser();
    await createQuery(tenant, { user_id: user, query: TEXTS.crash });

    const created = await createQuery(tenant, {
      user_id: user,
      query: TEXTS.crash,
      category: "Account",
      sentiment: "Positive",
      priority: 2,
      is_vip: true,
    });
    expect(created).toMatchObject({ category: "Account", sentiment: "Positive", priority: 2, is_vip: true, status: "open", escalated: false });
  });

  it("supplied values drive the escalation decision", async () => {
    const tenant = await createTenant();
    const angry = await createQuery(tenant, { query: "What are your office hours?", sentiment: "Angry" });
    expect(angry).toMatchObject({ status: "escalated", escalation_reason: "Angry customer - General issue needs human attention" });

    const urgent = await createQuery(tenant, { query: "What are your office hours?", priority: 8, category: "Billing" });
    expect(urgent).toMatchObject({ category: "Billing", priority: 8, status: "escalated", escalation_reason: `High priority (8) - ${TEXTS.billingReason}` });

    const calm = await createQuery(tenant, { query: TEXTS.crash, priority: 1 });
    expect(calm).toMatchObject({ category: "Technical", sentiment: "Negative", priority: 1, status: "open" });
  });
});
