import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Config } from "./config";
import type { Database } from "./db/client";
import type { Env } from "./env";
import type { ServiceContext } from "./services/context";

/** Hono's environment for every route: the Worker bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    db: Database;
    /** The parsed vars (src/config.ts), set first on every /api/* request. */
    config: Config;
    /** Set by tenantAuth on every tenant route. */
    tenantId: string;
    /** Set with tenantId: what the tenant's services run with (src/services/context.ts). */
    ctx: ServiceContext;
    /** The id of the API key the request came with (tenant routes); rate limits count per key. */
    apiKeyId: string;
    /** The JSON request body read exactly (big integers as LosslessNumber): set by exactJsonBody when there is one. */
    jsonBody?: unknown;
  };
}

/** A handler typed by its route (x.handlers.ts): its request parts and the responses it may give. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
