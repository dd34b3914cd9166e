// The soak's deterministic fault mix: what the receiver answers to the n-th request (attempt) for
// a delivery, decided by a hash of (delivery id, attempt) alone, so the expected end state of
// every delivery can be computed. Used by bench/soak.mjs and test/setup/receiver.ts (respond=chaos).

/** Percentages of attempts answered each way; the rest succeed with 200. */
export const CHAOS_MIX = { 500: 30, 404: 5, hang: 2, close: 2 };

/**
 * FNV-1a over the string's UTF-16 code units, then murmur3's finaliser: without it, ids that
 * differ only in the attempt digit land in correlated buckets.
 */
function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 500, 404, "hang", "close" or 200 for this delivery's n-th attempt (n from 1). */
export function chaosAnswer(deliveryId, attempt, mix = CHAOS_MIX) {
  let bucket = hash32(`${deliveryId}#${attempt}`) % 100;
  for (const [answer, percent] of Object.entries(mix)) {
    if (bucket < percent) return /^\d+$/.test(answer) ? Number(answer) : answer;
    bucket -= percent;
  }
  return 200;
}

/**
 * The guide's policy applied to a sequence of answers (3 attempts; 2xx succeeds; 4xx fails at once;
 * 5xx, timeouts and dropped connections are retried): the final status and how many attempts it took.
 */
export function expectedOutcome(answers, maxAttempts = 3) {
  for (let i = 0; i < answers.length && i < maxAttempts; i++) {
    const answer = answers[i];
    if (typeof answer === "number" && answer >= 200 && answer < 300) return { status: "success", attempts: i + 1 };
    if (typeof answer === "number" && answer < 500) return { status: "failed", attempts: i + 1 };
    if (i + 1 === maxAttempts) return { status: "failed", attempts: i + 1 };
  }
  return { status: "pending", attempts: Math.min(answers.length, maxAttempts) };
}
