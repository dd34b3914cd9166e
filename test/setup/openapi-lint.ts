import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { postRoute, serveToTests } from "./control-server";

/**
 * Runs `redocly lint` (the pinned @redocly/cli, with redocly.yaml: the recommended rules) for
 * test/routes/openapi-lint.test.ts, since workerd cannot spawn processes. A control server on
 * 127.0.0.1: POST /lint with an OpenAPI document answers redocly's JSON report
 * ({"totals":{"errors","warnings"},"problems":[…]}).
 */
const ROOT = path.join(import.meta.dirname, "../..");
const REDOCLY = path.join(ROOT, "node_modules/@redocly/cli/bin/cli.js");

async function lint(document: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "openapi-lint-"));
  const file = path.join(dir, "openapi.json");
  try {
    await writeFile(file, document);
    const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };
    const args = [REDOCLY, "lint", "--config", path.join(ROOT, "redocly.yaml"), "--format=json", file];
    // redocly exits 1 when it finds errors; the report on stdout is the answer either way.
    return await new Promise((resolve, reject) =>
      execFile(process.execPath, args, { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
        stdout.trim().startsWith("{") ? resolve(stdout) : reject(new Error(`redocly lint failed: ${error?.message ?? ""}\n${stderr}`)),
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export default (project: TestProject) => serveToTests(project, "openApiLintPort", postRoute("/lint", lint));
