import { toBase64 } from "../lib/crypto";
import { formatTime } from "../lib/time";
import type { BodyParts } from "./payload";

const encoder = new TextEncoder();

/** An HMAC-SHA256 key from the UTF-8 bytes of a webhook's secret_key (Web Crypto). */
export function importSigningKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function hmac(key: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
}

/** Lowercase hex of each byte value, so a signature's hex is 32 lookups, not 32 number formats. */
const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function hex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX_BYTES[bytes[i]];
  return out;
}

/**
 * What one attempt signs and sends, in one buffer: the Standard Webhooks content
 * `${msgId}.${timestamp}.${body}`, whose tail is the body (POSTed as is, and what the guide's
 * signature covers). The body is encoded once, straight into it: with a 200 KB event sent to
 * many endpoints, every extra copy per attempt shows in the isolate's memory.
 */
export function signedContent(body: string | BodyParts, msgId: string, timestampSeconds: number): { content: Uint8Array; body: Uint8Array } {
  const prefixText = `${msgId}.${timestampSeconds}.`;
  if (typeof body !== "string") {
    // Delivery ids are ASCII, one byte a character: the prefix is encoded straight into the buffer.
    let content = takeBuffer(prefixText.length + body.head.length + body.tail.length);
    let prefixLength = prefixText.length;
    const { read, written } = encoder.encodeInto(prefixText, content);
    if (read !== prefixText.length || written !== prefixText.length) {
      releaseBuffer(content);
      const prefix = encoder.encode(prefixText);
      content = takeBuffer(prefix.length + body.head.length + body.tail.length);
      content.set(prefix);
      prefixLength = prefix.length;
    }
    content.set(body.head, prefixLength);
    content.set(body.tail, prefixLength + body.head.length);
    return { content, body: content.subarray(prefixLength) };
  }
  const prefix = encoder.encode(prefixText);
  // Canonical bodies are ASCII (non-ASCII is escaped), one byte a character; anything else is encoded on its own.
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix);
  const { read } = encoder.encodeInto(body, content.subarray(prefix.length));
  if (read === body.length) return { content, body: content.subarray(prefix.length) };
  const bytes = encoder.encode(body);
  const joined = new Uint8Array(prefix.length + bytes.length);
  joined.set(prefix);
  joined.set(bytes, prefix.length);
  return { content: joined, body: joined.subarray(prefix.length) };
}

/**
 * Attempt buffers, reused once their request is over (releaseBuffer), by capacity (powers of two
 * from 4 KiB). Fresh 200 KB buffers for every attempt of a big fan-out are external memory to
 * V8, which lets it pile up to its 64 MB soft limit before it collects; reused ones stay at
 * about one per attempt in flight. At most 12 are kept per capacity.
 */
const freeBuffers = new Map<number, Uint8Array[]>();
const FREE_BUFFERS_PER_CAPACITY = 12;

function takeBuffer(size: number): Uint8Array {
  const capacity = 2 ** Math.ceil(Math.log2(Math.max(size, 4096)));
  return (freeBuffers.get(capacity)?.pop() ?? new Uint8Array(capacity)).subarray(0, size);
}

/**
 * Returns a signed request's buffer for reuse. Only once the request is over (answered and its
 * answer read, or failed): fetch reads the body from this very buffer while it sends.
 */
export function releaseBuffer(view: Uint8Array) {
  const buffer = new Uint8Array(view.buffer);
  const free = freeBuffers.get(buffer.length) ?? [];
  if (free.length < FREE_BUFFERS_PER_CAPACITY && buffer.length >= 4096 && (buffer.length & (buffer.length - 1)) === 0) free.push(buffer);
  freeBuffers.set(buffer.length, free);
}

/** The guide's `X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the body. */
export async function signGuideHex(key: CryptoKey, body: string | Uint8Array): Promise<string> {
  return hex(await hmac(key, typeof body === "string" ? encoder.encode(body) : body));
}

/**
 * Standard Webhooks `webhook-signature`: `v1,` + base64(HMAC-SHA256(`${msgId}.${timestamp}.${body}`)),
 * what `new Webhook(secret, { format: "raw" })` of the standardwebhooks package verifies.
 */
export async function signStandardWebhooks(key: CryptoKey, msgId: string, timestampSeconds: number, body: string): Promise<string> {
  return signContent(key, signedContent(body, msgId, timestampSeconds).content);
}

const signContent = async (key: CryptoKey, content: Uint8Array) => `v1,${toBase64(await hmac(key, content))}`;

/**
 * A webhook's signing keys: its secret_key's, and during a rotation's overlap the previous
 * secret's (null otherwise).
 */
export interface SigningKeys {
  current: CryptoKey;
  previous: CryptoKey | null;
}

/** The guide's timestamp of the second, formatted once per second rather than once per attempt. */
let lastTimestamp = { seconds: Number.NaN, text: "" };
function guideTimestamp(unixSeconds: number): string {
  if (lastTimestamp.seconds !== unixSeconds) lastTimestamp = { seconds: unixSeconds, text: formatTime(unixSeconds * 1000) };
  return lastTimestamp.text;
}

/**
 * One signed attempt's body bytes and every header: the guide's three and the Standard Webhooks three.
 * During a rotation's overlap `webhook-signature` carries one `v1,` signature per secret, the
 * new one first, space-separated as the standard allows (a verifier holding either accepts);
 * the guide's single `X-Webhook-Signature` stays on the previous secret until the overlap
 * ends, so a receiver following the guide switches its secret at the end of the window.
 */
export async function signedRequest(
  keys: SigningKeys,
  body: string | BodyParts,
  ids: { webhookId: string; deliveryId: string },
  attemptedAt: Date,
): Promise<{ headers: Record<string, string>; body: Uint8Array }> {
  const unixSeconds = Math.floor(attemptedAt.getTime() / 1000);
  const signed = signedContent(body, ids.deliveryId, unixSeconds);
  const standardKeys = keys.previous ? [keys.current, keys.previous] : [keys.current];
  const [guideSignature, ...standardSignatures] = await Promise.all([
    signGuideHex(keys.previous ?? keys.current, signed.body),
    ...standardKeys.map((key) => signContent(key, signed.content)),
  ]);
  const headers = {
    "Content-Type": "application/json",
    "User-Agent": "hr-intel-webhooks/1.0",
    "X-Webhook-Signature": guideSignature,
    "X-Webhook-Timestamp": guideTimestamp(unixSeconds),
    "X-Webhook-ID": ids.webhookId,
    "webhook-id": ids.deliveryId,
    "webhook-timestamp": String(unixSeconds),
    "webhook-signature": standardSignatures.join(" "),
  };
  return { headers, body: signed.body };
}
