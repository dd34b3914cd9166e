#!/usr/bin/env node
// `npm run soak`: a bounded fault test of delivery under `wrangler dev` (local D1 and queues).
//
// EVENTS events to WEBHOOKS endpoints (>= 2,000 deliveries) are published at a steady pace to a
// receiver that answers each attempt as bench/lib/chaos.mjs decides from (webhook-id header,
// attempt): 500 for 30 %, 404 for 5 %, hangs past DELIVERY_TIMEOUT_MS for 2 %, drops the
// connection for 2 %, otherwise 200. Meanwhile the Worker is SIGKILLed and restarted twice on the
// same --persist-to directory (D1 survives; Miniflare's in-memory queue does not), and the cron
// handler (the outbox sweep, SWEEP_GRACE_SECONDS=5) is triggered every few seconds to re-enqueue
// what the crashes lost. Publishes carry an Idempotency-Key and are retried until accepted.
//
// At the end it checks, against the receiver's record of every request and the API:
//   - every publish was stored once with a delivery per webhook, and every delivery finished;
//   - each delivery's recorded attempts are the requests the receiver got, in order, except
//     requests made just before a crash (their outcome died with the process), and its end state
//     is what the policy gives for those answers (2xx → success; 404 → failed after that attempt;
//     500/hang/close → retried, failed after 3 attempts);
//   - no request reached the receiver for a delivery after its final attempt;
//   - each webhook's delivery_count/failure_count equal its delivery log.
// Exits 1 on any mismatch. Bounded: about 2-3 minutes, hard limit DEADLINE_MS.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient, eventData } from "./lib/api.mjs";
import { chaosAnswer, expectedOutcome } from "./lib/chaos.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { pool, table } from "./lib/stats.mjs";
import { applyMigrations, snapshotWorker, WranglerDev, writeConfig } from "./lib/wrangler.mjs";

const WEBHOOKS = 10;
const EVENTS = 250; // × WEBHOOKS = 2,500 deliveries
const PUBLISH_SECONDS = 60;
const KILL_AT_SECONDS = [18, 40]; // after publishing starts
const SWEEP_EVERY_MS = 3000;
const TIMEOUT_MS = 2000;
const MAX_ATTEMPTS = 3;
const DEADLINE_MS = 6 * 60_000;
const PORT = 8796;
const ADMIN_TOKEN = "soak-admin-token";
const VARS = {
  ENVIRONMENT: "development",
  ADMIN_TOKEN,
  SECRET_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString("base64"),
  DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
  DELIVERY_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  DELIVERY_BACKOFF_BASE_SECONDS: "1",
  SWEEP_GRACE_SECONDS: "5",
  LOG_USAGE: "0",
};
/** A request this long before a kill may have been made by a batch whose results died with it. */
const CRASH_WINDOW_MS = TIMEOUT_MS + 5000;

const started = Date.now();
const deadline = started + DEADLINE_MS;
const log = (...parts) => console.log(`[soak +${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s]`, ...parts);
const dir = mkdtempSync(path.join(os.tmpdir(), "hr-intel-soak-"));

/** Publishes event i until the API accepts it (the Worker may be down); same Idempotency-Key each time. */
async function publishUntilAccepted(api, key, i, stats) {
  for (let tries = 1; Date.now() < deadline; tries++) {
    try {
      const res = await api.publish(key, eventData(`soak-${i}`), { idempotencyKey: `soak-${i}`, timeoutMs: 10_000 });
      if (res.status === 202) {
        stats.retries += tries - 1;
        if (res.body.replayed) stats.replayed++;
        return res.body;
      }
      stats.errors.push(`publish ${i}: HTTP ${res.status}`);
    } catch {
      // connection refused or reset while the Worker restarts
    }
    await sleep(300);
  }
  throw new Error(`publish ${i} never accepted`);
}

/** Does a recorded attempt (attempt_log entry) show the answer the receiver gave? */
function shows(entry, answer) {
  if (typeof answer === "number") return entry.status_code === answer;
  if (answer === "hang") return entry.status_code === null && /timed out/i.test(entry.error ?? "");
  return entry.status_code === null && !/timed out/i.test(entry.error ?? ""); // "close": connection dropped
}

/**
 * Lines up a delivery's received requests with its recorded attempts. A request and an attempt
 * match when the answer is the one recorded and the times agree (attempted_at has whole seconds).
 */
function align(requests, attemptLog) {
  const matched = [];
  const unmatched = [];
  let j = 0;
  for (const request of requests) {
    const entry = attemptLog[j];
    const at = entry ? Date.parse(entry.attempted_at) : NaN;
    if (entry && shows(entry, request.answer) && request.receivedAt >= at - 1000 && request.receivedAt < at + 3000) {
      matched.push(request);
      j++;
    } else unmatched.push(request);
  }
  return { matched, unmatched, unseenAttempts: attemptLog.length - j };
}

/** A delivery's key as the receiver records it (`delivery`): its id is unique per webhook only. */
const deliveryKey = (d) => `${d.webhook_id} ${d.id}`;

function check({ publishes, hooks, deliveries, details, requests, kills }) {
  const problems = [];
  const problem = (kind, detail) => problems.push({ kind, ...detail });

  // No event lost: each publish stored once, with one delivery per webhook, all finished.
  const eventIds = new Set(publishes.map((p) => p.event_id));
  if (eventIds.size !== EVENTS) problem("events", { detail: `${eventIds.size} distinct events for ${EVENTS} publishes` });
  const perEvent = new Map();
  for (const d of deliveries) perEvent.set(d.event_id, (perEvent.get(d.event_id) ?? 0) + 1);
  for (const p of publishes) {
    if (p.deliveries_scheduled !== WEBHOOKS) problem("fan-out", { event: p.event_id, detail: `deliveries_scheduled ${p.deliveries_scheduled}` });
    if (perEvent.get(p.event_id) !== p.deliveries_scheduled)
      problem("lost", { event: p.event_id, detail: `${perEvent.get(p.event_id) ?? 0} deliveries stored of ${p.deliveries_scheduled}` });
  }
  for (const d of deliveries) if (!eventIds.has(d.event_id)) problem("stray", { delivery: deliveryKey(d), detail: "delivery of an unknown event" });

  const byDelivery = new Map();
  for (const r of requests) if (r.delivery) byDelivery.set(r.delivery, [...(byDelivery.get(r.delivery) ?? []), r]);
  const inCrashWindow = (t) => kills.some((k) => t <= k && t >= k - CRASH_WINDOW_MS);
  const tally = { success: [0, 0, 0, 0], failed404: [0, 0, 0, 0], failedRetries: 0, failedOther: 0, lostInCrash: 0, crashAffected: 0 };

  for (const d of deliveries) {
    const detail = details.get(deliveryKey(d));
    const received = (byDelivery.get(deliveryKey(d)) ?? []).sort((a, b) => a.receivedAt - b.receivedAt);
    if (d.status !== "success" && d.status !== "failed") {
      problem("unfinished", { delivery: deliveryKey(d), detail: `status ${d.status} after ${d.attempts} attempts` });
      continue;
    }
    const { matched, unmatched, unseenAttempts } = align(received, detail.attempt_log);
    if (unseenAttempts > 0) problem("phantom attempt", { delivery: deliveryKey(d), detail: `${unseenAttempts} recorded attempts the receiver never got` });
    const want = expectedOutcome(
      matched.map((r) => r.answer),
      MAX_ATTEMPTS,
    );
    if (want.status !== d.status || want.attempts !== d.attempts || d.attempts !== detail.attempt_log.length) {
      problem("policy", {
        delivery: deliveryKey(d),
        detail: `answers ${JSON.stringify(matched.map((r) => r.answer))} → expected ${want.status}/${want.attempts}, got ${d.status}/${d.attempts} (log ${detail.attempt_log.length})`,
      });
    }
    const finalAt = matched.at(-1)?.receivedAt ?? -Infinity;
    for (const r of unmatched) {
      if (r.receivedAt > finalAt)
        problem("after final attempt", { delivery: deliveryKey(d), detail: `request ${r.attempt} (${r.answer}) after the final attempt` });
      else if (!inCrashWindow(r.receivedAt))
        problem("unrecorded attempt", { delivery: deliveryKey(d), detail: `request ${r.attempt} (${r.answer}) not recorded and not near a crash` });
    }
    tally.lostInCrash += unmatched.length;
    // The a-priori expectation (every request recorded) holds unless a crash swallowed an attempt.
    const apriori = expectedOutcome(
      Array.from({ length: MAX_ATTEMPTS }, (_, i) => chaosAnswer(deliveryKey(d), i + 1)),
      MAX_ATTEMPTS,
    );
    if (unmatched.length > 0) tally.crashAffected++;
    else if (apriori.status !== d.status || apriori.attempts !== d.attempts)
      problem("a priori", { delivery: deliveryKey(d), detail: `hash says ${apriori.status}/${apriori.attempts}, got ${d.status}/${d.attempts}` });
    const last = matched.at(-1)?.answer;
    if (d.status === "success") tally.success[d.attempts]++;
    else if (last === 404) tally.failed404[d.attempts]++;
    else if (d.attempts === MAX_ATTEMPTS) tally.failedRetries++;
    else tally.failedOther++;
  }

  // Counters equal the delivery log.
  for (const h of hooks) {
    const mine = deliveries.filter((d) => d.webhook_id === h.id);
    const finished = mine.filter((d) => d.status === "success" || d.status === "failed").length;
    const failed = mine.filter((d) => d.status === "failed").length;
    if (h.delivery_count !== finished || h.failure_count !== failed) {
      problem("counters", {
        webhook: h.id,
        detail: `delivery_count ${h.delivery_count} / failure_count ${h.failure_count}, log has ${finished} finished / ${failed} failed`,
      });
    }
  }
  return { problems, tally };
}

async function main() {
  const { file: config } = writeConfig(dir);
  await snapshotWorker(config);
  const persistDir = path.join(dir, "state");
  await applyMigrations(config, persistDir);
  const receiver = await startReceiver({ behaviour: (r) => chaosAnswer(r.delivery, r.attempt), hangMs: TIMEOUT_MS + 3000 });
  const worker = new WranglerDev({ config, port: PORT, persistDir, vars: VARS, logFile: path.join(dir, "worker.log") });
  const kills = [];
  let sweeping = true;
  let sweeps = 0;
  const sweepErrors = [];
  try {
    await worker.start();
    log(`Worker on ${worker.base} (work dir ${dir}), receiver on ${receiver.url}`);
    const api = new ApiClient(worker.base, { adminToken: ADMIN_TOKEN });
    const tenant = await api.createTenant("soak");
    for (let i = 0; i < WEBHOOKS; i++) await api.createWebhook(tenant.key, `${receiver.url}/soak/${i}`);

    const sweeper = (async () => {
      while (sweeping) {
        await sleep(SWEEP_EVERY_MS);
        if (!worker.running) continue;
        const status = await worker.scheduled().catch(() => "down"); // down while restarting
        if (status === 200) sweeps++;
        else if (status !== "down") sweepErrors.push(status);
      }
    })();

    const publishStart = Date.now();
    const chaosMonkey = (async () => {
      for (const at of KILL_AT_SECONDS) {
        await sleep(publishStart + at * 1000 - Date.now());
        kills.push(performance.timeOrigin + performance.now());
        await worker.stop("SIGKILL");
        log(`killed the Worker (SIGKILL) with ${receiver.requests.length} requests received so far`);
        await sleep(1000);
        await worker.start();
        log("restarted it on the same persist dir");
      }
    })();
    const stats = { retries: 0, replayed: 0, errors: [] };
    const publishes = await Promise.all(
      Array.from({ length: EVENTS }, async (_, i) => {
        await sleep(publishStart + (i * PUBLISH_SECONDS * 1000) / EVENTS - Date.now());
        return publishUntilAccepted(api, tenant.key, i, stats);
      }),
    );
    await chaosMonkey;
    log(`published ${EVENTS} events (${stats.retries} retried publishes, ${stats.replayed} answered by idempotent replay)`);

    const total = EVENTS * WEBHOOKS;
    let finished = 0;
    while (Date.now() < deadline - 60_000) {
      const hooks = await api.webhooks(tenant.key);
      finished = hooks.reduce((a, h) => a + h.delivery_count, 0);
      if (finished >= total || sweepErrors.length >= 3) break;
      await sleep(2000);
    }
    log(`${finished} of ${total} deliveries finished; ${receiver.requests.length} requests received; ${sweeps} sweeps`);
    sweeping = false;
    await sweeper;
    await sleep(3000); // let a late duplicate show itself before the receiver's record is read

    const hooks = await api.webhooks(tenant.key);
    const deliveries = (await Promise.all(hooks.map((h) => api.deliveries(tenant.key, h.id)))).flat();
    const details = new Map();
    await pool(deliveries.length, 8, async (i) =>
      details.set(deliveryKey(deliveries[i]), await api.delivery(tenant.key, deliveries[i].webhook_id, deliveries[i].id)),
    );
    const { problems, tally } = check({ publishes, hooks, deliveries, details, requests: receiver.requests, kills });
    if (sweepErrors.length > 0) problems.push({ kind: "sweep", detail: `${sweepErrors.length} sweep calls failed: ${[...new Set(sweepErrors)].join(", ")}` });
    report({ total, deliveries, requests: receiver.requests, kills, sweeps, stats, tally, problems, dropped: worker.droppedMessages });
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    sweeping = false;
    await worker.stop();
    await receiver.close();
  }
  if (process.exitCode) console.log(`wrangler logs kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

function report({ total, deliveries, requests, kills, sweeps, stats, tally, problems, dropped }) {
  const answers = {};
  for (const r of requests) if (r.delivery) answers[r.answer] = (answers[r.answer] ?? 0) + 1;
  console.log(
    `\nSoak: ${EVENTS} events × ${WEBHOOKS} webhooks = ${total} deliveries; ${deliveries.length} stored; ${requests.length} requests received (${JSON.stringify(answers)})`,
  );
  console.log(
    `Faults: ${kills.length} SIGKILL + restart, ${sweeps} sweeps, ${stats.retries} publish retries (${stats.errors.length} answered with an error status), ${stats.replayed} idempotent replays`,
  );
  console.log(`Crashes swallowed ${tally.lostInCrash} attempts (made, not recorded, re-attempted) across ${tally.crashAffected} deliveries`);
  console.log(`Jobs the queue dropped after max_retries (their deliveries waited for the sweep): ${dropped}\n`);
  console.log(
    table(
      ["end state", "after 1 attempt", "after 2", "after 3"],
      [
        ["success", ...tally.success.slice(1)],
        ["failed: 404", ...tally.failed404.slice(1)],
        ["failed: 3 retryable", "-", "-", tally.failedRetries],
      ],
    ),
  );
  if (tally.failedOther > 0) console.log(`other failures: ${tally.failedOther}`);
  const kinds = {};
  for (const p of problems) kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
  console.log(
    `\nChecks: events stored once with all deliveries; all finished; attempts = received requests (crash windows aside); end state = policy; nothing after the final attempt; counters = log`,
  );
  if (problems.length === 0) console.log("PASS: no mismatches");
  else {
    console.log(`FAIL: ${problems.length} mismatches ${JSON.stringify(kinds)}`);
    for (const p of problems.slice(0, 20)) console.log(`  ${JSON.stringify(p)}`);
  }
  console.log(`(${Math.round((Date.now() - started) / 1000)} s)`);
}

main().catch((error) => {
  console.error(`npm run soak failed: ${error.stack ?? error}\n(wrangler logs: ${dir})`);
  process.exit(1);
});
