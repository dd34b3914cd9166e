// Waiting for conditions and for the Worker under `wrangler dev` to go idle (bench and isolation).
import { setTimeout as sleep } from "node:timers/promises";

/** Polls `condition` (may be async) every `everyMs` (50) until it is true; throws after timeoutMs. */
export async function waitFor(condition, timeoutMs, what, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Resolves once `worker` (a WranglerDev with LOG_USAGE=1) has logged no invocation for quietMs:
 * quietMs above the consumers' max_batch_timeout means no batch is pending either.
 */
export async function whenQuiet(worker, quietMs, timeoutMs) {
  let count = -1;
  let since = Date.now();
  await waitFor(
    () => {
      if (worker.usage.length !== count) [count, since] = [worker.usage.length, Date.now()];
      return Date.now() - since >= quietMs;
    },
    timeoutMs,
    "the Worker to go idle",
  );
}

/** The idle wait bench and isolation use: longer than every consumer's max_batch_timeout (+0.5 s), at least 1.5 s. */
export function quietMsFor(consumers) {
  const timeouts = Object.values(consumers).map((c) => c.max_batch_timeout ?? 1);
  return Math.max(1500, ...timeouts.map((t) => t * 1000 + 500));
}
