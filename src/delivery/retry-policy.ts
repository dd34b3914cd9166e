import type { DeliveryPolicy } from "../env";

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

/** Wait before attempt n+1 after attempt n failed: base, 2·base, 4·base, … (1 s, 2 s by default). */
export function retryDelaySeconds(policy: DeliveryPolicy, attemptsMade: number): number {
  return policy.backoffBaseSeconds * 2 ** (attemptsMade - 1);
}

export type DeliveryVerdict =
  | { status: "success" | "failed" }
  | { status: "pending"; retryInSeconds: number };

/** The delivery's state after `attemptsMade` attempts, the last of class `result`. */
export function deliveryVerdict(policy: DeliveryPolicy, result: AttemptClass, attemptsMade: number): DeliveryVerdict {
  if (result === "success") return { status: "success" };
  if (result === "permanent" || attemptsMade >= policy.maxAttempts) return { status: "failed" };
  return { status: "pending", retryInSeconds: retryDelaySeconds(policy, attemptsMade) };
}
