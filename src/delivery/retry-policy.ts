/** What one attempt's result means for its delivery. */
export type AttemptClass = "success" | "retryable" | "permanent";

/**
 * The guide's rules: any 2xx succeeds; 4xx is not retried; 5xx, timeouts and network
 * errors are. Redirects are not followed, and a 3xx is a failed attempt that is not retried.
 */
export function classifyAttempt(statusCode: number | null): AttemptClass {
  if (statusCode === null) return "retryable";
  if (statusCode >= 200 && statusCode < 300) return "success";
  if (statusCode >= 500) return "retryable";
  return "permanent";
}

/** A 5xx's Retry-After is honoured up to this long (a receiver cannot park a delivery for days). */
export const MAX_RETRY_AFTER_SECONDS = 3600;

export type DeliveryVerdict = { status: "success" | "failed" } | { status: "pending"; retryInSeconds: number };

/**
 * The delivery's state after the `attemptInCycle`-th attempt of its cycle (a manual retry or a
 * recover starts a new cycle), the last of class `result`. `schedule` holds the waits between
 * attempts, so a cycle makes schedule.length + 1 attempts; a retried response's Retry-After
 * lengthens its wait, never shortens it.
 */
export function deliveryVerdict(
  schedule: readonly number[],
  result: { class: AttemptClass; retryAfterSeconds?: number | null },
  attemptInCycle: number,
): DeliveryVerdict {
  if (result.class === "success") return { status: "success" };
  if (result.class === "permanent" || attemptInCycle > schedule.length) return { status: "failed" };
  const retryAfter = Math.min(result.retryAfterSeconds ?? 0, MAX_RETRY_AFTER_SECONDS);
  return { status: "pending", retryInSeconds: Math.max(schedule[attemptInCycle - 1], retryAfter) };
}
