import { createApp } from "./app";
import { consumeDeliveries } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/job";
import { sweepLostDeliveries } from "./delivery/sweep";
import type { Env } from "./env";
import { withUsage } from "./lib/usage";

const app = createApp();

export default {
  fetch: (request, env, ctx) => withUsage("fetch", env, (metered) => Promise.resolve(app.fetch(request, metered, ctx))),
  queue: (batch, env) => withUsage("queue", env, (metered, usage) => consumeDeliveries(batch, metered, usage)),
  scheduled: (_controller, env) => withUsage("scheduled", env, async (metered) => void (await sweepLostDeliveries(metered))),
} satisfies ExportedHandler<Env, DeliveryJob>;
