import { loggableError } from "../lib/error-log";

/**
 * Fair scheduling of a batch's attempts over an invocation's connections (src/delivery/consumer.ts).
 *
 * - Tenants take turns: the next attempt goes to the next tenant with work, so one tenant's
 *   many deliveries cannot queue another's behind them.
 * - Each endpoint has at most `perEndpoint` attempts in flight in this isolate (across
 *   invocations, since detached attempts outlive theirs), so one endpoint never takes every lane.
 * - An attempt still running after `detachAfterMs` is detached: it goes on in the background,
 *   the batch starts nothing more (the detached request still holds one of the invocation's
 *   connections) and ends as soon as its other attempts are done. The caller hands the
 *   unstarted work to a new job, so a hanging endpoint holds up no one.
 */
export interface Schedulable {
  tenantId: string;
  endpointId: string;
}

export interface ScheduleOptions {
  connections: number;
  perEndpoint: number;
  detachAfterMs: number;
  /** No attempt starts at or after this time (epoch ms). */
  startBy: number;
}

export interface ScheduleResult<T> {
  unstarted: T[];
  detached: T[];
  /** Settles when every detached attempt has ended. */
  detachedDone: Promise<void>;
}

/** When each attempt in flight to an endpoint started (epoch ms), per isolate. */
const inFlightByEndpoint = new Map<string, number[]>();

export const endpointInFlight = (endpointId: string) => inFlightByEndpoint.get(endpointId)?.length ?? 0;

/** How long the endpoint's oldest attempt in flight has been running (ms; 0 if none). */
export const endpointBusyFor = (endpointId: string, now: number) => {
  const started = inFlightByEndpoint.get(endpointId);
  return started ? now - Math.min(...started) : 0;
};

function track(endpointId: string, startedAt: number, delta: 1 | -1) {
  const started = inFlightByEndpoint.get(endpointId) ?? [];
  if (delta > 0) started.push(startedAt);
  else started.splice(started.indexOf(startedAt), 1);
  if (started.length > 0) inFlightByEndpoint.set(endpointId, started);
  else inFlightByEndpoint.delete(endpointId);
}

/** Tenants in turn; within a tenant, the first item whose endpoint has room. */
function turnTaker<T extends Schedulable>(items: T[], perEndpoint: number) {
  const byTenant = new Map<string, T[]>();
  for (const item of items) {
    const queue = byTenant.get(item.tenantId);
    if (queue) queue.push(item);
    else byTenant.set(item.tenantId, [item]);
  }
  const tenants = [...byTenant.keys()];
  let turn = 0;
  return {
    next(): T | undefined {
      for (let k = 0; k < tenants.length; k++) {
        const queue = byTenant.get(tenants[(turn + k) % tenants.length])!;
        const i = queue.findIndex((item) => endpointInFlight(item.endpointId) < perEndpoint);
        if (i >= 0) {
          turn = (turn + k + 1) % tenants.length;
          return queue.splice(i, 1)[0];
        }
      }
      return undefined;
    },
    rest: () => [...byTenant.values()].flat(),
  };
}

/** Resolves at `at` (epoch ms); cancel() clears the timer so an idle invocation does not linger. */
function timer(at: number) {
  let handle: ReturnType<typeof setTimeout> | undefined;
  const wake = { at, fired: false, done: Promise.resolve(), cancel: () => clearTimeout(handle) };
  wake.done = new Promise<void>((resolve) => {
    handle = setTimeout(
      () => {
        wake.fired = true;
        resolve();
      },
      Math.max(0, at - Date.now()),
    );
  });
  return wake;
}

export async function runFairly<T extends Schedulable>(items: T[], options: ScheduleOptions, run: (item: T) => Promise<void>): Promise<ScheduleResult<T>> {
  const turns = turnTaker(items, options.perEndpoint);
  const running = new Map<T, { startedAt: number; done: Promise<void> }>();
  const detached: T[] = [];
  const detachedDone: Promise<void>[] = [];
  let stopped = false;
  let wake: ReturnType<typeof timer> | undefined;

  const start = (item: T) => {
    const startedAt = Date.now();
    track(item.endpointId, startedAt, +1);
    const done = run(item)
      .catch((error) => console.error(JSON.stringify({ message: "attempt crashed", ...loggableError(error) })))
      .finally(() => {
        track(item.endpointId, startedAt, -1);
        running.delete(item);
      });
    running.set(item, { startedAt, done });
  };

  for (;;) {
    if (Date.now() >= options.startBy) stopped = true;
    while (!stopped && running.size < options.connections) {
      const item = turns.next();
      if (item === undefined) break;
      start(item);
    }
    if (running.size === 0) break;
    const oldest = Math.min(...[...running.values()].map((r) => r.startedAt));
    const wakeAt = Math.min(oldest + options.detachAfterMs, stopped ? Infinity : options.startBy);
    // A timer due no later is kept: waking early only makes the loop look again. Most attempts
    // end well within detachAfterMs, so a batch sets a few timers rather than one per attempt.
    if (!wake || wake.fired || wake.at > wakeAt) {
      wake?.cancel();
      wake = timer(wakeAt);
    }
    await Promise.race([wake.done, ...[...running.values()].map((r) => r.done)]);
    const now = Date.now();
    for (const [item, r] of running) {
      if (now - r.startedAt < options.detachAfterMs) continue;
      running.delete(item);
      detached.push(item);
      detachedDone.push(r.done);
      stopped = true;
    }
  }
  wake?.cancel();
  return { unstarted: turns.rest(), detached, detachedDone: Promise.all(detachedDone).then(() => {}) };
}
