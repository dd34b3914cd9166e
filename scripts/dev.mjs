#!/usr/bin/env node
// `npm run dev`: everything a fresh clone needs to serve the API locally, then `wrangler dev`.
//   1. .dev.vars: ENVIRONMENT=development and random ADMIN_TOKEN, SECRET_ENCRYPTION_KEY, DEV_API_KEY
//      (missing keys are appended; existing values are kept, so the dev key stays the same).
//   2. Local D1 migrations.
//   3. A "Development" tenant owning DEV_API_KEY (fixed ids: re-runs change nothing).
//   4. wrangler dev on http://localhost:$PORT (default 8787; local mode: queues and D1 run in workerd).
// A busy port is refused before anything else runs. "API ready" is printed only once the health
// check answers with this run's id (passed to the Worker as DEV_RUN_ID), so another server on
// the port is never taken for ours.
// Node built-ins only.
import { spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DEV_VARS = path.join(ROOT, ".dev.vars");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const DEFAULT_PORT = 8787;
/** Sent by the Worker on /api/v1/health as X-Dev-Run when DEV_RUN_ID is set (src/routes/health). */
const RUN_ID = randomUUID();

// Fixed ids (UUIDs, like the ones the API issues) so seeding is idempotent.
const DEV_TENANT_ID = "00000000-0000-4000-8000-000000000001";
const DEV_API_KEY_ID = "00000000-0000-4000-8000-000000000002";
// As in src/services/api-keys.ts: "hrk_" + base64url of 32 random bytes; the first 10 characters are kept in clear.
const API_KEY_PREFIX = "hrk_";
const VISIBLE_PREFIX_CHARS = API_KEY_PREFIX.length + 6;

const GENERATED_VARS = {
  ENVIRONMENT: () => "development",
  ADMIN_TOKEN: () => randomBytes(32).toString("base64url"),
  SECRET_ENCRYPTION_KEY: () => randomBytes(32).toString("base64"),
  DEV_API_KEY: () => API_KEY_PREFIX + randomBytes(32).toString("base64url"),
};

/** KEY=value lines of a .dev.vars file (comments, blank lines and surrounding quotes ignored). */
function parseDevVars(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const match = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!match) continue;
    vars[match[1]] = match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return vars;
}

/** Creates .dev.vars, or appends whatever generated variables it lacks; returns all its variables. */
function ensureDevVars() {
  const existing = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : null;
  const vars = existing === null ? {} : parseDevVars(existing);
  const added = Object.keys(GENERATED_VARS).filter((name) => !vars[name]);
  if (added.length === 0) return vars;
  for (const name of added) vars[name] = GENERATED_VARS[name]();
  const lines = added.map((name) => `${name}=${vars[name]}`);
  if (existing === null) {
    writeFileSync(DEV_VARS, `# Local secrets for \`wrangler dev\`, written by scripts/dev.mjs (gitignored).\n${lines.join("\n")}\n`);
    console.log(`Created .dev.vars (${added.join(", ")})`);
  } else {
    writeFileSync(DEV_VARS, `${existing}${existing.endsWith("\n") || existing === "" ? "" : "\n"}${lines.join("\n")}\n`);
    console.log(`Added to .dev.vars: ${added.join(", ")}`);
  }
  return vars;
}

/** Runs wrangler with the Node that runs this script; resolves on exit code 0. */
function wrangler(args, { env = {}, quiet = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
    });
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) return resolve(output);
      if (quiet) process.stderr.write(output);
      reject(new Error(`wrangler ${args.slice(0, 3).join(" ")} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

const sqlString = (value) => `'${String(value).replace(/'/g, "''")}'`;

/** The dev tenant and key. The key row is upserted so a regenerated DEV_API_KEY replaces the old hash. */
function seedSql(apiKey, now) {
  const keyHash = createHash("sha256").update(apiKey).digest("hex");
  const prefix = apiKey.slice(0, VISIBLE_PREFIX_CHARS);
  return [
    `INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES (${sqlString(DEV_TENANT_ID)}, 'Development', ${now})`,
    `INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, created_at, revoked_at) ` +
      `VALUES (${sqlString(DEV_API_KEY_ID)}, ${sqlString(DEV_TENANT_ID)}, 'development', ${sqlString(keyHash)}, ${sqlString(prefix)}, ${now}, NULL) ` +
      `ON CONFLICT(id) DO UPDATE SET key_hash = excluded.key_hash, prefix = excluded.prefix, revoked_at = NULL ` +
      `WHERE api_keys.key_hash <> excluded.key_hash OR api_keys.revoked_at IS NOT NULL`,
  ].join("; ");
}

/** PORT from the environment (default 8787), or a clear refusal. */
function portFromEnv() {
  const raw = process.env.PORT?.trim();
  if (raw === undefined || raw === "") return DEFAULT_PORT;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw new Error(`PORT must be a port number (1-65535); got "${raw}"`);
  return port;
}

/** Whether something already listens on `port` on localhost (IPv4 or IPv6), as wrangler dev would find. */
function portBusy(port, host) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (error) => resolve(error.code === "EADDRINUSE" || error.code === "EACCES"));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

async function refuseBusyPort(port) {
  // ::1 may be missing (no IPv6): only "in use" counts as busy there.
  const busy = (await portBusy(port, "127.0.0.1")) || (await portBusy(port, "::1").catch(() => false));
  if (busy) {
    throw new Error(
      `port ${port} is busy: another process listens on it (another \`npm run dev\`?). ` +
        `Stop it, or choose a free port: PORT=${port === DEFAULT_PORT ? 8788 : port + 1} npm run dev`,
    );
  }
}

function printBanner(vars, port) {
  const base = `http://localhost:${port}`;
  console.log(`
────────────────────────────────────────────────────────────────────────
 hr-intel-webhooks (development)
   Base URL     ${base}
   API docs     ${base}/docs   (OpenAPI: ${base}/openapi.json)
   Dev API key  ${vars.DEV_API_KEY}   (tenant "Development")
   Admin token  ${vars.ADMIN_TOKEN}
 Try:
   export BASE=${base}
   export API_KEY=${vars.DEV_API_KEY}
   curl -H "Authorization: Bearer $API_KEY" $BASE/api/v1/webhooks
 (values are kept in .dev.vars)
────────────────────────────────────────────────────────────────────────
`);
}

/** wrangler dev in the foreground; SIGINT/SIGTERM are passed on and its exit code becomes ours. */
function runDevServer(port) {
  const args = [WRANGLER, "dev", "--local", "--port", String(port), "--var", `DEV_RUN_ID:${RUN_ID}`];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? "false" },
    stdio: "inherit",
  });
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  // `npm run` may die of a SIGTERM without passing it on (its `sh -c` does not forward it):
  // when our parent goes away, stop wrangler rather than leave it holding the port.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && forward("SIGTERM"), 1000).unref();
  child.on("error", (error) => {
    console.error(`Could not start wrangler dev: ${error.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1)));
  return child;
}

/** Repeats the essentials once the API answers, since wrangler's start-up output pushes the banner up. */
async function announceWhenReady(child, vars, port) {
  const base = `http://localhost:${port}`;
  for (let tries = 0; tries < 240 && child.exitCode === null; tries++) {
    try {
      const res = await fetch(`${base}/api/v1/health`, { signal: AbortSignal.timeout(2000) });
      // Our server only: a health check without this run's id is another server's.
      if (res.ok && res.headers.get("X-Dev-Run") === RUN_ID) {
        console.log(`\n✔ API ready on ${base}  API_KEY=${vars.DEV_API_KEY}  ADMIN_TOKEN=${vars.ADMIN_TOKEN}\n`);
        console.log(
          `✔ Portal (one-time link, 1 h; POST /api/v1/portal/sessions for another): ${(await (await fetch(`${base}/api/v1/portal/sessions`, { method: "POST", headers: { Authorization: `Bearer ${vars.DEV_API_KEY}` } })).json()).url}\n`,
        );
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function main() {
  const port = portFromEnv();
  await refuseBusyPort(port);
  if (!existsSync(WRANGLER)) throw new Error("wrangler is not installed: run `npm install` first");
  const vars = ensureDevVars();
  // CI=true makes wrangler skip the "apply these migrations?" confirmation.
  const quietEnv = { CI: "true", WRANGLER_SEND_METRICS: "false" };
  await wrangler(["d1", "migrations", "apply", "DB", "--local"], { env: quietEnv });
  await wrangler(["d1", "execute", "DB", "--local", "--yes", "--command", seedSql(vars.DEV_API_KEY, Date.now())], {
    env: quietEnv,
    quiet: true,
  });
  console.log('Seeded tenant "Development" and its dev API key into local D1.');
  printBanner(vars, port);
  await announceWhenReady(runDevServer(port), vars, port);
}

main().catch((error) => {
  console.error(`npm run dev: ${error.message}`);
  process.exit(1);
});
