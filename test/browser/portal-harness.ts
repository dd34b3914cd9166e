import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
export const CHROMIUM = "/usr/bin/chromium";
export const ADMIN_TOKEN = randomBytes(24).toString("base64url");

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * A local webhook receiver: each path answers what `answer(path, …)` was last told (200 "ok"
 * by default) and keeps what it got, so a test can make an endpoint fail, recover, or answer
 * hostile text.
 */
export class Receiver {
  private readonly answers = new Map<string, { status: number; body: string; contentType: string }>();
  private readonly log = new Map<string, Received[]>();
  private server?: Server;
  port = 0;

  async start() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const key = (req.url ?? "/").split("?")[0];
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        this.log.set(key, [...(this.log.get(key) ?? []), { path: key, headers, body: Buffer.concat(chunks).toString("utf8") }]);
        const answer = this.answers.get(key) ?? { status: 200, body: "ok", contentType: "text/plain" };
        res.writeHead(answer.status, { "content-type": answer.contentType }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(key: string) {
    return `http://localhost:${this.port}/${key}`;
  }

  answer(key: string, status: number, body = "ok", contentType = "text/plain") {
    this.answers.set(`/${key}`, { status, body, contentType });
  }

  requests(key: string): Received[] {
    return this.log.get(`/${key}`) ?? [];
  }

  stop() {
    return new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function runWrangler(args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", ...env },
      stdio: "pipe",
    });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler ${args[0]} failed: ${output}`))));
  });
}

/**
 * `wrangler dev` (local: workerd with D1 and both delivery queues) on a free port, with its own
 * fresh state directory and inspector port, in development mode so localhost receivers are allowed.
 */
export class DevServer {
  private child?: ChildProcess;
  private stateDir = mkdtempSync(path.join(tmpdir(), "portal-browser-"));
  output = "";
  base = "";

  async start() {
    await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", this.stateDir]);
    const [port, inspectorPort] = [await freePort(), await freePort()];
    this.base = `http://localhost:${port}`;
    const vars = {
      ENVIRONMENT: "development",
      ADMIN_TOKEN,
      SECRET_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    };
    const args = ["dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", this.stateDir];
    args.push("--show-interactive-dev-session=false", "--log-level", "warn");
    for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
    // Its own process group, so stopping it stops workerd too.
    this.child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      stdio: "pipe",
      detached: true,
    });
    this.child.stdout!.on("data", (c) => (this.output += c));
    this.child.stderr!.on("data", (c) => (this.output += c));
    for (let tries = 0; tries < 240; tries++) {
      if (this.child.exitCode !== null) throw new Error(`wrangler dev exited: ${this.output}`);
      try {
        if ((await fetch(`${this.base}/api/v1/health`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`wrangler dev did not answer: ${this.output}`);
  }

  async stop() {
    if (this.child?.pid && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child!.once("exit", r));
      process.kill(-this.child.pid, "SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.child.exitCode === null) process.kill(-this.child.pid, "SIGKILL");
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  /** The API as a tenant (or the admin) calls it. */
  async api<T>(pathname: string, init: { method?: string; key: string; json?: unknown }): Promise<T> {
    const res = await fetch(`${this.base}${pathname}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: { Authorization: `Bearer ${init.key}`, ...(init.json === undefined ? {} : { "Content-Type": "application/json" }) },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${pathname}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }
}

/**
 * Debian's Chromium, headless, no network of its own beyond the test's. launch() gives it a
 * fresh --user-data-dir of its own (a temporary profile, removed on close; it refuses one passed
 * in args), so no run sees another's cookies.
 */
export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * axe-core's serious and critical violations on the page as it is. axe is injected through the
 * DevTools protocol (page.evaluate), which the page's CSP does not govern.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  // Page-side code as text: this project's TypeScript has no DOM types (the Worker's are not a browser's).
  const violations = (await page.evaluate(`axe.run(document).then((result) => result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")),
  })))`)) as { id: string; impact: string; help: string; targets: string[] }[];
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(", ")}`);
}

/** Wider than the viewport: the page scrolls sideways. */
export const scrollsSideways = (page: Page) => page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth") as Promise<boolean>;
