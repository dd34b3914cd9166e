import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../app-env";
import type { Env } from "../env";
import { DomainError } from "../lib/errors";

/**
 * The API's rate limits, on the Workers Rate Limiting bindings declared in wrangler.toml
 * ([[ratelimits]]). The binding answers only yes or no, so each limit and period is repeated
 * here for the 429's message and its Retry-After (the period: the windows are fixed, so the
 * caller's own window ends within it). Keep both places in step.
 *
 * Counters are per Cloudflare location and approximate, as the binding is. Keys are key ids or
 * client addresses, never a raw API key. A deployment without a binding has no such limit.
 */
export const RATE_LIMITS = {
  /** Every tenant API request, per API key. */
  apiKey: { binding: "API_RATE_LIMITER", limit: 600, periodSeconds: 60, what: "requests for this API key" },
  /** POST /api/v1/webhooks/{id}/test, per API key: each call makes a request to the tenant's endpoint at once. */
  testEndpoint: { binding: "TEST_ENDPOINT_RATE_LIMITER", limit: 10, periodSeconds: 10, what: "test deliveries for this API key" },
  /** Refused credentials (API key or admin token), per client; requests that succeed are not counted. */
  authFailures: { binding: "AUTH_FAILURE_RATE_LIMITER", limit: 20, periodSeconds: 60, what: "failed authentications from this client" },
} as const satisfies Record<string, { binding: keyof Env; limit: number; periodSeconds: number; what: string }>;

type RateLimitRule = (typeof RATE_LIMITS)[keyof typeof RATE_LIMITS];

/** The client a failed authentication is counted against: Cloudflare's CF-Connecting-IP, or one local client without it. */
export const LOCAL_CLIENT = "local";
const clientOf = (c: Context<AppEnv>) => c.req.header("CF-Connecting-IP") ?? LOCAL_CLIENT;

export const rateLimited = (rule: RateLimitRule) =>
  new DomainError("rate_limited", `Too many ${rule.what}: at most ${rule.limit} per ${rule.periodSeconds} s; retry after ${rule.periodSeconds} s`, {
    retryAfterSeconds: rule.periodSeconds,
  });

/** Counts one request under `key`; false once the key is over the rule's limit in the current window. */
export async function allowed(env: Env, rule: RateLimitRule, key: string): Promise<boolean> {
  const limiter = env[rule.binding];
  return limiter ? (await limiter.limit({ key })).success : true;
}

/** Tenant API requests per API key (the id tenantAuth sets); admin and health routes carry none and pass. */
export const apiKeyRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const keyId = c.var.apiKeyId;
  if (keyId && !(await allowed(c.env, RATE_LIMITS.apiKey, keyId))) throw rateLimited(RATE_LIMITS.apiKey);
  await next();
});

/** POST /api/v1/webhooks/{id}/test per API key, on top of apiKeyRateLimit. */
export const testEndpointRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const keyId = c.var.apiKeyId;
  if (c.req.method === "POST" && keyId && !(await allowed(c.env, RATE_LIMITS.testEndpoint, keyId))) throw rateLimited(RATE_LIMITS.testEndpoint);
  await next();
});

/**
 * The error for refused credentials: counts the failure against the client and answers 401
 * with `message`, or 429 once the client is over RATE_LIMITS.authFailures in the window. Only
 * failures count, so a valid key keeps working from a client that also sends bad ones (keys
 * are 256-bit random: the limit bounds the load of bad credentials, not the odds of a guess).
 */
export async function authenticationFailed(c: Context<AppEnv>, message: string): Promise<DomainError> {
  if (!(await allowed(c.env, RATE_LIMITS.authFailures, clientOf(c)))) return rateLimited(RATE_LIMITS.authFailures);
  return new DomainError("unauthorized", message);
}
