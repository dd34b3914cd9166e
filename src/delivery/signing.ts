import { toBase64 } from "../lib/crypto";
import { formatTime } from "../lib/time";

const encoder = new TextEncoder();

/** An HMAC-SHA256 key from the UTF-8 bytes of a webhook's secret_key (Web Crypto). */
export function importSigningKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function hmac(key: CryptoKey, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

/** The guide's `X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the body. */
export async function signGuideHex(key: CryptoKey, body: string): Promise<string> {
  return Array.from(await hmac(key, body), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Standard Webhooks `webhook-signature`: `v1,` + base64(HMAC-SHA256(`${msgId}.${timestamp}.${body}`)),
 * what `new Webhook(secret, { format: "raw" })` of the standardwebhooks package verifies.
 */
export async function signStandardWebhooks(key: CryptoKey, msgId: string, timestampSeconds: number, body: string): Promise<string> {
  return `v1,${toBase64(await hmac(key, `${msgId}.${timestampSeconds}.${body}`))}`;
}

/**
 * A webhook's signing keys: its secret_key's, and during a rotation's overlap the previous
 * secret's (null otherwise).
 */
export interface SigningKeys {
  current: CryptoKey;
  previous: CryptoKey | null;
}

/**
 * Every header of one signed attempt: the guide's three and the Standard Webhooks three.
 * During a rotation's overlap `webhook-signature` carries one `v1,` signature per secret, the
 * new one first, space-separated as the standard allows (a verifier holding either accepts);
 * the guide's single `X-Webhook-Signature` stays on the previous secret until the overlap
 * ends, so a receiver following the guide switches its secret at the end of the window.
 */
export async function deliveryHeaders(
  keys: SigningKeys,
  body: string,
  ids: { webhookId: string; deliveryId: string },
  attemptedAt: Date,
): Promise<Record<string, string>> {
  const unixSeconds = Math.floor(attemptedAt.getTime() / 1000);
  const standardKeys = keys.previous ? [keys.current, keys.previous] : [keys.current];
  const [guideSignature, ...standardSignatures] = await Promise.all([
    signGuideHex(keys.previous ?? keys.current, body),
    ...standardKeys.map((key) => signStandardWebhooks(key, ids.deliveryId, unixSeconds, body)),
  ]);
  return {
    "Content-Type": "application/json",
    "User-Agent": "hr-intel-webhooks/1.0",
    "X-Webhook-Signature": guideSignature,
    "X-Webhook-Timestamp": formatTime(attemptedAt.getTime()),
    "X-Webhook-ID": ids.webhookId,
    "webhook-id": ids.deliveryId,
    "webhook-timestamp": String(unixSeconds),
    "webhook-signature": standardSignatures.join(" "),
  };
}
