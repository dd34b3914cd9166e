// Cloudflare list prices used by `npm run bench` (Workers Paid, pay-as-you-go beyond the included
// amounts; the $5/month minimum and the monthly allowances are left out: these are marginal prices).
// Looked up 2026-11 — see bench/PRICES.md for the quotes.
export const PRICES = {
  workers_requests: {
    usd_per_million: 0.3,
    unit: "request (each fetch, queue-consumer batch and cron invocation)",
    source: "https://developers.cloudflare.com/workers/platform/pricing/",
  },
  workers_cpu_ms: {
    usd_per_million: 0.02,
    unit: "CPU millisecond",
    source: "https://developers.cloudflare.com/workers/platform/pricing/",
  },
  d1_rows_read: { usd_per_million: 0.001, unit: "row read", source: "https://developers.cloudflare.com/d1/platform/pricing/" },
  d1_rows_written: { usd_per_million: 1.0, unit: "row written", source: "https://developers.cloudflare.com/d1/platform/pricing/" },
  queue_operations: {
    usd_per_million: 0.4,
    unit: "queue operation (per 64 KB written, read or deleted; a message is write+read+delete, each retry one more read)",
    source: "https://developers.cloudflare.com/queues/platform/pricing/",
  },
  subrequests: { usd_per_million: 0, unit: "subrequest (not billed)", source: "https://developers.cloudflare.com/workers/platform/pricing/" },
};

/**
 * USD per million successful deliveries from per-delivery counters
 * { requests, cpu_ms, d1_rows_read, d1_rows_written, queue_operations }.
 * (A count per delivery × $ per million units = $ per million deliveries.)
 */
export function costPerMillion(per) {
  const parts = {
    requests: per.requests * PRICES.workers_requests.usd_per_million,
    cpu: (per.cpu_ms ?? 0) * PRICES.workers_cpu_ms.usd_per_million,
    d1_read: per.d1_rows_read * PRICES.d1_rows_read.usd_per_million,
    d1_write: per.d1_rows_written * PRICES.d1_rows_written.usd_per_million,
    queues: per.queue_operations * PRICES.queue_operations.usd_per_million,
  };
  return { ...parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}
