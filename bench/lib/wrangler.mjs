// Starting the Worker under `wrangler dev` (local D1 and queues, as scripts/dev.mjs does) for
// `npm run bench` and `npm run soak`: a private copy of wrangler.toml with absolute paths (so no
// .dev.vars is picked up and consumer settings can be overridden), migrations applied to a fresh
// --persist-to directory, and a process group we can SIGKILL to simulate a crash.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const QUIET_ENV = { CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

const FAST_LANE_BINDING = "DELIVERY_QUEUE";
const TABLE_HEADER = /^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$/;

/**
 * The tables of a wrangler.toml text, in order: { name, start, end } with character offsets of the
 * header line's start and of the next header (so text.slice(start, end) is the whole table,
 * trailing comments included). Keys above the first header form a table named "".
 */
function tomlTables(text) {
  const tables = [];
  let offset = 0;
  let current = { name: "", start: 0 };
  for (const line of text.split("\n")) {
    const header = line.match(TABLE_HEADER);
    if (header) {
      tables.push({ ...current, end: offset });
      current = { name: header[1], start: offset };
    }
    offset += line.length + 1;
  }
  tables.push({ ...current, end: text.length });
  return tables;
}

const stringKey = (block, key) => block.match(new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, "m"))?.[1];

/**
 * Every [[queues.consumers]] block of a wrangler.toml text: { queue, start, end, settings (the
 * numeric max_* keys), fastLane }. The fast lane is the consumer of the queue the Worker's
 * DELIVERY_QUEUE producer sends to (else the first consumer whose queue does not end in "-slow",
 * else the first); with one consumer, that one.
 */
export function consumerBlocks(tomlText) {
  const tables = tomlTables(tomlText);
  const producerQueue = tables
    .filter((t) => t.name === "queues.producers")
    .map((t) => tomlText.slice(t.start, t.end))
    .find((block) => stringKey(block, "binding") === FAST_LANE_BINDING);
  const fastQueue = producerQueue === undefined ? undefined : stringKey(producerQueue, "queue");
  const blocks = tables
    .filter((t) => t.name === "queues.consumers")
    .map(({ start, end }) => {
      const block = tomlText.slice(start, end);
      const settings = {};
      for (const match of block.matchAll(/^\s*(max_[a-z_]+)\s*=\s*([\d.]+)/gm)) settings[match[1]] = Number(match[2]);
      return { queue: stringKey(block, "queue") ?? null, start, end, settings, fastLane: false };
    });
  const fast = blocks.find((b) => fastQueue !== undefined && b.queue === fastQueue) ?? blocks.find((b) => !b.queue?.endsWith("-slow")) ?? blocks[0];
  if (fast) fast.fastLane = true;
  return blocks;
}

/** The fast-lane [[queues.consumers]] settings of a wrangler.toml text (numbers only). */
export function consumerSettings(tomlText) {
  return consumerBlocks(tomlText).find((b) => b.fastLane)?.settings ?? {};
}

/** The settings of every [[queues.consumers]] block, by queue name. */
export function consumerSettingsByQueue(tomlText) {
  return Object.fromEntries(consumerBlocks(tomlText).map((b) => [b.queue, b.settings]));
}

/** `block` (one TOML table's text) with `key = value` replaced, or added after its last key line. */
function setKey(block, key, value) {
  const line = new RegExp(`^(\\s*${key}\\s*=\\s*)[^#\\n]*`, "m");
  if (line.test(block)) return block.replace(line, `$1${value} `);
  const lines = block.split("\n");
  let last = 0; // the header
  lines.forEach((l, i) => {
    if (/^\s*[A-Za-z0-9_-]+\s*=/.test(l)) last = i;
  });
  lines.splice(last + 1, 0, `${key} = ${value}`);
  return lines.join("\n");
}

/** A wrangler.toml text with `consumer`'s keys set in the fast lane's [[queues.consumers]] block only. */
export function withConsumerSettings(text, consumer = {}) {
  const fast = consumerBlocks(text).find((b) => b.fastLane);
  if (!fast) return text;
  let block = text.slice(fast.start, fast.end);
  for (const [key, value] of Object.entries(consumer)) block = setKey(block, key, value);
  return text.slice(0, fast.start) + block + text.slice(fast.end);
}

/**
 * The text without its [[ratelimits]] tables: the bench and the soak publish thousands of events
 * from one API key, far past the per-key API limit, which the API skips when its binding is absent.
 */
function withoutRateLimits(text) {
  const kept = tomlTables(text).filter((t) => t.name !== "ratelimits");
  return kept.map((t) => text.slice(t.start, t.end)).join("");
}

/**
 * Quotas the bench and the soak go past (1,000 endpoints per event for one tenant), set on every
 * Worker they start.
 */
const LOAD_TEST_VARS = { MAX_WEBHOOKS_PER_TENANT: "5000", MAX_FANOUT_PER_EVENT: "5000" };

/**
 * Writes `dir/wrangler.toml`: the project's config without rate limits, with absolute main/migrations paths and the given
 * keys replaced (or added) in the fast lane's [[queues.consumers]] block (other consumers, e.g. a
 * slow lane, are left as they are). Returns its path, the fast lane's consumer settings in force
 * and every consumer's settings by queue name.
 */
export function writeConfig(dir, consumer = {}) {
  mkdirSync(dir, { recursive: true });
  let text = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main\s*=\s*"([^"]+)"/m, (_, main) => `main = ${JSON.stringify(path.join(ROOT, main))}`)
    .replace(/^migrations_dir\s*=\s*"([^"]+)"/m, (_, dir) => `migrations_dir = ${JSON.stringify(path.join(ROOT, dir))}`);
  text = withConsumerSettings(withoutRateLimits(text), consumer);
  const file = path.join(dir, "wrangler.toml");
  writeFileSync(file, text);
  return { file, consumer: consumerSettings(text), consumers: consumerSettingsByQueue(text) };
}

function run(args, { cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd, env: { ...process.env, ...QUIET_ENV }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`wrangler ${args.slice(0, 4).join(" ")} failed (${code}):\n${output}`))));
  });
}

/**
 * Bundles the Worker of `configFile` once (wrangler deploy --dry-run) and points the config at
 * the bundle with no_bundle = true. `wrangler dev` then runs this snapshot of src/ and does not
 * hot-reload (which drops the local queue's messages) when someone edits src/ during a run.
 */
export async function snapshotWorker(configFile) {
  const outdir = path.join(path.dirname(configFile), `dist-${path.basename(configFile, ".toml")}`);
  await run(["deploy", "--dry-run", "--outdir", outdir, "-c", configFile], { cwd: path.dirname(configFile) });
  const files = readdirSync(outdir);
  const bundle = files.find((name) => files.includes(`${name}.map`)); // the entry point's bundle has a source map
  // The text modules the bundle imports (the /docs assets), emitted beside it under hashed names.
  const textModules = files.filter((name) => name !== bundle && /\.(css|js)$/.test(name));
  const text = readFileSync(configFile, "utf8").replace(
    /^main\s*=\s*"[^"]+"/m,
    `main = ${JSON.stringify(path.join(outdir, bundle))}\nno_bundle = true\nfind_additional_modules = true\nbase_dir = ${JSON.stringify(outdir)}`,
  );
  writeFileSync(configFile, `${text}\n[[rules]]\ntype = "Text"\nglobs = ${JSON.stringify(textModules)}\n`);
  return configFile;
}

export const applyMigrations = (config, persistDir) => run(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir, "-c", config]);

/** Rows of a read-only SQL query against the local D1 (run it while no `wrangler dev` uses persistDir). */
export async function queryD1(config, persistDir, sql) {
  const out = await run(["d1", "execute", "DB", "--local", "--persist-to", persistDir, "-c", config, "--json", "--command", sql]);
  return JSON.parse(out.slice(out.indexOf("[")))[0].results;
}

/**
 * The workerd processes below `rootPid` (the `wrangler dev` process): { pid, kind, ticks } where
 * kind "worker" is the runtime running the Worker (and, locally, D1's SQLite and the queue broker)
 * and "proxy" the one wrangler puts in front of it on the dev port; ticks is user + system CPU.
 */
export function workerdProcesses(rootPid) {
  const procs = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      procs.set(Number(entry), { comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process went away
    }
  }
  const below = (pid) => {
    for (let p = procs.get(pid); p; p = procs.get(p.ppid)) if (p.ppid === rootPid) return true;
    return false;
  };
  const found = [];
  for (const [pid, p] of procs) {
    if (p.comm !== "workerd" || !below(pid)) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    found.push({ pid, kind: cmdline.includes("--inspector-addr") ? "worker" : "proxy", ticks: p.ticks });
  }
  return found;
}

/** CPU seconds (user + system) of the workerd processes below `rootPid`, by kind (see workerdProcesses). */
export function workerdCpuSeconds(rootPid) {
  const cpu = { worker: 0, proxy: 0 };
  for (const p of workerdProcesses(rootPid)) cpu[p.kind] += p.ticks / 100; // USER_HZ
  return cpu;
}

/** { rss, hwm } in KiB (VmRSS, VmHWM of /proc/<pid>/status), or null once the process is gone. */
export function processMemoryKiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? Number.NaN);
    return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
  } catch {
    return null;
  }
}

/** Resets a process's VmHWM (peak RSS) to its current RSS (Linux clear_refs 5); false if not allowed. */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

const QUEUE_LINE = /QUEUE (\S+) (\d+)\/(\d+) \((\d+)ms\)/;

/**
 * `wrangler dev` on 127.0.0.1:port in its own process group. Collects the {"usage":…} lines the
 * Worker logs (LOG_USAGE=1) and Miniflare's per-batch "QUEUE name acked/total (ms)" lines; the rest
 * of the output goes to `logFile`.
 */
export class WranglerDev {
  constructor({ config, port, persistDir, vars = {}, logFile, inspectorPort = 0 }) {
    Object.assign(this, { config, port, persistDir, vars, logFile, inspectorPort });
    this.base = `http://127.0.0.1:${port}`;
    this.usage = []; // { at, usage }
    this.batches = []; // { at, queue, acked, total, ms }
    this.droppedMessages = 0; // Miniflare's "Dropped message … after N failed attempts" (max_retries used up)
    this.child = null;
    this.starts = 0;
  }

  async start({ timeoutMs = 90_000 } = {}) {
    const args = ["dev", "--local", "--ip", "127.0.0.1", "--port", String(this.port), "-c", this.config, "--persist-to", this.persistDir];
    args.push("--show-interactive-dev-session=false", "--inspector-port", String(this.inspectorPort));
    for (const [key, value] of Object.entries({ ...LOAD_TEST_VARS, ...this.vars })) args.push("--var", `${key}:${value}`);
    const log = this.logFile ? createWriteStream(this.logFile, { flags: "a" }) : null;
    log?.write(`\n==== start ${++this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: path.dirname(this.config),
      env: { ...process.env, ...QUIET_ENV },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: kill() takes workerd down with it
    });
    this.child = child;
    let buffered = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop();
      const at = performance.timeOrigin + performance.now();
      for (const line of lines) {
        if (line.startsWith('{"usage":')) {
          this.usage.push({ at, usage: JSON.parse(line).usage });
          continue;
        }
        if (line.includes("Dropped message")) this.droppedMessages++;
        const queue = line.match(QUEUE_LINE);
        if (queue) this.batches.push({ at, queue: queue[1], acked: Number(queue[2]), total: Number(queue[3]), ms: Number(queue[4]) });
        log?.write(`${line}\n`);
      }
    });
    child.stderr.on("data", (chunk) => {
      this.droppedMessages += String(chunk).split("Dropped message").length - 1;
      log?.write(chunk);
    });
    child.on("exit", (code, signal) => log?.end(`==== exit ${code ?? signal}\n`));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wrangler dev exited early; see ${this.logFile}`);
      try {
        const res = await fetch(`${this.base}/__bench_ready`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return this;
      } catch {
        await sleep(250);
      }
    }
    throw new Error(`wrangler dev did not answer on ${this.base} within ${timeoutMs} ms; see ${this.logFile}`);
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the whole process group (SIGKILL simulates a crash; SIGTERM for a clean stop). */
  async stop(signal = "SIGTERM") {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
    await Promise.race([exited, sleep(5000)]);
    if (this.running) process.kill(-child.pid, "SIGKILL");
    await sleep(200); // workerd children of the group die with it
  }

  /**
   * Runs the Worker's scheduled handler (the outbox sweep) now, as if at `time` (epoch ms; default
   * now). Miniflare's trigger endpoint, since --test-scheduled's /__scheduled is bundler middleware
   * that a snapshot (no_bundle) lacks.
   */
  async scheduled(time) {
    const query = time === undefined ? "" : `?time=${time}`;
    const res = await fetch(`${this.base}/cdn-cgi/local/scheduled${query}`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  }

  cpuSeconds() {
    return this.child ? workerdCpuSeconds(this.child.pid) : { worker: 0, proxy: 0 };
  }

  /** The workerd processes of this `wrangler dev` (see workerdProcesses). */
  workerdProcesses() {
    return this.child ? workerdProcesses(this.child.pid) : [];
  }
}

/** `dir/baseline.wrangler.toml` for bench/baseline-worker.js: the project's compatibility date and flags, no bindings. */
export function writeBaselineConfig(dir) {
  mkdirSync(dir, { recursive: true });
  const project = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const keep = project.split("\n").filter((line) => /^compatibility_(date|flags)\s*=/.test(line));
  const file = path.join(dir, "baseline.wrangler.toml");
  writeFileSync(
    file,
    [`name = "hr-intel-webhooks-baseline"`, `main = ${JSON.stringify(path.join(ROOT, "bench", "baseline-worker.js"))}`, ...keep, ""].join("\n"),
  );
  return file;
}
