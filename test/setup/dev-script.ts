import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { postRoute, serveToTests } from "./control-server";

/**
 * Runs scripts/dev.mjs (`npm run dev`) as a child process for test/scripts/dev.test.ts, since
 * workerd cannot spawn processes. A control server on 127.0.0.1:
 *   POST /run {"port": "free" | "busy" | <PORT value>, "until": "exit" | "ready"}
 *     "busy": PORT names a port on which another HTTP server already answers /api/v1/health with 200;
 *     "free": a port nothing listens on. Runs dev.mjs until it exits, or until it prints "API ready"
 *     (then checks its health route and stops it), and answers
 *     {"port","exit_code","stdout","stderr","health": {"status","body"} | null}.
 * Each run is in a fresh copy of the project (node_modules linked), as in a new clone: the .dev.vars
 * and local D1 the script writes stay there, never in the repository, where the Worker of every later
 * test file would read that .dev.vars (and say so once per file).
 */
const ROOT = path.join(import.meta.dirname, "../..");
const PROJECT_FILES = ["package.json", "tsconfig.json", "wrangler.toml", "migrations", "scripts", "src"];

/** A copy of the project in a temporary directory, with node_modules linked rather than copied. */
function freshClone(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "hr-intel-webhooks-dev-"));
  for (const file of PROJECT_FILES) cpSync(path.join(ROOT, file), path.join(dir, file), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

const READY = /API ready on (http:\/\/localhost:\d+)/;
const LIMIT_MS = 120_000;

/** Another server on the port, one a careless readiness check would take for ours. */
function impostor(): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}'));
  return new Promise((resolve) => server.listen(0, "localhost", () => resolve(server)));
}

async function freePort(): Promise<number> {
  const server = await impostor();
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One run of the script, as the control server reports it to test/scripts/dev.test.ts. */
export interface Run {
  port: string;
  exit_code: number | null;
  stdout: string;
  stderr: string;
  health: { status: number; body: string; dev_run: string | null } | null;
}

async function run(portOption: string, until: "exit" | "ready"): Promise<Run> {
  const occupied = portOption === "busy" ? await impostor() : null;
  const port = occupied ? String((occupied.address() as { port: number }).port) : portOption === "free" ? String(await freePort()) : portOption;
  const clone = freshClone();
  const child = spawn(process.execPath, [path.join(clone, "scripts/dev.mjs")], { env: { ...process.env, PORT: port }, stdio: ["ignore", "pipe", "pipe"] });
  const result: Run = { port, exit_code: null, stdout: "", stderr: "", health: null };
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LIMIT_MS);
      child.stdout.on("data", async (chunk: Buffer) => {
        result.stdout += chunk.toString("utf8");
        const ready = until === "ready" && result.stdout.match(READY);
        if (ready && !result.health) {
          result.health = { status: 0, body: "", dev_run: null };
          const res = await fetch(`${ready[1]}/api/v1/health`);
          result.health = { status: res.status, body: await res.text(), dev_run: res.headers.get("X-Dev-Run") };
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.on("data", (chunk: Buffer) => (result.stderr += chunk.toString("utf8")));
      child.on("exit", (code) => {
        result.exit_code = code;
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    if (child.exitCode === null) {
      child.kill("SIGTERM"); // dev.mjs passes it on to wrangler
      await new Promise((resolve) => child.once("exit", resolve));
    }
    if (occupied) await new Promise((resolve) => occupied.close(resolve));
    rmSync(clone, { recursive: true, force: true });
  }
  return result;
}

/** POST /run {port, until} answers run()'s result. */
export default (project: TestProject) =>
  serveToTests(
    project,
    "devScriptControlPort",
    postRoute("/run", async (body) => {
      const { port, until } = JSON.parse(body) as { port: string; until: "exit" | "ready" };
      return JSON.stringify(await run(port, until));
    }),
  );
