import { createApp } from "./app";
import { foldCounterDeltas } from "./db/counters";
import { consumeDeliveries } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/job";
import { sweepLostDeliveries } from "./delivery/sweep";
import { deleteExpired } from "./retention/retention";
import { resealSecrets } from "./services/secret-reseal";
import type { Env } from "./env";
import { withUsage } from "./lib/usage";

const app = createApp();

export default {
  fetch: (request, env, ctx) => withUsage("fetch", env, (metered) => Promise.resolve(app.fetch(request, metered, ctx))),
  queue: (batch, env, ctx) => withUsage("queue", env, (metered, usage, tracked) => consumeDeliveries(batch, metered, tracked ?? ctx, usage), ctx),
  // Every minute: re-enqueue lost jobs, fold the webhook counter deltas into the webhooks and the
  // hourly statistics, re-seal a chunk of webhook secrets not yet under SECRET_ENCRYPTION_KEY, and
  // delete a few chunks of deliveries and events past RETENTION_SECONDS.
  scheduled: (_controller, env) =>
    withUsage(
      "scheduled",
      env,
      async (metered) => void (await Promise.all([sweepLostDeliveries(metered), foldCounterDeltas(metered.DB), resealSecrets(metered), deleteExpired(metered)])),
    ),
} satisfies ExportedHandler<Env, DeliveryJob>;
