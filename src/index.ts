import { createApp } from "./app";
import type { Env } from "./env";
import type { DeliveryJob } from "./delivery/job";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env, DeliveryJob>;
