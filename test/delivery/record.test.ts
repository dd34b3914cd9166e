import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldCounterDeltas } from "../../src/db/counters";
import type { AttemptResult } from "../../src/delivery/attempt";
import { type AttemptOutcome, recordOutcomes } from "../../src/delivery/record";
import type { DeliveryVerdict } from "../../src/delivery/retry-policy";
import { newTimeOrderedId } from "../../src/lib/ids";
import { consume, deliveryLog, eventually, insertDelivery, job, receiverWebhook, storedDelivery, webhookView } from "../helpers/delivery";
import { api, createTenant, createWebhook, receiver, uniqueKey, webhookBody } from "../helpers/harness";

const answered = (statusCode: number): AttemptResult => ({
  statusCode,
  error: statusCode < 300 ? null : `HTTP ${statusCode}`,
  responseTimeMs: 3,
  responseExcerpt: "ok",
  attemptedAt: Date.now(),
  class: statusCode < 300 ? "success" : "permanent",
  retryAfterSeconds: null,
});

/** Endpoint-health rules that never disable anyone here. */
const HEALTH = { afterFailures: 1_000_000, minMs: 0 };

/** An outcome of a first attempt; `event` matters only to a delivery not written yet (its row is inserted from it). */
const outcome = (webhookId: string, deliveryId: string, statusCode: number, verdict: DeliveryVerdict, event?: AttemptOutcome["event"]): AttemptOutcome => ({
  deliveryId,
  webhookId,
  event: event ?? { tenantId: "unused", eventId: deliveryId, type: "query.created", createdAt: 0 },
  attemptsBefore: 0,
  result: answered(statusCode),
  verdict,
});

const storedCounters = (id: string) =>
  env.DB.prepare("SELECT delivery_count, failure_count FROM webhooks WHERE id = ?").bind(id).first<{ delivery_count: number; failure_count: number }>();
/** env.DB, noting the number of statements of each batch run through it. */
function countingD1() {
  const batches: number[] = [];
  const d1 = {
    prepare: (query: string) => env.DB.prepare(query),
    batch: (statements: D1PreparedStatement[]) => {
      batches.push(statements.length);
      return env.DB.batch(statements);
    },
  } as unknown as D1Database;
  return { d1, batches };
}

const deltaRows = async () => (await env.DB.prepare("SELECT count(*) AS n FROM webhook_counter_deltas").first<{ n: number }>())!.n;

describe("recordOutcomes: a handful of statements per batch, counters equal to the log", () => {
  it("writes 250 outcomes across 3 webhooks in one batch of 3 statements (1 upsert, 1 counter row, health); the counters count each finished delivery once, before and after the fold", async () => {
    const tenant = await createTenant();
    const hooks = await Promise.all([1, 2, 3].map(() => createWebhook(tenant, webhookBody())));
    const outcomes: AttemptOutcome[] = [];
    for (let i = 0; i < 250; i++) {
      const hook = hooks[i % 3];
      const { deliveryId } = await insertDelivery(tenant, hook.id);
      outcomes.push(i % 5 === 0 ? outcome(hook.id, deliveryId, 404, { status: "failed" }) : outcome(hook.id, deliveryId, 200, { status: "success" }));
    }
    const deltasBefore = await deltaRows();
    const counting = countingD1();
    await recordOutcomes(counting.d1, outcomes, HEALTH);
    expect(counting.batches).toEqual([3]);
    // One counter row for the write (up to 500 outcomes), not one per webhook or per 100; the webhook rows are untouched.
    expect((await deltaRows()) - deltasBefore).toBe(1);
    expect(await storedCounters(hooks[0].id)).toEqual({ delivery_count: 0, failure_count: 0 });

    const expected = hooks.map((hook) => {
      const mine = outcomes.filter((o) => o.webhookId === hook.id);
      return { delivery_count: mine.length, failure_count: mine.filter((o) => o.verdict.status === "failed").length };
    });
    for (const [i, hook] of hooks.entries()) expect(await webhookView(tenant, hook.id)).toMatchObject(expected[i]);

    await foldCounterDeltas(env.DB);
    expect(await deltaRows()).toBe(0);
    for (const [i, hook] of hooks.entries()) {
      expect(await storedCounters(hook.id)).toEqual(expected[i]);
      expect(await webhookView(tenant, hook.id)).toMatchObject(expected[i]);
    }
  });

  it("a duplicate recording (another consumer was first) changes nothing and leaves the counters exact", async () => {
    const tenant = await createTenant();
    const hook = await createWebhook(tenant, webhookBody());
    const first = await insertDelivery(tenant, hook.id);
    const second = await insertDelivery(tenant, hook.id);
    const firstDone = outcome(hook.id, first.deliveryId, 200, { status: "success" });
    await recordOutcomes(env.DB, [firstDone], HEALTH);

    // The same delivery again (already finished) next to a new one: the upsert changes one row
    // of two, so the single-upsert write is rolled back and the exact path counts only the
    // qualifying row (the new one): 2 delta statements, 1 upsert and 1 health update.
    const counting = countingD1();
    await recordOutcomes(counting.d1, [firstDone, outcome(hook.id, second.deliveryId, 500, { status: "failed" })], HEALTH);
    expect(counting.batches).toEqual([3, 4]);

    expect(await webhookView(tenant, hook.id)).toMatchObject({ delivery_count: 2, failure_count: 1 });
    await foldCounterDeltas(env.DB);
    expect(await storedCounters(hook.id)).toEqual({ delivery_count: 2, failure_count: 1 });
    // The hourly statistics count each attempt once too: the duplicate is not an attempt made.
    const hourly = await env.DB.prepare(
      "SELECT sum(attempts) AS attempts, sum(succeeded) AS succeeded, sum(failed) AS failed FROM webhook_hourly_stats WHERE webhook_id = ?",
    )
      .bind(hook.id)
      .first();
    expect(hourly).toEqual({ attempts: 2, succeeded: 1, failed: 1 });
    const rows = await env.DB.prepare("SELECT id, status, attempts FROM deliveries WHERE webhook_id = ? ORDER BY id").bind(hook.id).all();
    expect(rows.results).toEqual([
      { id: first.deliveryId, status: "success", attempts: 1 },
      { id: second.deliveryId, status: "failed", attempts: 1 },
    ]);
  });
});

describe("recordOutcomes: a retry's outcome updates its row", () => {
  it("the upsert's update counts as written (one batch of 3), and the delivery counts once when it finishes", async () => {
    const tenant = await createTenant();
    const hook = await createWebhook(tenant, webhookBody());
    const { deliveryId } = await insertDelivery(tenant, hook.id);
    await recordOutcomes(env.DB, [outcome(hook.id, deliveryId, 503, { status: "pending", retryInSeconds: 1 })], HEALTH);
    const counting = countingD1();
    await recordOutcomes(counting.d1, [{ ...outcome(hook.id, deliveryId, 200, { status: "success" }), attemptsBefore: 1 }], HEALTH);
    expect(counting.batches).toEqual([3]);
    expect(await storedDelivery(deliveryId)).toMatchObject({ status: "success", attempts: 2 });
    expect(await webhookView(tenant, hook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
  });
});

describe("recordOutcomes: outcomes too big for one statement", () => {
  it("writes 500 outcomes with 1,024-character excerpts in chunks of 100 (exact path), each row and count once", async () => {
    const tenant = await createTenant();
    const hooks = await Promise.all([1, 2].map(() => createWebhook(tenant, webhookBody())));
    const createdAt = Date.now();
    const outcomes = Array.from({ length: 500 }, (_, i) => {
      const deliveryId = newTimeOrderedId(createdAt);
      const event = { tenantId: tenant.id, eventId: deliveryId, type: "query.created", createdAt };
      const o = outcome(hooks[i % 2].id, deliveryId, i % 4 === 0 ? 404 : 200, { status: i % 4 === 0 ? "failed" : "success" }, event);
      return { ...o, result: { ...o.result, responseExcerpt: "é".repeat(1024) } };
    });
    const counting = countingD1();
    await recordOutcomes(counting.d1, outcomes, HEALTH);
    // 2 delta statements, then 5 upserts and 5 health updates of 100 outcomes each.
    expect(counting.batches).toEqual([12]);
    // Failures fall on every fourth outcome, all of them the first webhook's (even positions).
    expect(await webhookView(tenant, hooks[0].id)).toMatchObject({ delivery_count: 250, failure_count: 125 });
    expect(await webhookView(tenant, hooks[1].id)).toMatchObject({ delivery_count: 250, failure_count: 0 });
    const written = await env.DB.prepare("SELECT count(*) AS n, min(length(last_response_excerpt)) AS len FROM deliveries WHERE tenant_id = ?")
      .bind(tenant.id)
      .first();
    expect(written).toEqual({ n: 500, len: 1024 });
  });
});

describe("a first send is written once, with its first result", () => {
  it("inserts the row of a delivery not written yet; recording it again changes nothing and counts it once", async () => {
    const tenant = await createTenant();
    const hook = await createWebhook(tenant, webhookBody());
    const createdAt = Date.now();
    const eventId = newTimeOrderedId(createdAt);
    await env.DB.prepare(
      "INSERT INTO events (id, tenant_id, type, data, deliveries_scheduled, webhook_ids, created_at) VALUES (?, ?, 'query.created', '{}', 1, ?, ?)",
    )
      .bind(eventId, tenant.id, JSON.stringify([hook.id]), createdAt)
      .run();
    expect(await deliveryLog(tenant, hook.id)).toMatchObject([{ id: eventId, event_id: eventId, status: "pending", attempts: 0 }]);

    const done = outcome(hook.id, eventId, 200, { status: "success" }, { tenantId: tenant.id, eventId, type: "query.created", createdAt });
    await recordOutcomes(env.DB, [done], HEALTH);
    await recordOutcomes(env.DB, [done], HEALTH);

    const row = await env.DB.prepare("SELECT * FROM deliveries WHERE webhook_id = ? AND id = ?").bind(hook.id, eventId).first<Record<string, unknown>>();
    expect(row).toMatchObject({ tenant_id: tenant.id, event_id: eventId, event_type: "query.created", status: "success", attempts: 1, created_at: createdAt });
    expect(JSON.parse(row!.attempt_log as string)).toHaveLength(1);
    expect(await deliveryLog(tenant, hook.id)).toMatchObject([{ id: eventId, status: "success", attempts: 1 }]);
    expect(await webhookView(tenant, hook.id)).toMatchObject({ delivery_count: 1, failure_count: 0 });
  });
});

describe("counters on read: folded value plus unfolded deltas", () => {
  it("list pages and single reads add each webhook's deltas, and only its own", async () => {
    const tenant = await createTenant();
    const hooks = await Promise.all([1, 2, 3].map(() => createWebhook(tenant, webhookBody())));
    await env.DB.prepare("UPDATE webhooks SET delivery_count = 10, failure_count = 1 WHERE id = ?").bind(hooks[0].id).run();
    const deltas = [
      { [hooks[0].id]: [2, 1], [hooks[1].id]: [5, 0], [crypto.randomUUID()]: [7, 7] },
      { [hooks[0].id]: [3, 0], [hooks[2].id]: [1, 1] },
    ];
    for (const counts of deltas) {
      await env.DB.prepare("INSERT INTO webhook_counter_deltas (counts, created_at) VALUES (?, ?)").bind(JSON.stringify(counts), Date.now()).run();
    }
    const expected = { [hooks[0].id]: [15, 2], [hooks[1].id]: [5, 0], [hooks[2].id]: [1, 1] };

    for (const limit of [1, 3]) {
      const res = await api(`/api/v1/webhooks?limit=${limit}&skip=0`, { key: tenant.key });
      const page = (await res.json()) as Array<{ id: string; delivery_count: number; failure_count: number }>;
      expect(page).toHaveLength(limit);
      for (const hook of page) expect([hook.delivery_count, hook.failure_count]).toEqual(expected[hook.id]);
    }
    for (const hook of hooks) {
      expect(await webhookView(tenant, hook.id)).toMatchObject({ delivery_count: expected[hook.id][0], failure_count: expected[hook.id][1] });
    }
    const updated = await api(`/api/v1/webhooks/${hooks[0].id}`, { method: "PUT", key: tenant.key, json: { description: "x" } });
    expect(await updated.json()).toMatchObject({ delivery_count: 15, failure_count: 2 });
  });
});

describe("the consumer records outcomes as they come", () => {
  it("writes results as they come (group commit): a hanging attempt does not hold back the others' results", async () => {
    const tenant = await createTenant();
    const fast = await receiverWebhook(tenant, uniqueKey());
    const slowKey = uniqueKey();
    const slow = await receiverWebhook(tenant, slowKey, "hang");
    const fastIds: string[] = [];
    for (let i = 0; i < 100; i++) fastIds.push((await insertDelivery(tenant, fast.id)).deliveryId);
    const hung = await insertDelivery(tenant, slow.id);
    const succeeded = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ? AND status = 'success'").bind(fast.id).first<{ n: number }>())!.n;

    let finished = false;
    // Neither detached (SLOW_ATTEMPT_MS) nor timed out (DELIVERY_TIMEOUT_MS) while the test runs:
    // the hanging attempt holds the batch until the receiver is told to answer it, and the 100
    // others are logged meanwhile, however long this machine takes to make them.
    const consuming = consume([job(slow.id, hung.deliveryId), job(fast.id, ...fastIds)], { SLOW_ATTEMPT_MS: "60000", DELIVERY_TIMEOUT_MS: "60000" }).then(
      () => (finished = true),
    );
    await eventually(async () => (await succeeded()) === 100);
    expect(finished).toBe(false);
    expect(await storedDelivery(hung.deliveryId)).toMatchObject({ status: "pending", attempts: 0 });

    await eventually(async () => (await receiver.release(slowKey)) === 1);
    await consuming;
    expect(await storedDelivery(hung.deliveryId)).toMatchObject({ status: "success", attempts: 1, last_status_code: 200 });
  });
});
