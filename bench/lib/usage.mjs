// Adding up the {"usage":{…}} lines the Worker logs with LOG_USAGE=1 (src/lib/usage.ts).

export const USAGE_FIELDS = [
  "d1_round_trips",
  "d1_statements",
  "d1_rows_read",
  "d1_rows_written",
  "d1_sql_ms",
  "d1_unmetered_statements",
  "queue_messages_sent",
  "queue_acks",
  "queue_retries",
  "subrequests",
];

/** Totals of usage entries ({ usage }), with the number of invocations of each kind. */
export function sumUsage(entries) {
  const total = Object.fromEntries(USAGE_FIELDS.map((f) => [f, 0]));
  const invocations = { fetch: 0, queue: 0, scheduled: 0 };
  // Where the rows and SQL time come from: publishes, consumers, the cron.
  const by = Object.fromEntries(["d1_rows_read", "d1_rows_written", "d1_sql_ms"].map((f) => [f, { fetch: 0, queue: 0, scheduled: 0 }]));
  let maxStatements = 0; // per invocation: D1 allows 1,000 queries per invocation on Workers Paid
  for (const { usage } of entries) {
    maxStatements = Math.max(maxStatements, usage.d1_statements ?? 0);
    invocations[usage.invocation] = (invocations[usage.invocation] ?? 0) + 1;
    for (const [f, sums] of Object.entries(by)) sums[usage.invocation] = (sums[usage.invocation] ?? 0) + (usage[f] ?? 0);
    for (const f of USAGE_FIELDS) total[f] += usage[f] ?? 0;
  }
  return {
    ...total,
    invocations,
    ...Object.fromEntries(Object.entries(by).map(([f, sums]) => [`${f}_by_invocation`, sums])),
    max_d1_statements_per_invocation: maxStatements,
    requests: Object.values(invocations).reduce((a, b) => a + b, 0),
    // Cloudflare bills a write (send), a read per delivery to a consumer (ack or retry) and a delete (ack).
    queue_operations: total.queue_messages_sent + total.queue_acks + total.queue_retries + total.queue_acks,
  };
}

/** Each counter (not the maxima) divided by n (per delivery). */
export function perUnit(totals, n) {
  const out = {};
  for (const [key, value] of Object.entries(totals)) {
    if (typeof value === "number" && !key.startsWith("max_")) out[key] = n > 0 ? value / n : Number.NaN;
  }
  return out;
}
