import type { Config } from "../config";
import { defaultRetrySchedule, LIMITS } from "../env";
import { BoundedMap } from "../lib/bounded-map";
import { decryptSecret } from "../lib/crypto";
import { checkWebhookUrl, type UrlVerdict } from "../lib/url-policy";
import { type AttemptResult, attemptDelivery } from "./attempt";
import type { BodyParts } from "./payload";
import type { AttemptOutcome, DeliveryIdentity } from "./record";
import { deliveryVerdict } from "./retry-policy";
import { importSigningKey, type SigningKeys } from "./signing";

/**
 * The one delivery step, shared by the queue consumer and the test endpoint (POST
 * /webhooks/{id}/test): check the URL, build the body, open the signing keys, make one signed
 * attempt, and judge it by the retry schedule. Never throws: every way it can end is an
 * outcome to record (with outcomeRecorder, src/delivery/record.ts).
 */

/** A delivery about to be attempted, with what its webhook row says about it. */
export interface DeliveryToAttempt extends DeliveryIdentity {
  url: string;
  secretEncrypted: string;
  previousSecretEncrypted: string | null;
  previousSecretExpiresAt: number | null;
  /** attempts and cycle_start on the row: the attempt's number within its cycle follows from them. */
  attempts: number;
  cycleStart: number;
  /** The waits between attempts; null for the deployment's default schedule, [] for a single attempt. */
  retrySchedule: readonly number[] | null;
  /** Built only once the URL passed (a consumer batch shares an event's head among its webhooks). */
  body: () => BodyParts;
}

/** What every attempt of an invocation shares. */
export interface StepContext {
  config: Config;
  timeoutMs: number;
  defaultSchedule: number[];
  /** An attempt at least this long marks its endpoint slow (src/delivery/lanes.ts). */
  slowMs: number;
}

export function stepContext(config: Config): StepContext {
  const policy = config.delivery;
  return { config, timeoutMs: policy.timeoutMs, defaultSchedule: defaultRetrySchedule(policy), slowMs: config.slowAttemptMs };
}

/**
 * Signing keys by sealed secret, kept for the isolate's life: a webhook's key is decrypted
 * and imported once, not once per batch. A sealed value always opens to the same secret, so
 * the cache cannot go stale: a rotation seals the new secret anew (fresh IV) and moves the old
 * sealed value as is to previous_secret_encrypted (still a hit), and a re-seal under a new
 * encryption key is a new value. Bounded: the oldest entry goes first.
 */
const signingKeyCache = new BoundedMap<string, Promise<CryptoKey>>(10_000);

function signingKey(sealed: string, keys: Config["secrets"]): Promise<CryptoKey> {
  let key = signingKeyCache.get(sealed);
  if (!key) {
    key = decryptSecret(sealed, keys).then(importSigningKey);
    key.catch(() => signingKeyCache.delete(sealed));
    signingKeyCache.set(sealed, key);
  }
  return key;
}

/** A webhook's signing keys at `now`: the previous secret signs too while its rotation overlap lasts (see signedRequest). */
export async function signingKeysAt(
  secrets: Pick<DeliveryToAttempt, "secretEncrypted" | "previousSecretEncrypted" | "previousSecretExpiresAt">,
  keys: Config["secrets"],
  now: number,
): Promise<SigningKeys> {
  const previous = secrets.previousSecretEncrypted && (secrets.previousSecretExpiresAt ?? 0) > now ? secrets.previousSecretEncrypted : null;
  const [current, previousKey] = await Promise.all([signingKey(secrets.secretEncrypted, keys), previous ? signingKey(previous, keys) : null]);
  return { current, previous: previousKey };
}

/**
 * URL verdicts for the isolate's life, by policy and URL: the check is a pure function of the
 * two (no DNS), and each attempt made it anew, parsing the URL each time. Bounded: the oldest
 * entry goes first.
 */
const urlVerdictCache = new BoundedMap<string, UrlVerdict>(10_000);

function urlVerdict(url: string, production: boolean): UrlVerdict {
  const key = `${production ? "p" : "d"} ${url}`;
  let verdict = urlVerdictCache.get(key);
  if (!verdict) {
    verdict = checkWebhookUrl(url, { production, maxLength: LIMITS.maxUrlLength });
    urlVerdictCache.set(key, verdict);
  }
  return verdict;
}

/** An attempt that could not be made (URL, body, secret): it never will be, so the delivery fails alone. */
const notAttempted = (error: string): AttemptResult => ({
  statusCode: null,
  error,
  responseTimeMs: 0,
  responseExcerpt: null,
  attemptedAt: Date.now(),
  class: "permanent",
  retryAfterSeconds: null,
});

const message = (error: unknown) => (error as Error)?.message ?? String(error);

/** Everything that can refuse a delivery before its request, as a failed result (never a throw). */
async function prepare(
  delivery: DeliveryToAttempt,
  config: Config,
): Promise<{ refused: AttemptResult } | { refused?: undefined; body: BodyParts; keys: SigningKeys }> {
  const verdict = urlVerdict(delivery.url, config.production);
  if (!verdict.ok) return { refused: notAttempted(`Webhook URL refused: ${verdict.reason}`) };
  let body: BodyParts;
  try {
    body = delivery.body();
  } catch (error) {
    return { refused: notAttempted(`Payload cannot be serialised: ${message(error)}`) };
  }
  try {
    return { body, keys: await signingKeysAt(delivery, config.secrets, Date.now()) };
  } catch {
    return { refused: notAttempted("Signing secret cannot be decrypted (check SECRET_ENCRYPTION_KEY and SECRET_ENCRYPTION_KEY_PREVIOUS)") };
  }
}

/** One attempt of one delivery, start to verdict. */
export async function deliverOnce(delivery: DeliveryToAttempt, ctx: StepContext): Promise<AttemptOutcome> {
  const prepared = await prepare(delivery, ctx.config);
  const result =
    prepared.refused ??
    (await attemptDelivery(
      { webhookId: delivery.webhookId, deliveryId: delivery.deliveryId, url: delivery.url, signingKeys: prepared.keys },
      prepared.body,
      ctx.timeoutMs,
    ));
  return {
    deliveryId: delivery.deliveryId,
    webhookId: delivery.webhookId,
    event: delivery.event,
    attemptsBefore: delivery.attempts,
    result,
    verdict: deliveryVerdict(delivery.retrySchedule ?? ctx.defaultSchedule, result, delivery.attempts - delivery.cycleStart + 1),
    slow: result.responseTimeMs >= ctx.slowMs,
  };
}
