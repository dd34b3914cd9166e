import { describe, expect, inject, it } from "vitest";
import type { Run } from "../setup/dev-script";

/**
 * scripts/dev.mjs (`npm run dev`), run as a child process by test/setup/dev-script.ts: PORT
 * chooses the port, a busy port is refused before anything starts, and "API ready" is printed
 * only for its own server.
 */
async function runDev(port: string, until: "exit" | "ready"): Promise<Run> {
  const res = await fetch(`http://127.0.0.1:${inject("devScriptControlPort")}/run`, { method: "POST", body: JSON.stringify({ port, until }) });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Run;
}

describe("npm run dev (scripts/dev.mjs)", () => {
  it("refuses a busy port clearly, before anything starts, and never reports the other server as ready", async () => {
    const run = await runDev("busy", "exit");
    expect(run.exit_code).toBe(1);
    expect(run.stderr).toContain(`npm run dev: port ${run.port} is busy: another process listens on it`);
    expect(run.stderr).toContain(`PORT=${Number(run.port) + 1} npm run dev`);
    expect(run.stdout).not.toContain("API ready");
    expect(run.stdout).not.toContain("Seeded"); // refused before migrations and seeding
  });

  it("refuses a PORT that is not a port number", async () => {
    for (const port of ["http", "70000", "0"]) {
      const run = await runDev(port, "exit");
      expect(run.exit_code, port).toBe(1);
      expect(run.stderr).toContain(`npm run dev: PORT must be a port number (1-65535); got "${port}"`);
    }
  });

  it("serves the API on PORT and announces it once its own server answers", { timeout: 150_000 }, async () => {
    const run = await runDev("free", "ready");
    expect(run.stdout, run.stderr).toContain(`API ready on http://localhost:${run.port}`);
    // A fresh clone (test/setup/dev-script.ts): the script wrote .dev.vars itself.
    expect(run.stdout).toContain("Created .dev.vars (ENVIRONMENT, ADMIN_TOKEN, SECRET_ENCRYPTION_KEY, DEV_API_KEY)");
    expect(run.stdout).toContain(`Base URL     http://localhost:${run.port}`);
    expect(run.health).toMatchObject({ status: 200, dev_run: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(JSON.parse(run.health!.body)).toEqual({ status: "ok", environment: "development" });
  });
});
