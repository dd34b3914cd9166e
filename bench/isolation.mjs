#!/usr/bin/env node
// `npm run bench:isolation`: does one tenant's bad endpoint hurt another tenant, and can one
// delivery's response or one event's fan-out blow up the Worker's memory? On this machine, with
// the Worker under `wrangler dev` (local D1 and queues, fresh state per phase, src/ bundled once,
// as `npm run bench` runs it). Phases (--phases=neighbour,memory; memory = bomb,fanout):
//
//   neighbour  Tenant Q has one webhook to a receiver answering 200 at once. Q's idle event-to-receipt
//              latency: QUIET_EVENTS events published one at a time, each waited for. Then tenant N
//              registers NOISY_WEBHOOKS webhooks to an endpoint that never answers (the Worker's
//              attempt timeout ends each attempt), publishes NOISY_BURST events and keeps publishing
//              one every NOISY_INTERVAL_MS while Q publishes QUIET_EVENTS more, one at a time, each
//              waited for up to EVENT_TIMEOUT_MS (a timeout counts as EVENT_TIMEOUT_MS).
//              Aims: Q's p99 under noise < 2 s and <= 3x Q's idle p50.
//   bomb       One webhook whose receiver answers 200 with Content-Encoding: br and BOMB_MIB MiB of
//              zeros brotli-compressed (a few hundred bytes on the wire); BOMB_EVENTS events, waited
//              for until every delivery is final and the Worker is idle.
//   fanout     FANOUT_WEBHOOKS webhooks of one tenant (receiver: 200), FANOUT_EVENTS events each
//              carrying a NOTES_CHARS-character `notes` field (~200 KB), all deliveries waited for.
//              For both memory phases: the peak growth of the summed VmRSS of the Worker's workerd
//              processes (sampled every 50 ms) over the sum just before the run. Aim: < 64 MiB.
//
// Each phase runs in its own `wrangler dev` (fresh --persist-to) so one phase's leftovers (hanging
// attempts, retained heap) do not leak into the next. Prints tables and writes
// bench/results/isolation-<time>.json.
//
// Options: --phases=neighbour,bomb,fanout  --quiet-events=40  --noisy-webhooks=30  --noisy-burst=5
// --noisy-interval=2000  --event-timeout=20000  --bomb-mib=256  --bomb-events=5  --fanout-webhooks=100
// --fanout-events=4  --notes-chars=200000 (0: the control, same deliveries without the payload)
// --warmup-rounds=1  --port=8799  --consumer=max_batch_size:100 (fast lane only)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { brotliCompressSync, constants as zlib } from "node:zlib";
import { ApiClient, eventData } from "./lib/api.mjs";
import { quietMsFor, waitFor, whenQuiet } from "./lib/idle.mjs";
import { RssSampler } from "./lib/memory.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { fmt, pool, summarize, table } from "./lib/stats.mjs";
import { applyMigrations, ROOT, snapshotWorker, WranglerDev, writeConfig } from "./lib/wrangler.mjs";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const num = (name, fallback) => (args[name] === undefined ? fallback : Number(args[name]));
const PHASE_ALIASES = { memory: ["bomb", "fanout"], neighbor: ["neighbour"], isolation: ["neighbour", "bomb", "fanout"] };
const PHASES = [...new Set((args.phases ?? "neighbour,memory").split(",").flatMap((p) => PHASE_ALIASES[p] ?? [p]))];
for (const p of PHASES) if (!["neighbour", "bomb", "fanout"].includes(p)) throw new Error(`unknown phase ${p} (neighbour, memory, bomb, fanout)`);

const QUIET_EVENTS = num("quiet-events", 40);
const WARMUP_EVENTS = 3;
const NOISY_WEBHOOKS = num("noisy-webhooks", 30);
const NOISY_BURST = num("noisy-burst", 5);
const NOISY_INTERVAL_MS = num("noisy-interval", 2000);
const EVENT_TIMEOUT_MS = num("event-timeout", 20_000);
const BOMB_MIB = num("bomb-mib", 256);
const BOMB_EVENTS = num("bomb-events", 5);
const FANOUT_WEBHOOKS = num("fanout-webhooks", 100);
const FANOUT_EVENTS = num("fanout-events", 4);
const NOTES_CHARS = num("notes-chars", 200_000);
const SAMPLE_MS = num("sample-ms", 50);
const WARMUP_ROUNDS = num("warmup-rounds", 1); // memory phases: small-event runs of the same shape before the baseline
const AIMS = { quiet_p99_ms: 2000, quiet_p99_over_idle_p50: 3, memory_growth_mib: 64 };
const CONSUMER = Object.fromEntries((args.consumer ? args.consumer.split(",") : []).map((kv) => kv.split(":")).map(([k, v]) => [k, Number(v)]));
const ADMIN_TOKEN = "bench-admin-token";
const DELIVERY_TIMEOUT_MS = 10_000;
const VARS = {
  ENVIRONMENT: "development", // http://127.0.0.1 receivers
  LOG_USAGE: "1",
  ADMIN_TOKEN,
  SECRET_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
  DELIVERY_TIMEOUT_MS: String(DELIVERY_TIMEOUT_MS),
};
const PHASE_TIMEOUT_MS = 300_000;
let quietMs = 1500; // set in main() from the consumers' max_batch_timeout

const wallNow = () => performance.timeOrigin + performance.now();
const log = (...parts) => console.log(`[isolation ${new Date().toISOString().slice(11, 19)}]`, ...parts);
const quiet = (worker) => whenQuiet(worker, quietMs, PHASE_TIMEOUT_MS);

/** A TCP port free right now on 127.0.0.1 (so a concurrent `npm run bench` on 8797/8798 is no bother). */
function freePort(preferred) {
  const tryPort = (port) =>
    new Promise((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(null));
      server.listen({ port, host: "127.0.0.1" }, () => {
        const { port: got } = server.address();
        server.close(() => resolve(got));
      });
    });
  return tryPort(preferred).then((port) => port ?? tryPort(0));
}

/** seq (data.query_id) → first receipt, indexed incrementally from the receiver's request log. */
function arrivals(receiver) {
  const first = new Map();
  let seen = 0;
  const update = () => {
    for (; seen < receiver.requests.length; seen++) {
      const r = receiver.requests[seen];
      if (r.seq !== null && !first.has(r.seq)) first.set(r.seq, r);
    }
    return first;
  };
  return { get: (seq) => update().get(seq), update };
}

/** Σ of a list of batches by queue name: { queue: { batches, messages } }. */
function batchesByQueue(batches) {
  const out = {};
  for (const b of batches) {
    out[b.queue] ??= { batches: 0, messages: 0, max_ms: 0 };
    out[b.queue].batches++;
    out[b.queue].messages += b.total;
    out[b.queue].max_ms = Math.max(out[b.queue].max_ms, b.ms);
  }
  return out;
}

/** Starts a `wrangler dev` of the snapshotted config with a fresh state directory for one phase. */
async function startWorker(ctx, name) {
  const persistDir = path.join(ctx.dir, `state-${name}`);
  await applyMigrations(ctx.config, persistDir);
  const port = await freePort(num("port", 8799));
  const worker = new WranglerDev({ config: ctx.config, port, persistDir, vars: VARS, logFile: path.join(ctx.dir, `${name}.log`) });
  await worker.start();
  log(
    `${name}: Worker on ${worker.base} (workerd pids ${worker
      .workerdProcesses()
      .map((p) => `${p.pid} ${p.kind}`)
      .join(", ")})`,
  );
  return worker;
}

// ---------------------------------------------------------------------------------------------
// Noisy neighbour

async function neighbour(ctx) {
  const receiver = await startReceiver({ behaviour: (r) => (r.path.startsWith("/noisy/") ? "hang" : 200), hangMs: 3_600_000 });
  const worker = await startWorker(ctx, "neighbour");
  const api = new ApiClient(worker.base, { adminToken: ADMIN_TOKEN });
  const seen = arrivals(receiver);
  try {
    const q = await api.createTenant("quiet tenant");
    await api.createWebhook(q.key, `${receiver.url}/quiet/0`);
    const n = await api.createTenant("noisy tenant");
    await pool(NOISY_WEBHOOKS, 8, (i) => api.createWebhook(n.key, `${receiver.url}/noisy/${i}`));

    /** Q publishes `count` events one at a time, each waited for up to EVENT_TIMEOUT_MS. */
    const quietSeries = async (label, count) => {
      const out = [];
      for (let i = 0; i < count; i++) {
        const seq = `quiet-${label}-${i}`;
        const sentAt = wallNow();
        let publish;
        try {
          publish = await api.publish(q.key, eventData(seq), { timeoutMs: EVENT_TIMEOUT_MS });
        } catch (error) {
          publish = { status: null, ms: wallNow() - sentAt, error: String(error) };
        }
        const ok = publish.status === 202 && publish.body?.deliveries_scheduled === 1;
        let received = null;
        if (ok) {
          await waitFor(() => seen.get(seq) || wallNow() - sentAt >= EVENT_TIMEOUT_MS, EVENT_TIMEOUT_MS + 5000, seq);
          received = seen.get(seq) ?? null;
        }
        const e2e = received ? received.receivedAt - sentAt : EVENT_TIMEOUT_MS;
        out.push({
          seq,
          sent_at: sentAt,
          publish_status: publish.status,
          publish_ms: publish.ms,
          publish_error: publish.error ?? (ok ? undefined : publish.body),
          e2e_ms: Math.min(e2e, EVENT_TIMEOUT_MS),
          timed_out: !received || e2e > EVENT_TIMEOUT_MS,
        });
      }
      return out;
    };
    const summary = (series) => ({
      e2e_ms: summarize(series.map((s) => s.e2e_ms)),
      publish_ms: summarize(series.map((s) => s.publish_ms)),
      timeouts: series.filter((s) => s.timed_out).length,
      publish_failures: series.filter((s) => s.publish_status !== 202).length,
    });

    // Warm-up (not counted): the first consumer invocations compile code and open connections.
    await quietSeries("warmup", WARMUP_EVENTS);
    await quiet(worker);
    log(`neighbour: idle run, ${QUIET_EVENTS} events of Q one at a time`);
    const idle = await quietSeries("idle", QUIET_EVENTS);
    const idleSummary = summary(idle);
    log(`neighbour: Q idle e2e p50 ${fmt(idleSummary.e2e_ms.p50, 0)} ms p99 ${fmt(idleSummary.e2e_ms.p99, 0)} ms`);
    await quiet(worker);

    // The noise: NOISY_BURST events at once, then one every NOISY_INTERVAL_MS until Q is done.
    const mark = { requests: receiver.requests.length, batches: worker.batches.length, usage: worker.usage.length, concurrency: receiver.mark() };
    const noisyPublishes = [];
    const noisyPublish = (i) => {
      const started = wallNow();
      const p = api
        .publish(n.key, eventData(`noisy-${i}`))
        .then((res) => ({ at: started, status: res.status, ms: res.ms, scheduled: res.body?.deliveries_scheduled ?? 0 }))
        .catch((error) => ({ at: started, status: null, ms: wallNow() - started, scheduled: 0, error: String(error) }));
      noisyPublishes.push(p);
      return p;
    };
    const noiseStarted = wallNow();
    for (let i = 0; i < NOISY_BURST; i++) await noisyPublish(i);
    let stop = false;
    const noiseLoop = (async () => {
      for (let k = 1; !stop; k++) {
        const next = noiseStarted + k * NOISY_INTERVAL_MS;
        while (!stop && wallNow() < next) await sleep(Math.min(100, next - wallNow()));
        if (!stop) noisyPublish(NOISY_BURST + k - 1);
      }
    })();
    log(
      `neighbour: N published ${NOISY_BURST} events to ${NOISY_WEBHOOKS} hanging endpoints; Q publishes ${QUIET_EVENTS} more while N publishes one every ${NOISY_INTERVAL_MS} ms`,
    );
    const noisy = await quietSeries("noisy", QUIET_EVENTS);
    stop = true;
    await noiseLoop;
    const noiseEnded = wallNow();
    const noisyResults = await Promise.all(noisyPublishes);
    const noisySummary = summary(noisy);
    const requests = receiver.requests.slice(mark.requests);
    const noisyRequests = requests.filter((r) => r.path.startsWith("/noisy/"));
    // Timed-out events of Q that arrived after their 20 s: when (for the record, not in the percentiles).
    seen.update();
    const late = noisy
      .filter((s) => s.timed_out)
      .map((s) => ({ seq: s.seq, arrived_after_ms: seen.get(s.seq) ? seen.get(s.seq).receivedAt - s.sent_at : null }));
    const result = {
      quiet_events: QUIET_EVENTS,
      warmup_events: WARMUP_EVENTS,
      event_timeout_ms: EVENT_TIMEOUT_MS,
      idle: idleSummary,
      noisy: noisySummary,
      ratio_p99_over_idle_p50: noisySummary.e2e_ms.p99 / idleSummary.e2e_ms.p50,
      ratio_p50_over_idle_p50: noisySummary.e2e_ms.p50 / idleSummary.e2e_ms.p50,
      aims: { quiet_p99_ms: AIMS.quiet_p99_ms, quiet_p99_over_idle_p50: AIMS.quiet_p99_over_idle_p50 },
      meets_aims: noisySummary.e2e_ms.p99 < AIMS.quiet_p99_ms && noisySummary.e2e_ms.p99 / idleSummary.e2e_ms.p50 <= AIMS.quiet_p99_over_idle_p50,
      noise: {
        webhooks: NOISY_WEBHOOKS,
        burst_events: NOISY_BURST,
        interval_ms: NOISY_INTERVAL_MS,
        seconds: (noiseEnded - noiseStarted) / 1000,
        events_published: noisyResults.filter((r) => r.status === 202).length,
        publish_failures: noisyResults.filter((r) => r.status !== 202).length,
        deliveries_scheduled: noisyResults.reduce((a, r) => a + r.scheduled, 0),
        publish_ms: summarize(noisyResults.map((r) => r.ms)),
        hanging_requests_received: noisyRequests.length,
        distinct_noisy_deliveries_attempted: new Set(noisyRequests.map((r) => r.delivery)).size,
        receiver_peak_in_flight: receiver.concurrency(mark.concurrency).peak,
      },
      late_arrivals: late,
      batches_by_queue: batchesByQueue(worker.batches.slice(mark.batches)),
      series: { idle, noisy },
    };
    return result;
  } finally {
    await worker.stop();
    await receiver.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

let bombBody = null;
/** BOMB_MIB MiB of zeros, brotli-compressed once (quality 5: the same few hundred bytes as 11, in a second instead of ~25). */
function bomb() {
  bombBody ??= brotliCompressSync(Buffer.alloc(BOMB_MIB * 1024 * 1024), { params: { [zlib.BROTLI_PARAM_QUALITY]: 5 } });
  return bombBody;
}

/**
 * Waits until the tenant has `expected` deliveries and none pending: one GET /api/v1/stats a second
 * (its deliveries.by_status), or, without that, a `?status=pending&limit=1` read per webhook.
 * These requests run inside the measured window, so they are few and small.
 */
async function untilNonePending(api, key, webhookIds, expected, timeoutMs) {
  await waitFor(
    async () => {
      const counts = (await api.expect(200, "GET", "/api/v1/stats", { key }))?.deliveries?.by_status;
      let done;
      if (counts) done = counts.pending === 0 && Object.values(counts).reduce((a, b) => a + b, 0) >= expected;
      else {
        const pending = await pool(webhookIds.length, 4, (i) =>
          api.expect(200, "GET", `/api/v1/webhooks/${webhookIds[i]}/deliveries?status=pending&limit=1`, { key }),
        );
        done = pending.every((page) => page.length === 0);
      }
      if (!done) await sleep(1000);
      return done;
    },
    timeoutMs,
    "no pending deliveries",
  );
}

/** The deliveries of these webhooks: count by status, attempts and the distinct last errors. */
async function outcomes(api, key, webhookIds) {
  const rows = (await pool(webhookIds.length, 4, (i) => api.deliveries(key, webhookIds[i]))).flat();
  const byStatus = {};
  for (const d of rows) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
  return {
    deliveries: rows.length,
    by_status: byStatus,
    attempts: rows.reduce((a, d) => a + d.attempts, 0),
    errors: [...new Set(rows.map((d) => d.last_error).filter(Boolean))].slice(0, 5),
  };
}

/**
 * One memory run: registers the webhooks, warms the Worker up with small events, then the
 * sampler starts, `run` publishes, and the sampler stops once every delivery is final and the
 * Worker is idle (the delivery log is read in full after the sampler stops).
 */
async function memoryPhase(ctx, name, { behaviour, webhooks, events, data, expected }) {
  const receiver = await startReceiver({ behaviour, parseBody: true });
  const worker = await startWorker(ctx, name);
  const api = new ApiClient(worker.base, { adminToken: ADMIN_TOKEN });
  try {
    const tenant = await api.createTenant(`${name} tenant`);
    const hooks = await pool(webhooks, 8, (i) => api.createWebhook(tenant.key, `${receiver.url}/${name}/${i}`));
    // Warm-up: the same shape (webhooks x events) with small events, to endpoints of another tenant
    // on a plain path, so code, D1, connection pools and the heap's ordinary growth under this many
    // deliveries are in place before the baseline is read; the growth measured is then the big payload's.
    const warm = await api.createTenant("warm-up tenant");
    const warmHooks = await pool(webhooks, 8, (i) => api.createWebhook(warm.key, `${receiver.url}/ok/${i}`));
    const warmEvents = WARMUP_ROUNDS * events;
    for (let i = 0; i < warmEvents; i++)
      await api.expect(202, "POST", "/api/v1/events", { key: warm.key, json: { event: "query.created", data: eventData(`warm-${i}`) } });
    await waitFor(
      () => receiver.requests.filter((r) => r.path.startsWith("/ok/")).length >= warmEvents * warmHooks.length,
      PHASE_TIMEOUT_MS,
      "warm-up deliveries",
    );
    await quiet(worker);
    await sleep(1000);

    const sampler = new RssSampler(worker, { intervalMs: SAMPLE_MS }).start();
    const mark = { requests: receiver.requests.length, batches: worker.batches.length };
    const started = wallNow();
    const publishes = [];
    const mine = () => receiver.requests.slice(mark.requests).filter((r) => r.path.startsWith(`/${name}/`));
    let error = null;
    let outcome = null;
    try {
      for (let i = 0; i < events; i++) {
        const res = await api.publish(tenant.key, data(`${name}-${i}`));
        publishes.push({ status: res.status, ms: res.ms, scheduled: res.body?.deliveries_scheduled, error: res.status === 202 ? undefined : res.body });
      }
      await waitFor(
        () => new Set(mine().map((r) => r.delivery)).size >= expected || !worker.running,
        PHASE_TIMEOUT_MS,
        `${expected} ${name} deliveries at the receiver`,
      );
      if (worker.running) {
        await quiet(worker);
        await untilNonePending(
          api,
          tenant.key,
          hooks.map((h) => h.id),
          expected,
          PHASE_TIMEOUT_MS,
        );
        await quiet(worker);
      }
    } catch (e) {
      error = String(e);
    }
    const memory = sampler.stop();
    if (worker.running)
      outcome = await outcomes(
        api,
        tenant.key,
        hooks.map((h) => h.id),
      ).catch((e) => ({ error: String(e) }));
    const requests = mine();
    return {
      webhooks,
      events,
      deliveries_expected: expected,
      publishes,
      requests_received: requests.length,
      distinct_deliveries_received: new Set(requests.map((r) => r.delivery)).size,
      outcome,
      seconds: (wallNow() - started) / 1000,
      worker_alive: worker.running,
      error,
      batches_by_queue: batchesByQueue(worker.batches.slice(mark.batches)),
      memory,
      aim_mib: AIMS.memory_growth_mib,
      meets_aim: memory.growth_mib < AIMS.memory_growth_mib && !error,
    };
  } finally {
    await worker.stop();
    await receiver.close();
  }
}

function bombPhase(ctx) {
  const body = bomb();
  const answer = { status: 200, headers: { "content-type": "application/json", "content-encoding": "br", "content-length": body.length }, body };
  return memoryPhase(ctx, "bomb", {
    behaviour: (r) => (r.path.startsWith("/bomb/") ? answer : 200),
    webhooks: 1,
    events: BOMB_EVENTS,
    data: eventData,
    expected: BOMB_EVENTS,
  }).then((r) => ({ ...r, bomb: { decompressed_mib: BOMB_MIB, compressed_bytes: body.length, content_encoding: "br" } }));
}

function fanoutPhase(ctx) {
  const notes = "n".repeat(NOTES_CHARS);
  const data = (seq) => ({ ...eventData(seq), notes });
  return memoryPhase(ctx, "fanout", {
    behaviour: () => 200,
    webhooks: FANOUT_WEBHOOKS,
    events: FANOUT_EVENTS,
    data,
    expected: FANOUT_WEBHOOKS * FANOUT_EVENTS,
  }).then((r) => ({ ...r, event_body_bytes: Buffer.byteLength(JSON.stringify({ event: "query.created", data: data(`fanout-${FANOUT_EVENTS - 1}`) })) }));
}

/** The commit under test and whether src/, migrations/ or wrangler.toml differ from it (null outside git). */
function codeVersion() {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return {
      commit: git("rev-parse", "HEAD"),
      uncommitted_changes: git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml").split("\n").filter(Boolean),
    };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

const dir = mkdtempSync(path.join(os.tmpdir(), "hr-intel-isolation-"));

async function main() {
  const runStarted = Date.now();
  if (PHASES.includes("bomb")) {
    const t = performance.now();
    log(`bomb: ${BOMB_MIB} MiB of zeros → ${bomb().length} bytes of brotli (${fmt(performance.now() - t, 0)} ms)`);
  }
  const { file: config, consumer, consumers } = writeConfig(dir, CONSUMER);
  await snapshotWorker(config);
  quietMs = quietMsFor(consumers);
  log(`work dir ${dir}; phases ${PHASES.join(", ")}; consumers ${JSON.stringify(consumers)}`);
  const ctx = { dir, config };
  const results = {
    started_at: new Date(runStarted).toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg_at_start: os.loadavg(), memory_mib: os.totalmem() / 2 ** 20 },
    consumer,
    consumers,
    code: codeVersion(),
    delivery_timeout_ms: DELIVERY_TIMEOUT_MS,
    aims: AIMS,
    phases: {},
  };
  const runners = { neighbour, bomb: bombPhase, fanout: fanoutPhase };
  for (const name of PHASES) {
    log(`${name}: starting`);
    try {
      results.phases[name] = await runners[name](ctx);
    } catch (error) {
      console.error(`${name} failed: ${error.stack ?? error}`);
      results.phases[name] = { error: String(error.stack ?? error) };
      process.exitCode = 1;
    }
  }
  results.seconds = (Date.now() - runStarted) / 1000;
  results.loadavg_at_end = os.loadavg();
  report(results);
  const outDir = path.join(ROOT, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `isolation-${results.started_at.replace(/[:.]/g, "-")}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nWrote ${path.relative(ROOT, out)} (${fmt(results.seconds, 0)} s).`);
  if (process.exitCode) console.error(`(wrangler logs kept in ${dir})`);
  else rmSync(dir, { recursive: true, force: true });
}

const mark = (ok) => (ok ? "yes" : "NO");

function report(results) {
  console.log(`\nhr-intel-webhooks isolation bench — ${results.started_at}, ${results.machine.cpus} CPUs, attempt timeout ${results.delivery_timeout_ms} ms`);
  const nb = results.phases.neighbour;
  if (nb && !nb.error) {
    console.log(
      `\nNoisy neighbour: quiet tenant Q (1 endpoint, 200 at once), ${nb.quiet_events} events one at a time, each waited for up to ${nb.event_timeout_ms / 1000} s (a timeout counts as ${nb.event_timeout_ms / 1000} s);` +
        `\nnoisy tenant N: ${nb.noise.webhooks} endpoints that never answer, ${nb.noise.burst_events} events then one every ${nb.noise.interval_ms / 1000} s (${nb.noise.events_published} events, ${nb.noise.deliveries_scheduled} deliveries in ${fmt(nb.noise.seconds, 0)} s)`,
    );
    const row = (label, s) => [
      label,
      s.e2e_ms.n,
      fmt(s.e2e_ms.p50, 0),
      fmt(s.e2e_ms.p90, 0),
      fmt(s.e2e_ms.p99, 0),
      fmt(s.e2e_ms.max, 0),
      s.timeouts,
      fmt(s.publish_ms.p50, 0),
      fmt(s.publish_ms.p99, 0),
    ];
    console.log(
      table(
        ["Q e2e", "events", "p50 ms", "p90 ms", "p99 ms", "max ms", "timeouts", "publish p50 ms", "publish p99 ms"],
        [row("idle", nb.idle), row("under noise", nb.noisy)],
      ),
    );
    console.log(
      table(
        ["aim", "measured", "target", "met"],
        [
          ["Q p99 under noise", `${fmt(nb.noisy.e2e_ms.p99, 0)} ms`, `< ${AIMS.quiet_p99_ms} ms`, mark(nb.noisy.e2e_ms.p99 < AIMS.quiet_p99_ms)],
          [
            "Q p99 under noise / idle p50",
            `${fmt(nb.ratio_p99_over_idle_p50, 1)}x`,
            `<= ${AIMS.quiet_p99_over_idle_p50}x`,
            mark(nb.ratio_p99_over_idle_p50 <= AIMS.quiet_p99_over_idle_p50),
          ],
          ["(Q p50 under noise / idle p50)", `${fmt(nb.ratio_p50_over_idle_p50, 1)}x`, "", ""],
        ],
      ),
    );
    console.log(
      `N: ${nb.noise.hanging_requests_received} hanging requests received (${nb.noise.distinct_noisy_deliveries_attempted} deliveries), receiver peak in flight ${nb.noise.receiver_peak_in_flight}; ` +
        `N publish p50 ${fmt(nb.noise.publish_ms.p50, 0)} ms p99 ${fmt(nb.noise.publish_ms.p99, 0)} ms; batches ${JSON.stringify(nb.batches_by_queue)}`,
    );
  } else if (nb) console.log(`\nNoisy neighbour failed: ${nb.error.split("\n")[0]}`);

  const mem = ["bomb", "fanout"].filter((p) => results.phases[p]);
  if (mem.length > 0) {
    console.log("\nMemory: peak growth of the summed VmRSS of the Worker's workerd processes (sampled every 50 ms) over the sum just before the run");
    const describe = {
      bomb: (r) => `1 endpoint answering ${r.bomb?.decompressed_mib} MiB as ${r.bomb?.compressed_bytes} B of br, ${r.events} events`,
      fanout: (r) => `${r.webhooks} endpoints x ${r.events} events of ${fmt((r.event_body_bytes ?? 0) / 1000, 0)} KB`,
    };
    console.log(
      table(
        [
          "run",
          "what",
          "before MiB",
          "growth MiB",
          "worker MiB",
          "proxy MiB",
          "HWM growth MiB",
          "retained MiB",
          "deliveries",
          "attempts",
          "seconds",
          "< 64 MiB",
        ],
        mem.map((p) => {
          const r = results.phases[p];
          if (r.error && !r.memory) return [p, `failed: ${r.error.split("\n")[0].slice(0, 80)}`, "", "", "", "", "", "", "", "", "", ""];
          const m = r.memory;
          const outcome = r.outcome?.by_status
            ? Object.entries(r.outcome.by_status)
                .map(([s, c]) => `${c} ${s}`)
                .join(", ")
            : `${r.distinct_deliveries_received}/${r.deliveries_expected} received`;
          return [
            p,
            describe[p](r),
            fmt(m.baseline_mib, 0),
            fmt(m.growth_mib, 1),
            fmt(m.growth_by_kind_mib.worker, 1),
            fmt(m.growth_by_kind_mib.proxy, 1),
            m.hwm_growth_mib === null ? "-" : fmt(m.hwm_growth_mib, 1),
            fmt(m.retained_mib, 1),
            outcome,
            r.outcome?.attempts ?? r.requests_received,
            fmt(r.seconds, 1),
            mark(r.meets_aim),
          ];
        }),
      ),
    );
    for (const p of mem) {
      const r = results.phases[p];
      if (r.error) console.log(`  ${p}: ${r.error.split("\n")[0]}`);
      if (r.outcome?.errors?.length) console.log(`  ${p}: last errors ${JSON.stringify(r.outcome.errors)}`);
      if (r.memory?.gone?.length) console.log(`  ${p}: workerd process(es) ${r.memory.gone.join(", ")} died during the run`);
      if (r.worker_alive === false) console.log(`  ${p}: wrangler dev was no longer running at the end`);
    }
  }
}

main().catch((error) => {
  console.error(`npm run bench:isolation failed: ${error.stack ?? error}\n(wrangler logs: ${dir})`);
  process.exit(1);
});
