import type { DeliveryJob } from "./delivery/job";

/** Bindings declared in wrangler.toml (vars, secrets, D1, queue). */
export interface Env {
  DB: D1Database;
  /** The fast lane; SLOW_DELIVERY_QUEUE the slow one (src/delivery/lanes.ts). */
  DELIVERY_QUEUE: Queue<DeliveryJob>;
  SLOW_DELIVERY_QUEUE: Queue<DeliveryJob>;
  ENVIRONMENT?: string;
  ADMIN_TOKEN?: string;
  SECRET_ENCRYPTION_KEY?: string;
  /** During a key change only: the key SECRET_ENCRYPTION_KEY replaces; still opens what it sealed (src/lib/crypto.ts). */
  SECRET_ENCRYPTION_KEY_PREVIOUS?: string;
  DELIVERY_MAX_ATTEMPTS?: string;
  DELIVERY_BACKOFF_BASE_SECONDS?: string;
  DELIVERY_TIMEOUT_MS?: string;
  /** Seconds after which a consumer batch starts no new attempt (default 10); the rest are handed to a new job. */
  CONSUMER_ATTEMPT_BUDGET_SECONDS?: string;
  /** An attempt still running after this many ms is detached from its batch and its endpoint goes to the slow lane (default 1000). */
  SLOW_ATTEMPT_MS?: string;
  /** Failed deliveries in a row, spanning AUTO_DISABLE_MIN_SECONDS, after which a webhook is disabled (defaults 50 and 432000). */
  AUTO_DISABLE_AFTER_FAILURES?: string;
  AUTO_DISABLE_MIN_SECONDS?: string;
  /** Seconds past due after which the sweep treats a pending delivery's job as lost (default 120). */
  SWEEP_GRACE_SECONDS?: string;
  /** Set by `npm run dev` (scripts/dev.mjs) for its run: /api/v1/health echoes it as X-Dev-Run. */
  DEV_RUN_ID?: string;
  /** Seconds after which finished deliveries and their events are deleted (default 2592000: 30 days; src/retention/retention.ts). */
  RETENTION_SECONDS?: string;
  /** "1": log each invocation's D1, queue and subrequest usage (src/lib/usage.ts). */
  LOG_USAGE?: string;
  /** Live (not soft-deleted) webhooks a tenant may have (default 100). */
  MAX_WEBHOOKS_PER_TENANT?: string;
  /** Subscribed active webhooks one published event may go to (default 1000); a publish over it is refused. */
  MAX_FANOUT_PER_EVENT?: string;
  /**
   * Workers Rate Limiting bindings ([[ratelimits]] in wrangler.toml; src/middleware/rate-limit.ts):
   * requests per API key, test-endpoint calls per API key, failed authentications per client.
   * A deployment without one has no such limit.
   */
  API_RATE_LIMITER?: RateLimit;
  TEST_ENDPOINT_RATE_LIMITER?: RateLimit;
  AUTH_FAILURE_RATE_LIMITER?: RateLimit;
}

/** The delivery policy: the guide's values are the defaults, vars may override them. */
export interface DeliveryPolicy {
  maxAttempts: number;
  backoffBaseSeconds: number;
  timeoutMs: number;
}

export const GUIDE_DELIVERY_POLICY: DeliveryPolicy = {
  maxAttempts: 3,
  backoffBaseSeconds: 1,
  timeoutMs: 10_000,
};

/** Limits that are ours, not the guide's. */
export const LIMITS = {
  maxRequestBodyBytes: 256 * 1024,
  maxUrlLength: 2048,
  responseExcerptChars: 1024,
  /** Bytes of a response body read for its excerpt, at most: 4 per character, UTF-8's longest. */
  responseReadBytes: 1024 * 4,
  /**
   * Deepest event `data` accepted (the data object is level 1). canonicalJson, and the receivers'
   * verifiers that re-serialise the body (Python's json stops near 1,000 levels), recurse per level.
   */
  maxDataDepth: 32,
  /**
   * Deepest JSON request body read at all (the reader recurses per level); deeper data is
   * refused by maxDataDepth with its field named, this only guards the parser.
   */
  maxBodyDepth: 64,
  /** An Idempotency-Key names its event this long (24 h); then it may name a new one. */
  idempotencyKeyTtlMs: 24 * 60 * 60 * 1000,
};

/**
 * How long one consumer batch keeps starting attempts. A batch that stops early hands its
 * unstarted deliveries to a new job, so retries and other tenants' jobs waiting behind it on
 * the queue get their turn.
 */
export const consumerAttemptBudgetMs = (env: Env) => positiveNumber(env.CONSUMER_ATTEMPT_BUDGET_SECONDS, 10) * 1000;

/** See SLOW_ATTEMPT_MS: the line between the fast and the slow lane. */
export const slowAttemptMs = (env: Env) => positiveNumber(env.SLOW_ATTEMPT_MS, 500);

/** Endpoint health: when a failing webhook is disabled (Svix's rule: 5 days of failures). */
export const autoDisablePolicy = (env: Env) => ({
  afterFailures: Math.floor(positiveNumber(env.AUTO_DISABLE_AFTER_FAILURES, 50)),
  minMs: positiveNumber(env.AUTO_DISABLE_MIN_SECONDS, 432_000) * 1000,
});

/** A pending delivery this long past due is assumed lost and re-enqueued by the sweep. */
export const sweepGraceMs = (env: Env) => positiveNumber(env.SWEEP_GRACE_SECONDS, 120) * 1000;

/** Finished deliveries and events older than this are deleted by the cron (src/retention/retention.ts). */
export const retentionMs = (env: Env) => positiveNumber(env.RETENTION_SECONDS, 2_592_000) * 1000;

/** Per-tenant quotas (403 quota_exceeded): live webhooks per tenant, subscribed webhooks per published event. */
export const maxWebhooksPerTenant = (env: Env) => Math.floor(positiveNumber(env.MAX_WEBHOOKS_PER_TENANT, 100));
export const maxFanoutPerEvent = (env: Env) => Math.floor(positiveNumber(env.MAX_FANOUT_PER_EVENT, 1000));

function positiveNumber(raw: string | undefined, fallback: number): number {
  const value = Number(raw);
  return raw !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The waits between attempts of a webhook without its own retry_schedule_seconds: with the
 * guide's policy [1, 2] (3 attempts, 1 s then 2 s), in general base·2^(n−1) for each retry.
 */
export function defaultRetrySchedule(policy: DeliveryPolicy): number[] {
  return Array.from({ length: policy.maxAttempts - 1 }, (_, n) => policy.backoffBaseSeconds * 2 ** n);
}

export function deliveryPolicy(env: Env): DeliveryPolicy {
  return {
    maxAttempts: Math.floor(positiveNumber(env.DELIVERY_MAX_ATTEMPTS, GUIDE_DELIVERY_POLICY.maxAttempts)),
    backoffBaseSeconds: positiveNumber(env.DELIVERY_BACKOFF_BASE_SECONDS, GUIDE_DELIVERY_POLICY.backoffBaseSeconds),
    timeoutMs: positiveNumber(env.DELIVERY_TIMEOUT_MS, GUIDE_DELIVERY_POLICY.timeoutMs),
  };
}

export function isProduction(env: Env): boolean {
  return (env.ENVIRONMENT ?? "production") !== "development";
}
