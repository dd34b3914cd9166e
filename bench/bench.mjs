#!/usr/bin/env node
// `npm run bench`: throughput, latency and counted cost of webhook delivery, on this machine.
//
// Starts the Worker with `wrangler dev` (local D1 and queues, a fresh --persist-to directory, a
// private copy of wrangler.toml, src/ bundled once so edits during the run do not reload it), a
// second `wrangler dev` running bench/baseline-worker.js, and a local receiver answering 200 at
// once. First the request floor (what a request without D1, and one with the key lookup and a query,
// cost this local runtime), then for 1, 10, 100 and 1,000 subscribed endpoints per event:
//   latency run  events published one at a time: publish latency (POST /api/v1/events) and the
//                event-to-receipt latency of a lightly loaded system;
//   lone event   LONE_EVENTS events, each published only once every delivery of the one before it
//                has arrived: publish to last delivery (last_delivery_ms) of a system with nothing
//                else to do, the latency a single event sees (results key lone_event);
//   burst        >= 5,000 deliveries published as fast as PUBLISH_CONCURRENCY clients can:
//                deliveries per second and event-to-receipt latency under load, and the counters
//                of every invocation in the window (LOG_USAGE=1 lines: D1 round trips and rows,
//                queue operations, subrequests) plus workerd CPU, per successful delivery;
//   baseline     the same runtime making the same number of plain fetch POSTs (no D1, no queue, no
//                signing) to the same receiver at the concurrency the consumer reached (the number
//                of connections it opened to the receiver during the burst).
// Prints tables and writes everything to bench/results/bench-<time>.json. Prices: lib/prices.mjs.
//
// Options: --fanouts=1,10,100,1000  --burst=5000  --consumer=max_batch_size:100,max_batch_timeout:0.2
// (overrides [[queues.consumers]] in the private config copy, to try consumer settings)
// --phases=floor,latency,lone,burst,attempt (default all; burst also measures the plain-fetch baseline,
// attempt measures attemptDelivery() alone against it without a burst, with the steps between them
// (wire, signed: see bench/baseline-worker.js), at --attempt-n=5000 POSTs and --attempt-c=6 in flight),
// --lone=20 (events per fan-out in the lone-event run), --rounds=3 (bursts per fan-out, each with its
// own baselines; the median round is reported, see burstRounds).
// --phases=batchburst (not in the default set): the burst again, published through
// POST /api/v1/events/batch, 100 events a request (results key `batch_burst`), for publishers
// with several events at once.
// --phases=trickle (not in the default set): one event a simulated minute for --trickle=60 minutes,
// the cron run after each (results key `trickle`): what the counter fold costs at one delivery
// per webhook a minute.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ApiClient, eventData } from "./lib/api.mjs";
import { quietMsFor, waitFor, whenQuiet } from "./lib/idle.mjs";
import { costPerMillion, PRICES } from "./lib/prices.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { fmt, percentile, pool, summarize, table } from "./lib/stats.mjs";
import { perUnit, sumUsage } from "./lib/usage.mjs";
import { applyMigrations, ROOT, snapshotWorker, WranglerDev, writeBaselineConfig, writeConfig } from "./lib/wrangler.mjs";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const FANOUTS = (args.fanouts ?? "1,10,100,1000").split(",").map(Number);
const BURST_DELIVERIES = Number(args.burst ?? 5000);
const LATENCY_EVENTS = { 1: 200, 10: 100, 100: 50, 1000: 10 };
const PUBLISH_CONCURRENCY = 8;
const PHASES = new Set((args.phases ?? "floor,latency,lone,burst,attempt").split(","));
const LONE_EVENTS = Number(args.lone ?? 20);
const BURST_ROUNDS = Number(args.rounds ?? 3);
const ATTEMPT_N = Number(args["attempt-n"] ?? 5000);
const ATTEMPT_C = Number(args["attempt-c"] ?? 6);
const CONSUMER = Object.fromEntries((args.consumer ? args.consumer.split(",") : []).map((kv) => kv.split(":")).map(([k, v]) => [k, Number(v)]));
const TRICKLE_MINUTES = Number(args.trickle ?? 60);
const HOUR_MS = 60 * 60 * 1000;
// --ports=worker,baseline: two runs side by side (an A/B of consumer settings under the same load) need their own.
const [workerPort, baselinePort] = (args.ports ?? "8797,8798").split(",").map(Number);
const PORTS = { worker: workerPort, baseline: baselinePort };
const ADMIN_TOKEN = "bench-admin-token";
const VARS = {
  ENVIRONMENT: "development", // http://127.0.0.1 receivers
  LOG_USAGE: "1",
  ADMIN_TOKEN,
  SECRET_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
  DELIVERY_TIMEOUT_MS: "10000",
  ...(process.env.BENCH_SLOW_ATTEMPT_MS ? { SLOW_ATTEMPT_MS: process.env.BENCH_SLOW_ATTEMPT_MS } : {}),
};
const PHASE_TIMEOUT_MS = 180_000;
let quietMs = 1500; // no invocation for this long (> every consumer's max_batch_timeout) means the consumers are idle; set in main()

const wallNow = () => performance.timeOrigin + performance.now();
const log = (...parts) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...parts);

/** Resolves once the Worker has logged no invocation for quietMs. */
const quiet = (worker) => whenQuiet(worker, quietMs, PHASE_TIMEOUT_MS);

/** Miniflare's queue batches in the window: count, sizes, busy time and how many ran at once. */
function batchStats(batches) {
  const spans = batches.map((b) => ({ start: b.at - b.ms, end: b.at, size: b.total }));
  let maxOverlap = 0;
  for (const s of spans) maxOverlap = Math.max(maxOverlap, spans.filter((o) => o.start < s.end && o.end > s.start).length);
  let busyMs = 0; // the union of the batches' spans: time in which at least one batch ran
  let coveredTo = -Infinity;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    busyMs += Math.max(0, s.end - Math.max(s.start, coveredTo));
    coveredTo = Math.max(coveredTo, s.end);
  }
  return {
    count: spans.length,
    mean_messages: spans.length ? spans.reduce((a, s) => a + s.size, 0) / spans.length : 0,
    busy_ms: busyMs,
    max_concurrent: maxOverlap,
  };
}

const sumCounters = (hooks) =>
  hooks.reduce((a, h) => ({ delivered: a.delivered + h.delivery_count, failed: a.failed + h.failure_count }), { delivered: 0, failed: 0 });

/**
 * Publishes `events` events for a tenant with `fanout` endpoints, `concurrency` at a time, waits until
 * the receiver has every delivery and the Worker is idle, and returns what happened in that window.
 */
async function phase({ name, fanout, tenant, events, concurrency, worker, receiver, api, eventsPerRequest }) {
  await quiet(worker);
  const before = sumCounters(await api.webhooks(tenant.key));
  await quiet(worker);
  const mark = { usage: worker.usage.length, batches: worker.batches.length, requests: receiver.requests.length, cpu: worker.cpuSeconds() };
  const sentAt = new Map();
  const publishMs = [];
  const failures = [];
  const started = wallNow();
  const perRequest = eventsPerRequest ?? 1;
  await pool(Math.ceil(events / perRequest), concurrency, async (r) => {
    const seqs = Array.from({ length: Math.min(perRequest, events - r * perRequest) }, (_, j) => `${name}-${fanout}-${r * perRequest + j}`);
    for (const seq of seqs) sentAt.set(seq, wallNow());
    if (perRequest === 1) {
      const res = await api.publish(tenant.key, eventData(seqs[0]));
      publishMs.push(res.ms);
      if (res.status !== 202 || res.body.deliveries_scheduled !== fanout) failures.push({ seq: seqs[0], status: res.status, body: res.body });
      return;
    }
    const res = await api.publishBatch(tenant.key, seqs.map(eventData));
    publishMs.push(res.ms);
    if (res.status !== 202 || res.body.events.some((e) => e.deliveries_scheduled !== fanout))
      failures.push({ seq: seqs[0], status: res.status, body: res.body });
  });
  const published = wallNow();
  const expected = events * fanout;
  const mine = () => receiver.requests.slice(mark.requests).filter((r) => sentAt.has(r.seq));
  await waitFor(() => mine().length >= expected || failures.length > 0, PHASE_TIMEOUT_MS, `${expected} deliveries of ${name} fan-out ${fanout}`);
  await quiet(worker);
  // The cron's share: its first run after the hour folds the counter deltas (two row writes per
  // webhook touched). Run as if an hour later, so each phase pays the fold as the hour's only traffic.
  await worker.scheduled(Date.now() + HOUR_MS);
  await quiet(worker);
  const cpu = worker.cpuSeconds();
  const usageEntries = worker.usage.slice(mark.usage);
  const batches = worker.batches.slice(mark.batches);
  const received = mine();
  const after = sumCounters(await api.webhooks(tenant.key));
  const successes = after.delivered - after.failed - (before.delivered - before.failed);
  const lastReceipt = Math.max(...received.map((r) => r.receivedAt));
  const e2e = received.map((r) => r.receivedAt - sentAt.get(r.seq));
  const usage = sumUsage(usageEntries);
  const cpuMs = { worker: (cpu.worker - mark.cpu.worker) * 1000, proxy: (cpu.proxy - mark.cpu.proxy) * 1000 };
  const per = { ...perUnit(usage, successes), cpu_ms: cpuMs.worker / successes };
  return {
    name,
    fanout,
    events,
    publish_concurrency: concurrency,
    deliveries_expected: expected,
    deliveries_received: received.length,
    distinct_deliveries_received: new Set(received.map((r) => r.delivery)).size,
    successes,
    failures_reported: after.failed - before.failed,
    publish_failures: failures.slice(0, 5),
    publish_ms: summarize(publishMs),
    publish_seconds: (published - started) / 1000,
    e2e_ms: summarize(e2e),
    seconds: (lastReceipt - started) / 1000,
    deliveries_per_second: received.length / ((lastReceipt - started) / 1000),
    consumer_connections: new Set(received.map((r) => r.socket)).size,
    batches: batchStats(batches),
    usage,
    cpu_ms: cpuMs,
    per_delivery: per,
    usd_per_million_deliveries: costPerMillion(per),
  };
}

/**
 * Publishes one event `seq` and waits until the receiver has its `fanout` deliveries (scanning
 * receiver.requests from cursor.scanned on). Returns when it was sent, the publish latency and
 * the deliveries' arrival times.
 */
async function publishDelivered({ fanout, tenant, receiver, api, cursor, seq }) {
  const sentAt = wallNow();
  const res = await api.publish(tenant.key, eventData(seq));
  if (res.status !== 202 || res.body.deliveries_scheduled !== fanout) throw new Error(`event ${seq}: ${res.status} ${JSON.stringify(res.body)}`);
  const arrivals = [];
  await waitFor(
    () => {
      for (; cursor.scanned < receiver.requests.length; cursor.scanned++) {
        if (receiver.requests[cursor.scanned].seq === seq) arrivals.push(receiver.requests[cursor.scanned].receivedAt);
      }
      return arrivals.length >= fanout;
    },
    PHASE_TIMEOUT_MS,
    `the ${fanout} deliveries of ${seq}`,
    5,
  );
  return { sentAt, publishedMs: res.ms, arrivals };
}

/**
 * A trickle: TRICKLE_MINUTES events, each as one minute of traffic in which each webhook gets one
 * delivery (the traffic whose fold costs the most per delivery): the event is delivered, then the
 * cron runs as it would at the end of that minute. Those runs are made now, within one clock hour
 * as an hour's minutes are (deltas are stamped with the real clock, so a run scheduled in a later
 * hour would fold); then the run of the next hour folds the hour. Counts the rows and dollars of
 * the whole, the cron's included, and checks that the API's counters equal the deliveries made
 * (folded or not).
 */
async function trickle({ fanout, tenant, worker, receiver, api }) {
  await quiet(worker);
  await worker.scheduled(Date.now() + HOUR_MS); // what earlier phases left is folded outside the count
  await quiet(worker);
  const before = sumCounters(await api.webhooks(tenant.key));
  const mark = { usage: worker.usage.length, cpu: worker.cpuSeconds().worker };
  const cursor = { scanned: receiver.requests.length };
  for (let minute = 1; minute <= TRICKLE_MINUTES; minute++) {
    await publishDelivered({ fanout, tenant, receiver, api, cursor, seq: `trickle-${fanout}-${minute}` });
    await quiet(worker);
    await worker.scheduled();
  }
  const beforeLastFold = sumCounters(await api.webhooks(tenant.key)); // the reads add what is not folded yet
  await worker.scheduled(Date.now() + HOUR_MS);
  await quiet(worker);
  const after = sumCounters(await api.webhooks(tenant.key));
  const deliveries = TRICKLE_MINUTES * fanout;
  const usage = sumUsage(worker.usage.slice(mark.usage));
  const per = { ...perUnit(usage, deliveries), cpu_ms: ((worker.cpuSeconds().worker - mark.cpu) * 1000) / deliveries };
  return {
    fanout,
    minutes: TRICKLE_MINUTES,
    deliveries,
    counted_before_last_fold: beforeLastFold.delivered - before.delivered,
    counted_after_last_fold: after.delivered - before.delivered,
    cron_runs: usage.invocations.scheduled,
    cron_rows_written_per_delivery: usage.d1_rows_written_by_invocation.scheduled / deliveries,
    usage,
    per_delivery: per,
    usd_per_million_deliveries: costPerMillion(per),
  };
}

/**
 * Lone events: each published only once every delivery of the one before has arrived at the
 * receiver, so nothing queues behind anything. Per event: publish latency, and the time from the
 * publish request's start to the first and to the last of its deliveries.
 */
async function loneEvents({ fanout, tenant, events, worker, receiver, api }) {
  await quiet(worker);
  const mark = { batches: worker.batches.length, requests: receiver.requests.length };
  const publishMs = [];
  const firstMs = [];
  const lastMs = [];
  const cursor = { scanned: mark.requests };
  for (let i = 0; i < events; i++) {
    const { sentAt, publishedMs, arrivals } = await publishDelivered({ fanout, tenant, receiver, api, cursor, seq: `lone-${fanout}-${i}` });
    publishMs.push(publishedMs);
    firstMs.push(Math.min(...arrivals) - sentAt);
    lastMs.push(Math.max(...arrivals) - sentAt);
  }
  await quiet(worker);
  const received = receiver.requests.slice(mark.requests).filter((r) => r.seq?.startsWith(`lone-${fanout}-`));
  return {
    fanout,
    events,
    deliveries_received: received.length,
    distinct_deliveries_received: new Set(received.map((r) => r.delivery)).size,
    publish_ms: summarize(publishMs),
    first_delivery_ms: summarize(firstMs),
    last_delivery_ms: summarize(lastMs),
    batches: batchStats(worker.batches.slice(mark.batches)),
  };
}

/**
 * The baseline Worker makes `n` POSTs to the receiver with `c` in flight; returns deliveries per
 * second. mode "plain" is the baseline; "attempt" runs the consumer's attemptDelivery() instead.
 */
async function baseline(baselineWorker, receiver, n, c, mode = "plain") {
  const cpu0 = baselineWorker.cpuSeconds().worker;
  const from = receiver.requests.length;
  const url = `${baselineWorker.base}/run?mode=${mode}&n=${n}&c=${c}&url=${encodeURIComponent(`${receiver.url}/baseline`)}`;
  const res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(PHASE_TIMEOUT_MS) });
  const body = await res.json();
  if (body.failed > 0) throw new Error(`baseline: ${body.failed} of ${n} POSTs failed: ${body.errors.join("; ")}`);
  return {
    mode,
    n,
    concurrency: c,
    elapsed_ms: body.elapsed_ms,
    deliveries_per_second: n / (body.elapsed_ms / 1000),
    connections: new Set(receiver.requests.slice(from).map((r) => r.socket)).size,
    cpu_ms_per_post: ((baselineWorker.cpuSeconds().worker - cpu0) * 1000) / n,
  };
}

/** The baseline worker's modes, each a step from a plain POST towards an attempt (bench/baseline-worker.js). */
const ATTEMPT_STEPS = ["plain", "wire", "signed", "attempt"];

/**
 * attemptDelivery() alone against plain fetch, ATTEMPT_N POSTs at ATTEMPT_C in flight, with the
 * steps between them (the attempt's headers, body and timeout on the wire; then its signing), in
 * alternating rounds (plain, wire, signed, attempt, plain…) so that a neighbour's load falls on
 * all of them; figures are medians over the rounds, and each step's CPU is also a ratio to plain.
 */
async function attemptMode(baselineWorker, receiver, rounds = 5) {
  const runs = Object.fromEntries(ATTEMPT_STEPS.map((mode) => [mode, []]));
  for (let i = 0; i < rounds; i++) {
    for (const mode of ATTEMPT_STEPS) runs[mode].push(await baseline(baselineWorker, receiver, ATTEMPT_N, ATTEMPT_C, mode));
  }
  const median = (list, key) =>
    percentile(
      list.map((r) => r[key]),
      50,
    );
  const steps = Object.fromEntries(
    ATTEMPT_STEPS.map((mode) => [
      mode,
      {
        per_second: median(runs[mode], "deliveries_per_second"),
        cpu_ms: median(runs[mode], "cpu_ms_per_post"),
        cpu_ratio: percentile(
          runs[mode].map((r, i) => r.cpu_ms_per_post / runs.plain[i].cpu_ms_per_post),
          50,
        ),
      },
    ]),
  );
  const out = {
    n: ATTEMPT_N,
    concurrency: ATTEMPT_C,
    plain_per_second: steps.plain.per_second,
    attempt_per_second: steps.attempt.per_second,
    plain_cpu_ms: steps.plain.cpu_ms,
    attempt_cpu_ms: steps.attempt.cpu_ms,
    steps,
    rounds: runs,
  };
  out.ratio = out.attempt_per_second / out.plain_per_second;
  log(
    `attempt mode: ${ATTEMPT_STEPS.map((mode) => `${mode} ${fmt(steps[mode].per_second, 0)}/s, ${fmt(steps[mode].cpu_ms, 3)} CPU ms (${fmt(steps[mode].cpu_ratio, 2)}×)`).join("; ")}`,
  );
  return out;
}

/** Every expected delivery succeeded, and none arrived twice. */
const complete = (p) => p.successes === p.deliveries_expected && p.distinct_deliveries_received === p.deliveries_received;

/**
 * BURST_ROUNDS bursts, each followed by its baselines (plain fetch, and attemptDelivery() alone)
 * at the same N and concurrency, so that this shared machine's drift falls on both sides of each
 * ratio. The run's figures are the round with the median throughput ratio; every round's ratios
 * are kept (results key `rounds`), and the median of the CPU ratios is `cpu_ratio`.
 */
async function burstRounds({ fanout, tenant, worker, receiver, api, baselineWorker }) {
  const rounds = [];
  for (let round = 0; round < BURST_ROUNDS; round++) {
    const events = Math.ceil(BURST_DELIVERIES / fanout);
    const burst = await phase({ fanout, tenant, worker, receiver, api, name: `burst${round}`, events, concurrency: PUBLISH_CONCURRENCY });
    const base = await baseline(baselineWorker, receiver, burst.deliveries_received, burst.consumer_connections);
    const attemptOnly = await baseline(baselineWorker, receiver, burst.deliveries_received, burst.consumer_connections, "attempt");
    const ratio = burst.deliveries_per_second / base.deliveries_per_second;
    const cpuRatio = burst.per_delivery.cpu_ms / base.cpu_ms_per_post;
    log(
      `fan-out ${fanout} round ${round + 1}/${BURST_ROUNDS}: burst ${burst.deliveries_received} deliveries in ${fmt(burst.seconds, 2)} s = ${fmt(burst.deliveries_per_second, 0)}/s over ${burst.consumer_connections} connections; ` +
        `baseline ${fmt(base.deliveries_per_second, 0)}/s (attemptDelivery() alone ${fmt(attemptOnly.deliveries_per_second, 0)}/s): ratio ${fmt(ratio, 2)}, CPU ${fmt(cpuRatio, 2)}× a plain POST`,
    );
    rounds.push({ burst, baseline: base, attempt_only: attemptOnly, ratio, cpu_ratio: cpuRatio });
  }
  const byRatio = [...rounds].sort((a, b) => a.ratio - b.ratio);
  const median = byRatio[Math.floor((byRatio.length - 1) / 2)];
  return {
    ...median,
    cpu_ratio: percentile(
      rounds.map((r) => r.cpu_ratio),
      50,
    ),
    rounds: rounds.map((r) => ({
      complete: complete(r.burst),
      ratio: r.ratio,
      cpu_ratio: r.cpu_ratio,
      deliveries_per_second: r.burst.deliveries_per_second,
      baseline_per_second: r.baseline.deliveries_per_second,
      cpu_ms_per_delivery: r.burst.per_delivery.cpu_ms,
      plain_cpu_ms_per_post: r.baseline.cpu_ms_per_post,
      d1_rows_written_per_delivery: r.burst.per_delivery.d1_rows_written,
      usd_per_million_deliveries: r.burst.usd_per_million_deliveries.total,
    })),
  };
}

/**
 * What any request costs this local runtime, for reading the publish figures: requests per second
 * and workerd CPU per request, PUBLISH_CONCURRENCY at a time, for a route with no D1 (health) and
 * one with the API-key lookup and one D1 query (list webhooks).
 */
async function requestFloor(worker, api, tenant, n = 1000) {
  const routes = { health: { path: "/api/v1/health" }, authenticated_read: { path: "/api/v1/webhooks?limit=1", key: tenant.key } };
  const out = {};
  for (const [name, { path: route, key }] of Object.entries(routes)) {
    await quiet(worker);
    const cpu0 = worker.cpuSeconds().worker;
    const started = wallNow();
    await pool(n, PUBLISH_CONCURRENCY, () => api.expect(200, "GET", route, { key }));
    const seconds = (wallNow() - started) / 1000;
    out[name] = { requests_per_second: n / seconds, cpu_ms_per_request: ((worker.cpuSeconds().worker - cpu0) * 1000) / n };
  }
  return out;
}

const dir = mkdtempSync(path.join(os.tmpdir(), "hr-intel-bench-"));

async function main() {
  const runStarted = Date.now();
  const { file: config, consumer, consumers } = writeConfig(dir, CONSUMER);
  const baselineConfig = writeBaselineConfig(dir);
  await Promise.all([snapshotWorker(config), snapshotWorker(baselineConfig)]);
  const persistDir = path.join(dir, "state");
  log(`work dir ${dir}; consumers ${JSON.stringify(consumers)}`);
  quietMs = quietMsFor(consumers);
  await applyMigrations(config, persistDir);
  const worker = new WranglerDev({ config, port: PORTS.worker, persistDir, vars: VARS, logFile: path.join(dir, "worker.log") });
  const baselineWorker = new WranglerDev({
    config: baselineConfig,
    port: PORTS.baseline,
    persistDir: path.join(dir, "baseline-state"),
    logFile: path.join(dir, "baseline.log"),
  });
  const receiver = await startReceiver();
  const results = {
    started_at: new Date(runStarted).toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg_at_start: os.loadavg() },
    consumer,
    consumers,
    prices: PRICES,
    runs: [],
  };
  try {
    await Promise.all([worker.start(), baselineWorker.start()]);
    log(`Worker on ${worker.base}, baseline on ${baselineWorker.base}, receiver on ${receiver.url}`);
    const api = new ApiClient(worker.base, { adminToken: ADMIN_TOKEN });
    const tenants = {};
    for (const fanout of FANOUTS) {
      tenants[fanout] = await api.createTenant(`bench fan-out ${fanout}`);
      await pool(fanout, 8, (i) => api.createWebhook(tenants[fanout].key, `${receiver.url}/h/${fanout}/${i}`));
    }
    log(`created ${FANOUTS.reduce((a, f) => a + f, 0)} webhooks`);
    if (PHASES.has("floor")) results.request_floor = await requestFloor(worker, api, tenants[FANOUTS[0]]);

    for (const fanout of FANOUTS) {
      const common = { fanout, tenant: tenants[fanout], worker, receiver, api, baselineWorker };
      const run = { fanout };
      if (PHASES.has("latency")) {
        run.latency = await phase({ ...common, name: "latency", events: LATENCY_EVENTS[fanout] ?? 20, concurrency: 1 });
        log(`fan-out ${fanout}: publish p50 ${fmt(run.latency.publish_ms.p50)} ms p99 ${fmt(run.latency.publish_ms.p99)} ms (n=${run.latency.publish_ms.n})`);
      }
      if (PHASES.has("lone")) {
        run.lone_event = await loneEvents({ ...common, events: LONE_EVENTS });
        log(
          `fan-out ${fanout}: lone event, publish to last delivery p50 ${fmt(run.lone_event.last_delivery_ms.p50, 0)} ms p90 ${fmt(run.lone_event.last_delivery_ms.p90, 0)} ms (n=${LONE_EVENTS})`,
        );
      }
      if (PHASES.has("burst")) Object.assign(run, await burstRounds(common));
      if (PHASES.has("trickle")) {
        run.trickle = await trickle(common);
        log(
          `fan-out ${fanout}: trickle of ${run.trickle.minutes} minutes, one event a minute: ${fmt(run.trickle.per_delivery.d1_rows_written, 3)} rows written ` +
            `(the cron ${fmt(run.trickle.cron_rows_written_per_delivery, 3)}) and $${fmt(run.trickle.usd_per_million_deliveries.total, 2)}/M per delivery`,
        );
      }
      if (PHASES.has("batchburst")) {
        const events = Math.ceil(BURST_DELIVERIES / fanout);
        run.batch_burst = await phase({ ...common, name: "batch-burst", events, concurrency: PUBLISH_CONCURRENCY, eventsPerRequest: 100 });
        log(
          `fan-out ${fanout}: burst through /events/batch (100 a request) ${run.batch_burst.deliveries_received} deliveries in ${fmt(run.batch_burst.seconds, 2)} s, ` +
            `${fmt(run.batch_burst.per_delivery.d1_rows_written, 3)} rows written and $${fmt(run.batch_burst.usd_per_million_deliveries.total, 2)}/M per delivery`,
        );
      }
      results.runs.push(run);
    }
    if (PHASES.has("attempt")) results.attempt_mode = await attemptMode(baselineWorker, receiver);
  } finally {
    await Promise.all([worker.stop(), baselineWorker.stop(), receiver.close()]);
  }
  results.seconds = (Date.now() - runStarted) / 1000;
  report(results);
  const outDir = path.join(ROOT, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `bench-${results.started_at.replace(/[:.]/g, "-")}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nWrote ${path.relative(ROOT, out)} (${fmt(results.seconds, 0)} s).`);
  rmSync(dir, { recursive: true, force: true });
  const loneComplete = (l) => l.deliveries_received === l.events * l.fanout && l.distinct_deliveries_received === l.deliveries_received;
  const broken = results.runs.filter(
    (r) =>
      (r.burst && !complete(r.burst)) ||
      r.rounds?.some((round) => !round.complete) ||
      (r.batch_burst && !complete(r.batch_burst)) ||
      (r.latency && !complete(r.latency)) ||
      (r.lone_event && !loneComplete(r.lone_event)),
  );
  if (broken.length > 0) {
    console.error(`Deliveries missing, failed or duplicated at fan-out ${broken.map((r) => r.fanout).join(", ")}`);
    process.exitCode = 1;
  }
}

function report(results) {
  console.log(`\nhr-intel-webhooks bench — ${results.started_at}, ${results.machine.cpus} CPUs, consumer ${JSON.stringify(results.consumer)}`);
  const lone = results.runs.filter((r) => r.lone_event);
  if (lone.length > 0) {
    console.log(
      `\nLone events (each published once every delivery of the one before has arrived; ${LONE_EVENTS} per fan-out): publish request start to the event's deliveries`,
    );
    console.log(
      table(
        ["endpoints/event", "publish p50 ms", "first delivery p50 ms", "last delivery p50 ms", "last p90 ms", "last max ms", "batches/event", "msgs/batch"],
        lone.map(({ fanout, lone_event: l }) => [
          fanout,
          fmt(l.publish_ms.p50),
          fmt(l.first_delivery_ms.p50, 0),
          fmt(l.last_delivery_ms.p50, 0),
          fmt(l.last_delivery_ms.p90, 0),
          fmt(l.last_delivery_ms.max, 0),
          fmt(l.batches.count / l.events, 1),
          fmt(l.batches.mean_messages, 1),
        ]),
      ),
    );
  }
  const a = results.attempt_mode;
  if (a) {
    console.log(
      `\nattemptDelivery() alone (${a.n} POSTs, ${a.concurrency} in flight, median of ${a.rounds.plain.length} alternating rounds): ${fmt(a.attempt_per_second, 0)}/s against plain fetch ${fmt(a.plain_per_second, 0)}/s = ${fmt(a.ratio, 2)}; CPU ms per POST ${fmt(a.attempt_cpu_ms, 3)} against ${fmt(a.plain_cpu_ms, 3)}`,
    );
    console.log(
      table(
        ["step (baseline worker mode)", "POSTs/s", "CPU ms per POST", "CPU ÷ plain (median of rounds)"],
        ATTEMPT_STEPS.map((mode) => [mode, fmt(a.steps[mode].per_second, 0), fmt(a.steps[mode].cpu_ms, 3), fmt(a.steps[mode].cpu_ratio, 2)]),
      ),
    );
  }
  const rows = results.runs.filter((r) => r.burst && r.latency);
  if (rows.length > 0) reportBursts(results, rows);
}

function reportBursts(results, rows) {
  console.log(
    "\nTime (latency run: one publish at a time; burst: >= 5,000 deliveries, 8 publishers; baseline: same runtime, plain fetch, same receiver, N and concurrency)",
  );
  console.log(
    table(
      [
        "endpoints/event",
        "publish p50 ms",
        "publish p99 ms",
        "idle e2e p50 ms",
        "idle e2e p99 ms",
        "burst deliveries",
        "deliveries/s",
        "e2e p50 ms",
        "e2e p99 ms",
        "consumer conc.",
        "baseline/s",
        "ratio",
      ],
      rows.map((r) => [
        r.fanout,
        fmt(r.latency.publish_ms.p50),
        fmt(r.latency.publish_ms.p99),
        fmt(r.latency.e2e_ms.p50, 0),
        fmt(r.latency.e2e_ms.p99, 0),
        r.burst.deliveries_received,
        fmt(r.burst.deliveries_per_second, 0),
        fmt(r.burst.e2e_ms.p50, 0),
        fmt(r.burst.e2e_ms.p99, 0),
        r.burst.consumer_connections,
        fmt(r.baseline.deliveries_per_second, 0),
        fmt(r.ratio, 2),
      ]),
    ),
  );
  console.log(
    `\nRounds (each burst with its own baselines; the tables show the median round): throughput ratio and CPU per delivery ÷ a plain POST, per round`,
  );
  console.log(
    table(
      ["endpoints/event", "ratio per round", "median ratio", "CPU ÷ plain per round", "median CPU ÷ plain"],
      rows.map((r) => [
        r.fanout,
        r.rounds.map((x) => fmt(x.ratio, 2)).join(" / "),
        fmt(r.ratio, 2),
        r.rounds.map((x) => fmt(x.cpu_ratio, 2)).join(" / "),
        fmt(r.cpu_ratio, 2),
      ]),
    ),
  );
  const floor = results.request_floor;
  if (floor)
    console.log(
      `\nRequest floor of this runtime (${PUBLISH_CONCURRENCY} clients): GET /api/v1/health ${fmt(floor.health.requests_per_second, 0)}/s at ${fmt(floor.health.cpu_ms_per_request, 2)} CPU ms; ` +
        `authenticated GET /api/v1/webhooks (key lookup + 1 query) ${fmt(floor.authenticated_read.requests_per_second, 0)}/s at ${fmt(floor.authenticated_read.cpu_ms_per_request, 2)} CPU ms`,
    );
  console.log(
    "\nWhere the burst's time goes: deliveries/s of plain fetch (baseline) → + the attempt code (signing, canonical JSON, excerpt) → + D1, queue and batching (consumer while a batch runs) → + publishing and waiting (end to end)",
  );
  console.log(
    table(
      [
        "endpoints/event",
        "plain fetch/s",
        "attemptDelivery/s",
        "consumer busy/s",
        "end-to-end/s",
        "publish s",
        "batches",
        "msgs/batch",
        "batches at once",
        "CPU ms/delivery",
        "of which D1 SQL",
        "CPU ms/plain POST",
        "less SQL ÷ plain",
      ],
      rows.map((r) => [
        r.fanout,
        fmt(r.baseline.deliveries_per_second, 0),
        fmt(r.attempt_only.deliveries_per_second, 0),
        fmt(r.burst.deliveries_received / (r.burst.batches.busy_ms / 1000), 0),
        fmt(r.burst.deliveries_per_second, 0),
        fmt(r.burst.publish_seconds, 2),
        r.burst.batches.count,
        fmt(r.burst.batches.mean_messages, 1),
        r.burst.batches.max_concurrent,
        fmt(r.burst.per_delivery.cpu_ms, 2),
        fmt(r.burst.per_delivery.d1_sql_ms, 2),
        fmt(r.baseline.cpu_ms_per_post, 2),
        fmt((r.burst.per_delivery.cpu_ms - r.burst.per_delivery.d1_sql_ms) / r.baseline.cpu_ms_per_post, 2),
      ]),
    ),
  );
  console.log("\nCost per successful delivery (burst; counted from the Worker's usage lines; publishes included)");
  console.log(
    table(
      [
        "endpoints/event",
        "invocations",
        "D1 round trips",
        "max D1 stmts/inv.",
        "rows read",
        "rows written",
        "unmetered stmts",
        "queue sent",
        "acks",
        "retries",
        "queue ops",
        "subrequests",
        "$/M deliveries",
        "of which D1 writes",
      ],
      rows.map(({ fanout, burst: { usage, per_delivery: p, usd_per_million_deliveries: usd } }) => [
        fanout,
        fmt(p.requests, 4),
        fmt(p.d1_round_trips, 4),
        usage.max_d1_statements_per_invocation,
        fmt(p.d1_rows_read, 2),
        fmt(p.d1_rows_written, 3),
        fmt(p.d1_unmetered_statements, 4),
        fmt(p.queue_messages_sent, 4),
        fmt(p.queue_acks, 4),
        fmt(p.queue_retries, 4),
        fmt(p.queue_operations, 4),
        fmt(p.subrequests, 2),
        `$${fmt(usd.total, 2)}`,
        `$${fmt(usd.d1_write, 2)}`,
      ]),
    ),
  );
  console.log("\nPrices (USD, Workers Paid list prices beyond the included usage; $/M deliveries = Σ count per delivery × $ per million units):");
  for (const [name, price] of Object.entries(PRICES)) console.log(`  ${name.padEnd(17)} $${price.usd_per_million} per million ${price.unit} — ${price.source}`);
  console.log(
    "  CPU is workerd's process CPU time, which locally also runs D1's SQLite and the queue broker: an upper bound. " +
      "\"of which D1 SQL\" is the time D1 reports executing SQL (meta.duration); CPU less it estimates the Worker's own CPU (D1's RPC and the broker still in it).",
  );
}

main().catch((error) => {
  console.error(`npm run bench failed: ${error.stack ?? error}\n(wrangler logs: ${dir})`);
  process.exit(1);
});
