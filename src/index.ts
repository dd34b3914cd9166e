import { createApp } from "./app";
import { consumeDeliveries } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/job";
import { sweepLostDeliveries } from "./delivery/sweep";
import type { Env } from "./env";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => consumeDeliveries(batch, env),
  scheduled: async (_controller, env) => {
    await sweepLostDeliveries(env);
  },
} satisfies ExportedHandler<Env, DeliveryJob>;
