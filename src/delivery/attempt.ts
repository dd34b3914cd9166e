import { LIMITS } from "../env";
import { classifyAttempt, type AttemptClass } from "./retry-policy";
import { deliveryHeaders } from "./signing";

export interface AttemptTarget {
  webhookId: string;
  deliveryId: string;
  url: string;
  signingKey: CryptoKey;
}

export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  responseTimeMs: number;
  responseExcerpt: string | null;
  attemptedAt: number;
  class: AttemptClass;
}

const SMALL_BODY_BYTES = 16 * 1024;

/** Reads at most `limit` characters of the response, so a huge body costs nothing. */
async function excerpt(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return null;
  // A small body with a declared length is read whole (the cheapest path); anything else
  // through a plain reader, stopping at the limit (a TextDecoderStream costs more than the fetch).
  const declared = Number(response.headers.get("Content-Length") ?? Infinity);
  if (declared <= SMALL_BODY_BYTES) {
    const text = await response.text();
    return text.length > 0 ? text.slice(0, limit) : null;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (text.length < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  if (text.length < limit) text += decoder.decode();
  await reader.cancel().catch(() => {});
  return text.length > 0 ? text.slice(0, limit) : null;
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
export async function attemptDelivery(target: AttemptTarget, body: string, timeoutMs: number): Promise<AttemptResult> {
  const attemptedAt = new Date();
  const headers = await deliveryHeaders(target.signingKey, body, target, attemptedAt);
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(target.url, { method: "POST", headers, body, redirect: "manual", signal });
    const responseExcerpt = await excerpt(response, LIMITS.responseExcerptChars).catch(() => null);
    const statusCode = response.status;
    return { statusCode, error: statusError(statusCode), responseTimeMs: elapsed(), responseExcerpt, attemptedAt: attemptedAt.getTime(), class: classifyAttempt(statusCode) };
  } catch (error) {
    return {
      statusCode: null,
      error: describeFailure(error, timeoutMs),
      responseTimeMs: elapsed(),
      responseExcerpt: null,
      attemptedAt: attemptedAt.getTime(),
      class: "retryable",
    };
  }
}
