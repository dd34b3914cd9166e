import { type ChildProcess, spawn } from "node:child_process";
import type { RequestListener } from "node:http";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { bodyText, serveToTests } from "./control-server";

/**
 * Runs scripts/receiver.mjs as child processes (node) for test/scripts/receiver.test.ts,
 * since workerd cannot spawn processes. A small control server on 127.0.0.1:
 *   POST /start {"secret"?}  starts one on a free port (port 0), answers {"id","port"} once it listens;
 *   GET  /status/{id}        answers {"running","exit_code","signal","stdout","stderr"};
 *   POST /stop/{id}          ends it.
 */
interface Child {
  process: ChildProcess;
  stdout: string;
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

const SCRIPT = path.join(import.meta.dirname, "../../scripts/receiver.mjs");
const LISTENING = /receiver listening on http:\/\/localhost:(\d+)\//;

function startReceiver(children: Map<string, Child>, secret: string | undefined): Promise<{ id: string; port: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env, WEBHOOK_SECRET: secret };
  if (secret === undefined) delete env.WEBHOOK_SECRET;
  const child: Child = { process: spawn(process.execPath, [SCRIPT, "0"], { env, stdio: ["ignore", "pipe", "pipe"] }), stdout: "", stderr: "", exit: null };
  const id = crypto.randomUUID();
  children.set(id, child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`receiver.mjs did not start: ${child.stderr}`)), 10_000);
    child.process.stdout!.on("data", (chunk: Buffer) => {
      child.stdout += chunk.toString("utf8");
      const match = child.stdout.match(LISTENING);
      if (match) {
        clearTimeout(timer);
        resolve({ id, port: Number(match[1]) });
      }
    });
    child.process.stderr!.on("data", (chunk: Buffer) => (child.stderr += chunk.toString("utf8")));
    child.process.on("exit", (code, signal) => {
      child.exit = { code, signal };
      clearTimeout(timer);
      reject(new Error(`receiver.mjs exited (${code ?? signal}): ${child.stderr}`));
    });
  });
}

function controlOf(children: Map<string, Child>): RequestListener {
  return async (req, res) => {
    const body = await bodyText(req);
    const reply = (status: number, answer: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
    const [, action, id] = (req.url ?? "").split("/");
    try {
      if (req.method === "POST" && action === "start") {
        const { secret } = JSON.parse(body || "{}") as { secret?: string };
        return reply(200, await startReceiver(children, secret));
      }
      const child = children.get(id ?? "");
      if (!child) return reply(404, { error: "no such receiver" });
      if (req.method === "GET" && action === "status") {
        return reply(200, {
          running: child.exit === null,
          exit_code: child.exit?.code ?? null,
          signal: child.exit?.signal ?? null,
          stdout: child.stdout,
          stderr: child.stderr,
        });
      }
      if (req.method === "POST" && action === "stop") {
        child.process.kill();
        return reply(200, { stopped: true });
      }
      reply(404, { error: "unknown action" });
    } catch (error) {
      reply(500, { error: String(error) });
    }
  };
}

export default function setup(project: TestProject) {
  const children = new Map<string, Child>();
  return serveToTests(project, "receiverScriptControlPort", controlOf(children), () => {
    for (const child of children.values()) if (child.exit === null) child.process.kill();
  });
}
