import { createApp } from "./app";
import { type Config, MisconfiguredError, parseConfig, reportMisconfiguration } from "./config";
import { foldCounterDeltasIfDue } from "./db/counters";
import { consumeDeliveries } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/job";
import { sweepLostDeliveries } from "./delivery/sweep";
import type { Env } from "./env";
import { withUsage } from "./lib/usage";
import { deleteExpired } from "./retention/retention";
import { resealSecrets } from "./services/secret-reseal";

const app = createApp();

/** A batch retried for a misconfiguration comes back after this long: an operator has to act first. */
const MISCONFIGURED_RETRY_SECONDS = 60;

/**
 * The queue consumer under a parsed config. A misconfigured deployment (a var that does not
 * parse, or no SECRET_ENCRYPTION_KEY to sign with) retries the whole batch instead of failing
 * its deliveries: nothing is attempted or written, and the jobs come back once it is fixed.
 */
async function queue(batch: MessageBatch<DeliveryJob>, env: Env, ctx: ExecutionContext): Promise<void> {
  const parsed = parseConfig(env);
  try {
    if (!parsed.ok) throw parsed.error;
    const config: Config = parsed.config;
    await withUsage("queue", env, (metered, usage, tracked) => consumeDeliveries(batch, metered, config, tracked ?? ctx, usage), ctx);
  } catch (error) {
    if (!(error instanceof MisconfiguredError)) throw error;
    reportMisconfiguration("queue", error);
    batch.retryAll({ delaySeconds: MISCONFIGURED_RETRY_SECONDS });
  }
}

export default {
  // The app parses the config itself, first thing (src/app.ts), so that tests can hand it bindings.
  fetch: (request, env, ctx) => withUsage("fetch", env, (metered) => Promise.resolve(app.fetch(request, metered, ctx))),
  queue,
  // Every minute: re-enqueue lost jobs, fold the webhook counter deltas into the webhooks and the
  // hourly statistics when due (about hourly, src/db/counters.ts), re-seal a chunk of webhook
  // secrets not yet under SECRET_ENCRYPTION_KEY, and delete a few chunks of deliveries and
  // events past RETENTION_SECONDS. A misconfigured deployment logs what is wrong and skips the
  // run: the next minute tries again.
  scheduled: async (controller, env) => {
    const parsed = parseConfig(env);
    if (!parsed.ok) return reportMisconfiguration("scheduled", parsed.error);
    const config = parsed.config;
    await withUsage(
      "scheduled",
      env,
      async (metered) =>
        void (await Promise.all([
          sweepLostDeliveries(metered, config),
          foldCounterDeltasIfDue(metered.DB, controller.scheduledTime),
          resealSecrets(metered, config),
          deleteExpired(metered, config),
        ])),
    );
  },
} satisfies ExportedHandler<Env, DeliveryJob>;
