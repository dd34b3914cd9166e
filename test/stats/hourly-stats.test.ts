import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AttemptRecord } from "../../src/db/schema";
import { bucketBounds, responseBucket } from "../../src/lib/response-histogram";
import { finishedHurrying, published, receiverWebhook, worker } from "../helpers/delivery";
import { api, createTenant, type Tenant, uniqueKey } from "../helpers/harness";

const HOUR = 60 * 60 * 1000;

interface Figures {
  attempts: number;
  succeeded: number;
  failed: number;
  p50_response_ms: number | null;
  p95_response_ms: number | null;
}
interface WebhookStats {
  webhook_id: string;
  since: string;
  until: string;
  totals: Figures;
  hours: (Figures & { hour: string })[];
}

async function webhookStats(tenant: Tenant, webhookId: string, query = "") {
  const res = await api(`/api/v1/webhooks/${webhookId}/stats${query}`, { key: tenant.key });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as WebhookStats;
}

/** The webhook's stored deliveries, straight from D1: what the statistics must summarise. */
async function storedLog(webhookId: string) {
  const { results } = await env.DB.prepare("SELECT status, attempt_log FROM deliveries WHERE webhook_id = ?")
    .bind(webhookId)
    .all<{ status: string; attempt_log: string }>();
  return results.map((r) => ({ status: r.status, attempts: JSON.parse(r.attempt_log) as AttemptRecord[] }));
}

const hourOf = (iso: string) => new Date(Math.floor(Date.parse(iso) / HOUR) * HOUR).toISOString().replace(".000Z", "Z");

/** The figures the delivery log gives, by the hour of each attempt (a delivery's outcome in the hour of its last attempt). */
function expectedByHour(log: Awaited<ReturnType<typeof storedLog>>) {
  const hours = new Map<string, { attempts: number; succeeded: number; failed: number }>();
  const at = (hour: string) => hours.get(hour) ?? hours.set(hour, { attempts: 0, succeeded: 0, failed: 0 }).get(hour)!;
  for (const delivery of log) {
    for (const attempt of delivery.attempts) at(hourOf(attempt.attempted_at)).attempts++;
    const last = hourOf(delivery.attempts.at(-1)!.attempted_at);
    if (delivery.status === "success") at(last).succeeded++;
    if (delivery.status === "failed") at(last).failed++;
  }
  return hours;
}

/** The exact q-th percentile (nearest rank) lies in the same √2-wide bucket as the one the API estimates. */
function expectSameBucket(estimate: number | null, times: number[], q: number) {
  const sorted = [...times].sort((a, b) => a - b);
  const exact = sorted[Math.ceil(q * sorted.length) - 1];
  const [low, high] = bucketBounds(responseBucket(exact));
  expect(estimate).not.toBeNull();
  expect(estimate!).toBeGreaterThanOrEqual(Math.floor(low * 10) / 10);
  expect(estimate!).toBeLessThanOrEqual(Math.ceil(high * 10) / 10);
}

/** Waits until each webhook has `n` deliveries, none pending; retries are made at once, not after their delays. */
async function allFinished(hooks: { id: string }[], n: number) {
  for (const hook of hooks) await finishedHurrying(hook.id, n);
}

/** The cron's first run of the next hour, when it folds the deltas of this one. */
const runCron = async () => {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + HOUR, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
};

describe("hourly statistics: what the deliveries did, kept past the delivery log", () => {
  it("equal the deliveries they summarise (published through HTTP to a real receiver, with failures and retries), before and after the fold", async () => {
    const tenant = await createTenant();
    const ok = await receiverWebhook(tenant, uniqueKey("ok"));
    const refuses = await receiverWebhook(tenant, uniqueKey("refuses"), "404"); // permanent: one attempt, failed
    const flaky = await receiverWebhook(tenant, uniqueKey("flaky"), "500,200,500"); // retried: one success at most, the rest fail after 3 attempts
    const hooks = [ok, refuses, flaky];
    const events = 3;
    for (let i = 0; i < events; i++) await published(tenant, "query.created");
    await allFinished(hooks, events);

    const before = new Map<string, WebhookStats>();
    for (const hook of hooks) {
      const log = await storedLog(hook.id);
      const stats = await webhookStats(tenant, hook.id);
      before.set(hook.id, stats);
      const times = log.flatMap((d) => d.attempts.map((a) => a.response_time_ms));
      expect(stats.totals).toMatchObject({
        attempts: times.length,
        succeeded: log.filter((d) => d.status === "success").length,
        failed: log.filter((d) => d.status === "failed").length,
      });
      const nonZero = stats.hours.filter((h) => h.attempts > 0).map(({ hour, attempts, succeeded, failed }) => [hour, { attempts, succeeded, failed }]);
      expect(Object.fromEntries(nonZero)).toEqual(Object.fromEntries(expectedByHour(log)));
      expectSameBucket(stats.totals.p50_response_ms, times, 0.5);
      expectSameBucket(stats.totals.p95_response_ms, times, 0.95);
    }
    // The scripts' outcomes, as a reader would count them.
    expect(before.get(ok.id)!.totals).toMatchObject({ attempts: 3, succeeded: 3, failed: 0 });
    expect(before.get(refuses.id)!.totals).toMatchObject({ attempts: 3, succeeded: 0, failed: 3 });
    // The flaky script is shared by concurrent deliveries, so which one gets the 200 varies; it retried some.
    expect(before.get(flaky.id)!.totals.attempts).toBeGreaterThan(events);

    // The cron folds the deltas into webhook_hourly_stats (one row per webhook and hour) and the answer stays the same.
    await runCron();
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_counter_deltas").first<{ n: number }>())!.n).toBe(0);
    for (const hook of hooks) {
      const rows = await env.DB.prepare("SELECT attempts FROM webhook_hourly_stats WHERE webhook_id = ?").bind(hook.id).all<{ attempts: number }>();
      expect(rows.results.length).toBeGreaterThanOrEqual(1);
      expect(rows.results.reduce((sum, r) => sum + r.attempts, 0)).toBe(before.get(hook.id)!.totals.attempts);
      const after = await webhookStats(tenant, hook.id, `?since=${before.get(hook.id)!.since}&until=${before.get(hook.id)!.until}`);
      expect(after).toEqual(before.get(hook.id));
    }

    // More attempts after the fold merge into the same hour's row (counts added, histograms merged).
    await published(tenant, "query.created");
    await allFinished(hooks, events + 1);
    await runCron();
    const okLog = await storedLog(ok.id);
    const merged = await webhookStats(tenant, ok.id);
    expect(merged.totals).toMatchObject({ attempts: 4, succeeded: 4, failed: 0 });
    expectSameBucket(
      merged.totals.p50_response_ms,
      okLog.flatMap((d) => d.attempts.map((a) => a.response_time_ms)),
      0.5,
    );

    // The tenant's figures: finished deliveries from the counters, the last 24 hours from the hourly rows.
    const res = await api("/api/v1/stats", { key: tenant.key });
    const stats = (await res.json()) as { deliveries: { by_status: Record<string, number>; last_24h: Figures } };
    const all = (await Promise.all(hooks.map((hook) => storedLog(hook.id)))).flat();
    const count = (status: string) => all.filter((d) => d.status === status).length;
    expect(stats.deliveries.by_status).toEqual({ pending: 0, cancelled: 0, success: count("success"), failed: count("failed") });
    expect(stats.deliveries.last_24h).toMatchObject({
      attempts: all.reduce((n, d) => n + d.attempts.length, 0),
      succeeded: count("success"),
      failed: count("failed"),
    });
  });
});

describe("GET /api/v1/webhooks/{id}/stats", () => {
  it("answers every hour of the range (default the last 24), zeros included", async () => {
    const tenant = await createTenant();
    const hook = await receiverWebhook(tenant, uniqueKey("quiet"));
    const stats = await webhookStats(tenant, hook.id);
    expect(stats.hours).toHaveLength(24);
    expect(stats.totals).toEqual({ attempts: 0, succeeded: 0, failed: 0, p50_response_ms: null, p95_response_ms: null });
    expect(Date.parse(stats.until) - Date.parse(stats.since)).toBeLessThanOrEqual(24 * HOUR);
    expect(stats.hours[0].hour).toBe(stats.since);

    const ranged = await webhookStats(tenant, hook.id, "?since=2024-11-24T12:30:00Z&until=2024-11-24T15:00:00Z");
    expect(ranged.since).toBe("2024-11-24T12:00:00Z");
    expect(ranged.hours.map((h) => h.hour)).toEqual(["2024-11-24T12:00:00Z", "2024-11-24T13:00:00Z", "2024-11-24T14:00:00Z"]);
  });

  it("another tenant's webhook, a deleted one or an id that is not a UUID: 404", async () => {
    const [owner, stranger] = [await createTenant(), await createTenant()];
    const hook = await receiverWebhook(owner, uniqueKey("mine"));
    const gone = await receiverWebhook(owner, uniqueKey("gone"));
    expect((await api(`/api/v1/webhooks/${gone.id}`, { method: "DELETE", key: owner.key })).status).toBe(204);
    for (const [tenant, id] of [
      [stranger, hook.id],
      [owner, gone.id],
      [owner, "not-a-uuid"],
    ] as const) {
      const res = await api(`/api/v1/webhooks/${id}/stats`, { key: tenant.key });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
  });

  it("refuses a range that is reversed, longer than 31 days, or not ISO 8601 times (422)", async () => {
    const tenant = await createTenant();
    const hook = await receiverWebhook(tenant, uniqueKey("ranges"));
    for (const query of [
      "?since=2024-11-25T00:00:00Z&until=2024-11-24T00:00:00Z",
      "?since=2024-10-01T00:00:00Z&until=2024-11-24T00:00:00Z",
      "?since=yesterday",
    ]) {
      const res = await api(`/api/v1/webhooks/${hook.id}/stats${query}`, { key: tenant.key });
      expect(res.status, query).toBe(422);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("validation_failed");
    }
    // Exactly 31 days is allowed.
    const longest = await webhookStats(tenant, hook.id, "?since=2024-10-24T00:00:00Z&until=2024-11-24T00:00:00Z");
    expect(longest.hours).toHaveLength(31 * 24);
  });
});
