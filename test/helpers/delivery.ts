import { createExecutionContext, createMessageBatch, getQueueResult, type QueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { expect, vi } from "vitest";
import { runBatch } from "../../src/db/batch";
import { unwrittenDeliveries } from "../../src/db/unwritten-deliveries";
import type { DeliveryJob, DeliveryRef } from "../../src/delivery/job";
import { LANE_QUEUES, type Lane } from "../../src/delivery/lanes";
import type { Env } from "../../src/env";
import { EVENT_CATALOG, type EventType } from "../../src/events/catalog";
import entry from "../../src/index";
import { newTimeOrderedId } from "../../src/lib/ids";
import type { DeliveryDetailView as DeliveryDetail, DeliveryView } from "../../src/routes/deliveries/deliveries.routes";
import type { ReceivedRequest } from "../setup/receiver";
import { api, createWebhook, receiver, type Tenant, type WebhookCreated, type WebhookView, webhookBody } from "./harness";

/** The guide's example `data` of each event type: valid publish bodies. */
export const exampleData = (type: EventType): Record<string, unknown> => ({ ...EVENT_CATALOG[type].example });

import type { AttemptRecord as AttemptView } from "../../src/db/schema";
import type { PublishResult as Published } from "../../src/services/events";

/** A delivery as the log shows it; the detail adds attempt_log. */
export type { DeliveryDetailView as DeliveryDetail, DeliveryView } from "../../src/routes/deliveries/deliveries.routes";
export type { AttemptView, Published };

/** POST /api/v1/events as the tenant. */
export function publish(tenant: Tenant, event: string, data: unknown, headers: Record<string, string> = {}) {
  return api("/api/v1/events", { method: "POST", key: tenant.key, headers, json: { event, data } });
}

/** Publishes and asserts the 202. */
export async function published(tenant: Tenant, event: EventType, data = exampleData(event), headers: Record<string, string> = {}) {
  const res = await publish(tenant, event, data, headers);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return JSON.parse(text) as Published;
}

/**
 * A webhook of the tenant pointing at the local receiver under `key`, scripted with `respond`
 * (test/setup/receiver.ts; default 200), subscribed to query.created unless `overrides` says
 * otherwise (e.g. `{ events: GUIDE_EVENTS }`).
 */
export function receiverWebhook(tenant: Tenant, key: string, respond?: string, overrides: Record<string, unknown> = {}): Promise<WebhookCreated> {
  return createWebhook(tenant, webhookBody({ url: receiver.url(key, respond), events: ["query.created"], ...overrides }));
}

/** `n` webhooks of the tenant at `url`, subscribed to `event`, created through the API 25 at a time. */
export async function manyWebhooks(tenant: Tenant, n: number, url: string, event: EventType = "query.created"): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 25) {
    const created = await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => createWebhook(tenant, webhookBody({ url, events: [event] }))));
    ids.push(...created.map((w) => w.id));
  }
  return ids;
}

export async function deliveryLog(tenant: Tenant, webhookId: string, query = ""): Promise<DeliveryView[]> {
  const res = await api(`/api/v1/webhooks/${webhookId}/deliveries${query}`, { key: tenant.key });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as DeliveryView[];
}

export async function deliveryDetail(tenant: Tenant, webhookId: string, deliveryId: string): Promise<DeliveryDetail> {
  const res = await api(`/api/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, { key: tenant.key });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as DeliveryDetail;
}

export async function webhookView(tenant: Tenant, webhookId: string): Promise<WebhookView> {
  const res = await api(`/api/v1/webhooks/${webhookId}`, { key: tenant.key });
  expect(res.status).toBe(200);
  return (await res.json()) as WebhookView;
}

const POLL = { timeout: 15_000, interval: 25 };

/** Polls until `check` returns a value that is not null/undefined/false, and returns it. */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeout = POLL.timeout): Promise<T> {
  return (await vi.waitUntil(check, { ...POLL, timeout })) as T;
}

/** The webhook's only delivery once it has left `pending`, with its attempt log. */
export async function finishedDelivery(tenant: Tenant, webhookId: string): Promise<DeliveryDetail> {
  const [delivery] = await eventually(async () => {
    const log = await deliveryLog(tenant, webhookId);
    return log.length === 1 && log[0].status !== "pending" ? log : null;
  });
  return deliveryDetail(tenant, webhookId, delivery.id);
}

/** A retry is hurried only while its delay has this long left to run, so the queue's own job cannot come first. */
const HURRY_MARGIN_MS = 500;

/**
 * The webhook's `count` deliveries (rows straight from D1) once none is pending, their retries
 * made now rather than after their delays: for tests about what a retry does, not when (the
 * delays asked for are asserted in retries.test.ts, and the guide's 1 s and 2 s waited out there
 * once). Each delivery left pending after an attempt is made due and the Worker's queue handler
 * runs its retry's job at once (on the lane the retry took; jobs it sends go to the real queues).
 * The job the consumer sent with the delay arrives later and does nothing: its attempt count is
 * stale. A retry whose delay has nearly run out (a slow machine) is left to the queue: two
 * attempts at once would both reach the receiver (at-least-once).
 */
export async function finishedHurrying(webhookId: string, count = 1): Promise<{ id: string; status: string; attempts: number }[]> {
  const hurried = new Set<string>();
  return eventually(async () => {
    const { results } = await env.DB.prepare("SELECT id, status, attempts FROM deliveries WHERE webhook_id = ?")
      .bind(webhookId)
      .all<{ id: string; status: string; attempts: number }>();
    for (const { id, status, attempts } of results) {
      if (status !== "pending" || attempts === 0 || hurried.has(`${id}/${attempts}`)) continue;
      hurried.add(`${id}/${attempts}`);
      await hurryRetry(webhookId, id, attempts);
    }
    return results.length === count && results.every((d) => d.status !== "pending") ? results : null;
  });
}

async function hurryRetry(webhookId: string, deliveryId: string, attempt: number): Promise<void> {
  const now = Date.now();
  const due = await env.DB.prepare(
    "UPDATE deliveries SET next_attempt_at = ? WHERE webhook_id = ? AND id = ? AND status = 'pending' AND attempts = ? AND next_attempt_at > ?",
  )
    .bind(now, webhookId, deliveryId, attempt, now + HURRY_MARGIN_MS)
    .run();
  if (due.meta.changes === 0) return;
  const webhook = await env.DB.prepare("SELECT slow_until FROM webhooks WHERE id = ?").bind(webhookId).first<{ slow_until: number | null }>();
  const lane = (webhook?.slow_until ?? 0) > now ? "slow" : "fast";
  const realQueues = { DELIVERY_QUEUE: env.DELIVERY_QUEUE, SLOW_DELIVERY_QUEUE: env.SLOW_DELIVERY_QUEUE };
  await consume([{ deliveries: [{ webhookId, deliveryId, attempt }] }], realQueues, lane);
}

/** The receiver's requests under `key` once there are at least `count`. */
export function receivedAtLeast(key: string, count: number): Promise<ReceivedRequest[]> {
  return eventually(async () => {
    const requests = await receiver.requests(key);
    return requests.length >= count ? requests : null;
  });
}

/** The Worker's default export, typed as the runtime calls it (handler, env, ctx). */
export const worker = entry as ExportedHandler<Env, DeliveryJob> & Required<Pick<ExportedHandler<Env, DeliveryJob>, "queue" | "scheduled">>;

/** The stored delivery row, straight from D1. */
export const storedDelivery = (deliveryId: string) => env.DB.prepare("SELECT * FROM deliveries WHERE id = ?").bind(deliveryId).first<Record<string, unknown>>();

export const storedEventCount = async (tenantId: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE tenant_id = ?").bind(tenantId).first<{ n: number }>())!.n;

/** The tenant's deliveries by status, written or not yet (a first send's row is written with its first result: src/db/unwritten-deliveries.ts). */
export async function deliveriesByStatus(tenantId: string): Promise<Record<string, number>> {
  const [counted] = await runBatch<{ status: string; n: number }>(env.DB, [
    sql`SELECT status, count(*) AS n FROM (SELECT status FROM deliveries WHERE tenant_id = ${tenantId} UNION ALL SELECT status FROM (${unwrittenDeliveries(tenantId)}))
      GROUP BY status`,
  ]);
  return Object.fromEntries(counted.results.map((r) => [r.status, r.n]));
}

export const storedDeliveryCount = async (tenantId: string) => Object.values(await deliveriesByStatus(tenantId)).reduce((sum, n) => sum + n, 0);

/**
 * Writes an event and one pending delivery for the webhook straight into D1, bypassing the
 * publish API, so no job reaches the real queue: the test decides which jobs exist.
 */
export async function insertDelivery(
  tenant: Tenant,
  webhookId: string,
  row: { attempts?: number; nextAttemptAt?: number; status?: string; createdAt?: number; data?: Record<string, unknown> } = {},
): Promise<{ eventId: string; deliveryId: string; createdAt: number }> {
  const createdAt = row.createdAt ?? Date.now();
  const eventId = newTimeOrderedId(createdAt);
  const deliveryId = newTimeOrderedId(createdAt);
  await env.DB.batch([
    env.DB.prepare("INSERT INTO events (id, tenant_id, type, data, deliveries_scheduled, created_at) VALUES (?, ?, 'query.created', ?, 1, ?)").bind(
      eventId,
      tenant.id,
      JSON.stringify(row.data ?? exampleData("query.created")),
      createdAt,
    ),
    env.DB.prepare(
      `INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, attempt_log, created_at)
       VALUES (?, ?, ?, ?, 'query.created', ?, ?, ?, '[]', ?)`,
    ).bind(deliveryId, tenant.id, webhookId, eventId, row.status ?? "pending", row.attempts ?? 0, row.nextAttemptAt ?? createdAt, createdAt),
  ]);
  return { eventId, deliveryId, createdAt };
}

/** Sets when a pending delivery is due (epoch ms), straight in D1. */
export const setDueAt = (deliveryId: string, dueAt: number) =>
  env.DB.prepare("UPDATE deliveries SET next_attempt_at = ? WHERE id = ?").bind(dueAt, deliveryId).run();

/** Makes a pending delivery due now, as if its retry delay had passed. */
export const makeDue = (deliveryId: string) => setDueAt(deliveryId, Date.now());

export const job = (webhookId: string, ...deliveryIds: string[]): DeliveryJob => ({
  deliveries: deliveryIds.map((deliveryId) => ({ webhookId, deliveryId })),
});

/** A stand-in queue that keeps what is sent to it (sendBatch calls), for tests that decide which jobs exist. */
export function recordingQueue() {
  const calls: MessageSendRequest<DeliveryJob>[][] = [];
  const queue = {
    send: async () => {
      throw new Error("send is not used");
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<DeliveryJob>>) => {
      calls.push([...messages]);
    },
  } as unknown as Queue<DeliveryJob>;
  return { queue, calls, refs: () => calls.flat().flatMap((m) => m.body.deliveries) };
}

/** A job the consumer sent: on which lane, for which delivery, with which delay. */
export interface SentJob {
  lane: Lane;
  ref: DeliveryRef;
  delaySeconds: number | undefined;
}

export interface ConsumeResult extends QueueResult {
  /** The jobs the batch sent (retries, deferrals, hand-offs), one delivery each. */
  sent: SentJob[];
}

/**
 * Runs the Worker's queue handler on a hand-made batch of `lane` and returns what it acked
 * and the jobs it sent; the sent jobs are kept, not queued, so the test decides what runs next.
 */
export async function consume(jobs: DeliveryJob[], overrides: Partial<Env> = {}, lane: Lane = "fast"): Promise<ConsumeResult> {
  const batch = createMessageBatch<DeliveryJob>(
    LANE_QUEUES[lane],
    jobs.map((body, i) => ({ id: `msg-${i + 1}`, timestamp: new Date(), attempts: 1, body })),
  );
  const queues = { fast: recordingQueue(), slow: recordingQueue() };
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, DELIVERY_QUEUE: queues.fast.queue, SLOW_DELIVERY_QUEUE: queues.slow.queue, ...overrides }, ctx);
  const result = await getQueueResult(batch, ctx); // waits for detached attempts (ctx.waitUntil) too
  const sent = (["fast", "slow"] as const).flatMap((l) =>
    queues[l].calls.flat().flatMap((m) => m.body.deliveries.map((ref) => ({ lane: l, ref, delaySeconds: m.delaySeconds }))),
  );
  return { ...result, sent };
}

/**
 * Asserts that the receiver's count under `key` stays at `count` until `untilMs`: the one
 * place a test must let time pass, to show that a retry the queue may still hold does nothing.
 */
export async function staysAt(key: string, count: number, untilMs: number): Promise<void> {
  do {
    expect(await receiver.requests(key)).toHaveLength(count);
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < untilMs);
  expect(await receiver.requests(key)).toHaveLength(count);
}
