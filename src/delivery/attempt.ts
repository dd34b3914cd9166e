import { LIMITS } from "../env";
import type { BodyParts } from "./payload";
import { type AttemptClass, classifyAttempt } from "./retry-policy";
import { releaseBuffer, type SigningKeys, signedRequest } from "./signing";

export interface AttemptTarget {
  webhookId: string;
  deliveryId: string;
  url: string;
  signingKeys: SigningKeys;
}

export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  responseTimeMs: number;
  responseExcerpt: string | null;
  /** A retryable (5xx) response's Retry-After, in seconds from the attempt (capped at 1 hour); otherwise null. */
  retryAfterSeconds: number | null;
  attemptedAt: number;
  class: AttemptClass;
}

/** Not fatal: malformed bytes become U+FFFD. Shared: it only ever decodes whole buffers, never a stream. */
const excerptDecoder = new TextDecoder();

/**
 * Reads the start of a response body for its excerpt, in bounded memory: at most `limitBytes`
 * of the bytes the body yields (decompressed already, when the response was gzip or brotli, so
 * Content-Length, the compressed size, says nothing about them), decoded as UTF-8 (malformed
 * bytes become U+FFFD), first `limitChars` characters kept, null when empty. The body is
 * cancelled when not read to its end, so the connection is released; a failed read gives null.
 */
export async function readExcerpt(
  response: Response,
  limitBytes: number = LIMITS.responseReadBytes,
  limitChars: number = LIMITS.responseExcerptChars,
): Promise<string | null> {
  if (fitsWhole(response, limitBytes)) return trimExcerpt(await response.text().catch(() => ""), limitChars);
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    if (!response.body) return null;
    reader = response.body.getReader();
  } catch {
    return null; // body already used
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let ended = false;
  try {
    while (bytes < limitBytes) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      const take = Math.min(value.byteLength, limitBytes - bytes);
      chunks.push(take < value.byteLength ? value.subarray(0, take) : value);
      bytes += take;
    }
  } catch {
    return null;
  } finally {
    if (!ended) await reader.cancel().catch(() => {});
  }
  const read = chunks.length === 1 ? chunks[0]! : joinChunks(chunks, bytes);
  // Decoded once, at the end: one decoder call per attempt, where most bodies are one chunk.
  return trimExcerpt(excerptDecoder.decode(ended ? read : withoutCutCharacter(read)), limitChars);
}

function joinChunks(chunks: Uint8Array[], bytes: number): Uint8Array {
  const joined = new Uint8Array(bytes);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.byteLength;
  }
  return joined;
}

/**
 * The bytes without a UTF-8 character cut at the read limit (its first bytes only): such a
 * character is dropped whole, not decoded as U+FFFD. Malformed bytes elsewhere are left as they are.
 */
function withoutCutCharacter(bytes: Uint8Array): Uint8Array {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

/**
 * A body that is not compressed and whose Content-Length is within the limit is read whole
 * (text(): the same UTF-8 decoding with U+FFFD, the same BOM handling), without a reader and
 * a decoder of its own: most endpoints answer a few bytes, and this is most attempts' path.
 */
function fitsWhole(response: Response, limitBytes: number): boolean {
  const length = response.headers.get("Content-Length");
  const encoding = response.headers.get("Content-Encoding");
  return length !== null && /^\d+$/.test(length) && Number(length) <= limitBytes && (encoding === null || encoding.trim().toLowerCase() === "identity");
}

/** The first `limitChars` characters, null when empty; never half a surrogate pair. */
function trimExcerpt(text: string, limitChars: number): string | null {
  if (text.length === 0) return null;
  let end = Math.min(text.length, limitChars);
  // Not half a surrogate pair: a character outside the BMP cut at the limit is dropped whole.
  const last = text.charCodeAt(end - 1);
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
  return end > 0 ? text.slice(0, end) : null;
}

/** The longest wait a Retry-After may ask for. */
const RETRY_AFTER_CAP_SECONDS = 3600;

/**
 * Seconds a Retry-After header asks to wait, from `now` (ms): delta-seconds or an HTTP-date,
 * clamped to [0, 3600]; null when absent or unparseable.
 */
export function retryAfterSeconds(header: string | null, now: number): number | null {
  const value = header?.trim();
  if (!value) return null;
  let seconds: number;
  if (/^\d+$/.test(value)) {
    seconds = Number(value);
  } else {
    // An HTTP-date (IMF-fixdate, RFC 850 or asctime) always has a time of day; Date.parse alone
    // would also take "2025-03-01" or "March 1" as dates.
    if (!/\b\d{1,2}:\d{2}:\d{2}\b/.test(value)) return null;
    const at = Date.parse(value);
    if (Number.isNaN(at)) return null;
    seconds = Math.ceil((at - now) / 1000);
  }
  return Math.min(RETRY_AFTER_CAP_SECONDS, Math.max(0, seconds));
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const name = (error as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") return `Timed out after ${timeoutMs} ms`;
  return `Connection failed: ${(error as Error)?.message ?? String(error)}`;
}

function statusError(status: number): string | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return `Redirect (${status}) not followed`;
  return `HTTP ${status}`;
}

/** One signed POST, never throwing: every outcome is a result to record. */
export async function attemptDelivery(target: AttemptTarget, body: string | BodyParts, timeoutMs: number): Promise<AttemptResult> {
  const attemptedAt = new Date();
  const request = await signedRequest(target.signingKeys, body, target, attemptedAt);
  try {
    return await send(target.url, request, attemptedAt, timeoutMs);
  } finally {
    // Only parts-built bodies come from the pool (a string body is encoded into a buffer of its own).
    if (typeof body !== "string") releaseBuffer(request.body);
  }
}

async function send(url: string, request: { headers: Record<string, string>; body: Uint8Array }, attemptedAt: Date, timeoutMs: number): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { method: "POST", headers: request.headers, body: request.body, redirect: "manual", signal });
    const statusCode = response.status;
    const attemptClass = classifyAttempt(statusCode);
    const retryAfter = attemptClass === "retryable" ? retryAfterSeconds(response.headers.get("Retry-After"), Date.now()) : null;
    const responseExcerpt = await readExcerpt(response, LIMITS.responseReadBytes, LIMITS.responseExcerptChars).catch(() => null);
    return {
      statusCode,
      error: statusError(statusCode),
      responseTimeMs: elapsed(),
      responseExcerpt,
      retryAfterSeconds: retryAfter,
      attemptedAt: attemptedAt.getTime(),
      class: attemptClass,
    };
  } catch (error) {
    return {
      statusCode: null,
      error: describeFailure(error, timeoutMs),
      responseTimeMs: elapsed(),
      responseExcerpt: null,
      retryAfterSeconds: null,
      attemptedAt: attemptedAt.getTime(),
      class: "retryable",
    };
  }
}
