import { z } from "zod";
import { type DeliveryPolicy, type Env, GUIDE_DELIVERY_POLICY } from "./env";

/**
 * The Worker's vars and secrets, parsed once per invocation at the entry (src/index.ts for the
 * queue and the cron, the app's first middleware for requests) into the typed Config every
 * part receives. A var that is set must be valid: a typo is reported by name (503
 * `misconfigured`, a retried batch, a skipped cron run), never replaced by its default.
 * The defaults live here, in one place.
 */

/** A var holding a number > 0, unset meaning `fallback`; `integer` refuses fractions. */
const positive = (fallback: number, integer = false) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const value = raw.trim() === "" ? Number.NaN : Number(raw);
      if (Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value))) return value;
      ctx.addIssue({ code: "custom", message: `must be ${integer ? "a whole number" : "a number"} greater than 0, got ${JSON.stringify(raw)}` });
      return z.NEVER;
    });

/** base64 of 32 bytes (an AES-256 key); the value itself never appears in a message. */
const encryptionKey = z
  .string()
  .optional()
  .refine((raw) => raw === undefined || base64Bytes(raw) === 32, { message: "must be base64 of 32 bytes (e.g. `openssl rand -base64 32`)" });

function base64Bytes(raw: string): number {
  try {
    return atob(raw).length;
  } catch {
    return -1;
  }
}

export const configSchema = z.object({
  /** "production" refuses http:// and private hosts; unset means production. */
  ENVIRONMENT: z.enum(["production", "development"]).default("production"),
  DELIVERY_MAX_ATTEMPTS: positive(GUIDE_DELIVERY_POLICY.maxAttempts, true),
  DELIVERY_BACKOFF_BASE_SECONDS: positive(GUIDE_DELIVERY_POLICY.backoffBaseSeconds),
  DELIVERY_TIMEOUT_MS: positive(GUIDE_DELIVERY_POLICY.timeoutMs),
  CONSUMER_ATTEMPT_BUDGET_SECONDS: positive(10),
  SLOW_ATTEMPT_MS: positive(500),
  AUTO_DISABLE_AFTER_FAILURES: positive(50, true),
  AUTO_DISABLE_MIN_SECONDS: positive(432_000),
  SWEEP_GRACE_SECONDS: positive(120),
  RETENTION_SECONDS: positive(2_592_000),
  MAX_WEBHOOKS_PER_TENANT: positive(100, true),
  MAX_FANOUT_PER_EVENT: positive(1000, true),
  SECRET_ENCRYPTION_KEY: encryptionKey,
  SECRET_ENCRYPTION_KEY_PREVIOUS: encryptionKey,
});

/** What the code reads: the vars turned into the units it works in. */
export interface Config {
  production: boolean;
  delivery: DeliveryPolicy;
  /** How long one consumer batch keeps starting attempts (CONSUMER_ATTEMPT_BUDGET_SECONDS). */
  consumerAttemptBudgetMs: number;
  /** The line between the fast and the slow lane (SLOW_ATTEMPT_MS). */
  slowAttemptMs: number;
  /** Endpoint health: when a failing webhook is disabled (Svix's rule: 5 days of failures). */
  autoDisable: { afterFailures: number; minMs: number };
  /** A pending delivery this long past due is assumed lost and re-enqueued by the sweep. */
  sweepGraceMs: number;
  /** Finished deliveries and events older than this are deleted by the cron. */
  retentionMs: number;
  /** Per-tenant quotas (403 quota_exceeded). */
  maxWebhooksPerTenant: number;
  maxFanoutPerEvent: number;
  /**
   * The keys that seal webhook secrets (src/lib/crypto.ts), in the shape it takes. Optional
   * here: the queries API runs without them; creating webhooks, rotating secrets, the test
   * endpoint and delivering call requireSecretKeys.
   */
  secrets: { SECRET_ENCRYPTION_KEY?: string; SECRET_ENCRYPTION_KEY_PREVIOUS?: string };
}

/** A deployment whose vars are wrong or missing; `variables` names them, `message` says how. */
export class MisconfiguredError extends Error {
  constructor(
    readonly variables: string[],
    message: string,
  ) {
    super(message);
    this.name = "MisconfiguredError";
  }
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; error: MisconfiguredError };

/**
 * Results by env object: workerd hands every request and batch of an isolate the same env, so
 * the vars are parsed once per isolate, not on each request (a test's own env object is parsed once too).
 */
const parsedByEnv = new WeakMap<object, ConfigResult>();

/** Parses the vars of `env` (once per env object); never throws. */
export function parseConfig(env: Partial<Env>): ConfigResult {
  let result = parsedByEnv.get(env);
  if (!result) {
    result = parseVars(env);
    parsedByEnv.set(env, result);
  }
  return result;
}

function parseVars(env: Partial<Env>): ConfigResult {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message }));
    const message = problems.map((p) => `${p.variable} ${p.message}`).join("; ");
    return { ok: false, error: new MisconfiguredError([...new Set(problems.map((p) => p.variable))], `Deployment misconfigured: ${message}`) };
  }
  const v = parsed.data;
  return {
    ok: true,
    config: {
      production: v.ENVIRONMENT === "production",
      delivery: { maxAttempts: v.DELIVERY_MAX_ATTEMPTS, backoffBaseSeconds: v.DELIVERY_BACKOFF_BASE_SECONDS, timeoutMs: v.DELIVERY_TIMEOUT_MS },
      consumerAttemptBudgetMs: v.CONSUMER_ATTEMPT_BUDGET_SECONDS * 1000,
      slowAttemptMs: v.SLOW_ATTEMPT_MS,
      autoDisable: { afterFailures: v.AUTO_DISABLE_AFTER_FAILURES, minMs: v.AUTO_DISABLE_MIN_SECONDS * 1000 },
      sweepGraceMs: v.SWEEP_GRACE_SECONDS * 1000,
      retentionMs: v.RETENTION_SECONDS * 1000,
      maxWebhooksPerTenant: v.MAX_WEBHOOKS_PER_TENANT,
      maxFanoutPerEvent: v.MAX_FANOUT_PER_EVENT,
      secrets: { SECRET_ENCRYPTION_KEY: v.SECRET_ENCRYPTION_KEY, SECRET_ENCRYPTION_KEY_PREVIOUS: v.SECRET_ENCRYPTION_KEY_PREVIOUS },
    },
  };
}

/** Parses the vars of `env` or throws MisconfiguredError naming what is wrong. */
export function loadConfig(env: Partial<Env>): Config {
  const result = parseConfig(env);
  if (!result.ok) throw result.error;
  return result.config;
}

/** The sealing keys, for the parts that cannot work without SECRET_ENCRYPTION_KEY. */
export function requireSecretKeys(config: Config): Required<Pick<Config["secrets"], "SECRET_ENCRYPTION_KEY">> & Config["secrets"] {
  const { SECRET_ENCRYPTION_KEY } = config.secrets;
  if (!SECRET_ENCRYPTION_KEY)
    throw new MisconfiguredError(
      ["SECRET_ENCRYPTION_KEY"],
      "Deployment misconfigured: SECRET_ENCRYPTION_KEY is not set (webhook secrets cannot be sealed or opened)",
    );
  return { ...config.secrets, SECRET_ENCRYPTION_KEY };
}

const reported = new Set<string>();

/** Logs a misconfiguration once per isolate and entry (every request would otherwise repeat it). */
export function reportMisconfiguration(where: "fetch" | "queue" | "scheduled", error: MisconfiguredError): void {
  const seen = `${where}: ${error.message}`;
  if (reported.has(seen)) return;
  reported.add(seen);
  console.error(JSON.stringify({ type: "misconfigured", where, variables: error.variables, message: error.message }));
}
