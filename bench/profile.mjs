// `npm run bench:profile`: where the Worker's JavaScript time goes during a burst, from a V8
// CPU profile taken through wrangler dev's inspector (Chrome DevTools protocol).
// Publishes --events events to a tenant with --fanout endpoints (defaults 50 × 100), then
// prints the functions with the most self time and writes the .cpuprofile (open it in
// Chrome DevTools) to bench/results/. Only the Worker's isolate is profiled: D1's SQLite
// and the queue broker run outside it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ApiClient, eventData } from "./lib/api.mjs";
import { waitFor, whenQuiet } from "./lib/idle.mjs";
import { startReceiver } from "./lib/receiver.mjs";
import { fmt, pool, table } from "./lib/stats.mjs";
import { applyMigrations, ROOT, snapshotWorker, WranglerDev, writeConfig } from "./lib/wrangler.mjs";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")));
const FANOUT = Number(args.fanout ?? 100);
const EVENTS = Number(args.events ?? 50);
const PORT = Number(args.port ?? 8796);
const INSPECTOR_PORT = Number(args["inspector-port"] ?? 9231);
const ADMIN_TOKEN = "bench-admin-token";
const VARS = { ENVIRONMENT: "development", ADMIN_TOKEN, SECRET_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"), DELIVERY_TIMEOUT_MS: "10000" };

/** A DevTools protocol session over the inspector's WebSocket (Node 22's global WebSocket). */
async function devtools(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
  // The inspector proxy accepts a local Origin (Miniflare's allow-list); undici sends none by default.
  const socket = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${port}` } });
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 0;
  const pending = new Map();
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.id !== undefined && pending.has(data.id)) {
      pending.get(data.id)(data);
      pending.delete(data.id);
    }
  };
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        pending.set(id, (data) => (data.error ? reject(new Error(`${method}: ${data.error.message}`)) : resolve(data.result)));
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Self time per function (name, file:line) from a V8 CPU profile, largest first. */
function selfTimes(profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const ticks = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    ticks.set(profile.samples[i], (ticks.get(profile.samples[i]) ?? 0) + dt);
  }
  const byFunction = new Map();
  let total = 0;
  for (const [id, us] of ticks) {
    const { callFrame: f } = byNode.get(id);
    const key = `${f.functionName || "(anonymous)"} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ""}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    total += us;
  }
  return { total, rows: [...byFunction].sort((a, b) => b[1] - a[1]) };
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hr-intel-profile-"));
  const { file: config } = writeConfig(dir, {});
  await snapshotWorker(config);
  const persistDir = path.join(dir, "state");
  await applyMigrations(config, persistDir);
  const worker = new WranglerDev({ config, port: PORT, persistDir, vars: VARS, logFile: path.join(dir, "worker.log"), inspectorPort: INSPECTOR_PORT });
  const receiver = await startReceiver();
  try {
    await worker.start();
    const api = new ApiClient(worker.base, { adminToken: ADMIN_TOKEN });
    const tenant = await api.createTenant("profile");
    await pool(FANOUT, 8, (i) => api.createWebhook(tenant.key, `${receiver.url}/h/${i}`));
    const session = await devtools(INSPECTOR_PORT);
    await session.call("Profiler.enable");
    await session.call("Profiler.setSamplingInterval", { interval: 200 });
    await session.call("Profiler.start");
    const cpu0 = worker.cpuSeconds().worker;
    const first = receiver.requests.length;
    await pool(EVENTS, 8, (i) => api.publish(tenant.key, eventData(`profile-${i}`)));
    await waitFor(() => receiver.requests.length - first >= EVENTS * FANOUT, 120_000, `${EVENTS * FANOUT} deliveries`);
    await whenQuiet(worker, 1000);
    const { profile } = await session.call("Profiler.stop");
    const processMs = (worker.cpuSeconds().worker - cpu0) * 1000;
    session.close();
    const outDir = path.join(ROOT, "bench", "results");
    mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, `profile-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
    writeFileSync(out, JSON.stringify(profile));
    const { total, rows } = selfTimes(profile);
    const deliveries = EVENTS * FANOUT;
    const busyMs = (total - (rows.find(([name]) => name === "(idle)")?.[1] ?? 0)) / 1000;
    console.log(
      `\n${deliveries} deliveries (${EVENTS} events × ${FANOUT} endpoints): the Worker's isolate busy ${fmt(busyMs, 0)} ms (${fmt(busyMs / deliveries, 3)} ms a delivery), ` +
        `the workerd process's CPU ${fmt(processMs, 0)} ms (${fmt(processMs / deliveries, 3)} ms a delivery; the rest is D1, the queue broker and the runtime outside the isolate). ` +
        "With the inspector attached each console.log line costs milliseconds (logBatch, requestLog below): not so without it.",
    );
    console.log(
      table(
        ["self ms", "%", "µs/delivery", "function"],
        rows.slice(0, Number(args.top ?? 40)).map(([name, us]) => [fmt(us / 1000, 1), fmt((100 * us) / total, 1), fmt(us / deliveries, 1), name]),
      ),
    );
    console.log(`\nWrote ${path.relative(ROOT, out)}`);
  } finally {
    await Promise.all([worker.stop(), receiver.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`npm run bench:profile failed: ${error.stack ?? error}`);
  process.exit(1);
});
