import type { AppRouteHandler } from "../../app-env";
import type * as routes from "./health.routes";

export const health: AppRouteHandler<typeof routes.health> = (c) => {
  if (c.env.DEV_RUN_ID) c.header("X-Dev-Run", c.env.DEV_RUN_ID);
  return c.json({ status: "ok" as const, environment: c.var.config.production ? ("production" as const) : ("development" as const) }, 200);
};
