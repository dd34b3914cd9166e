import type { Histogram } from "../db/schema";

/**
 * Response times as a sparse histogram over fixed log-spaced buckets, so histograms of any
 * batches, hours and webhooks merge by adding counts, and p50/p95 come from the merged one.
 * Bucket 0 holds [0, 1) ms; bucket b ≥ 1 holds [2^((b−1)/2), 2^(b/2)) ms: each bucket is √2
 * wide, so a percentile read back is within ±19 % of the true value. The last bucket takes
 * everything from 2^16 ms (65.5 s, beyond any attempt's timeout) up.
 */
export const LAST_BUCKET = 33;

export function responseBucket(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(LAST_BUCKET, Math.floor(2 * Math.log2(ms)) + 1);
}

/** The [low, high) ms a bucket holds. */
export const bucketBounds = (b: number): [number, number] => (b === 0 ? [0, 1] : [2 ** ((b - 1) / 2), 2 ** (b / 2)]);

/** Adds `from` into `into` (and returns it). */
export function mergeHistogram(into: Histogram, from: Histogram): Histogram {
  for (const [bucket, n] of Object.entries(from)) into[bucket] = (into[bucket] ?? 0) + n;
  return into;
}

export function addResponseTime(into: Histogram, ms: number): Histogram {
  const bucket = String(responseBucket(ms));
  into[bucket] = (into[bucket] ?? 0) + 1;
  return into;
}

/**
 * The q-th quantile (0 < q < 1) in ms, null for an empty histogram: the bucket holding that
 * rank, interpolated geometrically within it (linearly in bucket 0), rounded to 0.1 ms.
 */
export function quantile(histogram: Histogram, q: number): number | null {
  const buckets = Object.entries(histogram)
    .map(([b, n]) => [Number(b), n] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (const [b, n] of buckets) {
    if (below + n >= rank) {
      const [low, high] = bucketBounds(b);
      const within = (rank - below) / n;
      const value = b === 0 ? low + (high - low) * within : low * (high / low) ** within;
      return Math.round(value * 10) / 10;
    }
    below += n;
  }
  return null;
}
