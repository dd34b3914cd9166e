/**
 * A webhook's own retry schedule (retry_schedule_seconds): the waits, in seconds, between its
 * attempts; n waits make n + 1 attempts. Bounded so that a delivery ends within a week and
 * its attempt log stays small. Checked on create and update, like the URL policy.
 */
export const RETRY_SCHEDULE_LIMITS = {
  /** Waits at most: 21 attempts in all. */
  maxWaits: 20,
  /** Shortest and longest single wait: 1 second, 1 day. */
  minWaitSeconds: 1,
  maxWaitSeconds: 86_400,
  /** All waits together at most: 7 days. */
  maxTotalSeconds: 604_800,
} as const;

const { maxWaits, minWaitSeconds, maxWaitSeconds, maxTotalSeconds } = RETRY_SCHEDULE_LIMITS;

/** What is wrong with a proposed schedule, in words for the API's error, or null if it is valid. */
export function retryScheduleProblem(waits: unknown): string | null {
  if (!Array.isArray(waits)) return "must be an array of waits in whole seconds, or null for the default";
  if (waits.length > maxWaits) return `at most ${maxWaits} waits are allowed, got ${waits.length}`;
  const bad = waits.findIndex((w) => !Number.isInteger(w) || w < minWaitSeconds || w > maxWaitSeconds);
  if (bad >= 0) {
    return `each wait must be a whole number of seconds from ${minWaitSeconds} to ${maxWaitSeconds} (1 day); entry ${bad} is ${JSON.stringify(waits[bad])}`;
  }
  const total = (waits as number[]).reduce((sum, w) => sum + w, 0);
  if (total > maxTotalSeconds) return `the waits add up to ${total} seconds, more than ${maxTotalSeconds} (7 days)`;
  return null;
}
