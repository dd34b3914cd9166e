import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";
import { quietOutput } from "./test/setup/quiet-output.ts";

// Output lines that say nothing about our code (workerd logging the network failures tests cause on
// purpose, even when handled; one Vite warning) are dropped: test/setup/quiet-output.ts says why.
quietOutput();

// Tests run inside workerd with the Worker's real bindings from wrangler.toml: local D1
// (migrations applied in test/setup/apply-migrations.ts) and the local delivery queue,
// whose consumer runs for real. Receivers are real Node HTTP servers (test/setup/receiver.ts).

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  const workerd = {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            // Local receivers listen on http://localhost; production policy is tested by overriding this.
            ENVIRONMENT: "development",
            ADMIN_TOKEN: "test-admin-token",
            SECRET_ENCRYPTION_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            // Short per-attempt timeout so the hanging-receiver tests stay quick.
            DELIVERY_TIMEOUT_MS: "3000",
            // The detach line the lane tests are written against (production default: 500).
            SLOW_ATTEMPT_MS: "1000",
            // Fan-out tests give one tenant 150 webhooks; test/routes/quotas.test.ts checks the default (100).
            MAX_WEBHOOKS_PER_TENANT: "1000",
          },
          // Deliver queue batches quickly in tests. This replaces wrangler.toml's consumer settings,
          // so max_retries is repeated: Miniflare's default (2) drops a job after 3 deliveries, and
          // the consumer retries jobs to wait out each delivery's backoff.
          // The suite polls the API from few keys for minutes (the soak most): the per-key API limit
          // would answer 429 to that polling. test/routes/rate-limits.test.ts tests it with a stub binding.
          ratelimits: { API_RATE_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } } },
          queueConsumers: {
            "hr-intel-webhook-deliveries": { maxBatchTimeout: 0.05, maxRetries: 10 },
            "hr-intel-webhook-deliveries-slow": { maxBatchTimeout: 0.05, maxRetries: 10 },
          },
        },
      }),
    ],
    test: {
      name: "workerd",
      include: ["test/**/*.test.ts"],
      exclude: [...configDefaults.exclude, "test/browser/**"],
      setupFiles: ["./test/setup/apply-migrations.ts"],
      globalSetup: [
        "./test/setup/receiver.ts",
        "./test/setup/guide-verifiers.ts",
        "./test/setup/receiver-script.ts",
        "./test/setup/openapi-lint.ts",
        "./test/setup/dev-script.ts",
      ],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
  // The portal in a real Chromium (Debian's, driven by playwright-core) against `wrangler dev`:
  // plain Node, outside workerd (test/browser/portal-harness.ts starts the server and the receiver).
  const browser = {
    test: {
      name: "browser",
      environment: "node",
      include: ["test/browser/**/*.test.ts"],
      testTimeout: 120_000,
      hookTimeout: 180_000,
    },
  };
  return {
    test: {
      projects: [workerd, browser],
      // The Worker's structured log (a JSON line per request, per batch and per operational event;
      // README "Logs") would bury the test output: dropped here (tests that check a line read it
      // through a spy). Vitest reads onConsoleLog from the root config only, not from a project's.
      onConsoleLog: (log: string) => !/^\{"(type|message)":/.test(log),
    },
  };
});
