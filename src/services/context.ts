import type { Config } from "../config";
import { type Database, database } from "../db/client";
import type { Env } from "../env";

/**
 * What a tenant's service call runs with, built once per request (tenantAuth, portalSession)
 * and read as c.var.ctx: the drizzle client, the raw D1 binding for the statements drizzle's
 * batch cannot hold (db/batch.ts), the bindings (queues), the parsed config and the tenant.
 */
export interface ServiceContext {
  db: Database;
  d1: D1Database;
  env: Env;
  config: Config;
  tenantId: string;
}

export const serviceContext = (env: Env, config: Config, tenantId: string, db: Database = database(env.DB)): ServiceContext => ({
  db,
  d1: env.DB,
  env,
  config,
  tenantId,
});
