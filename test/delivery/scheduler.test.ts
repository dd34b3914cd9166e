import { describe, expect, it } from "vitest";
import { runFairly } from "../../src/delivery/scheduler";

/**
 * runFairly across invocations of one isolate: an endpoint's attempts in flight count against
 * its limit whichever batch started them (src/delivery/scheduler.ts).
 */

const options = { connections: 6, perEndpoint: 2, detachAfterMs: 400, startBy: Date.now() + 60_000 };

/** An attempt that lasts until its release() is called. */
function heldAttempts() {
  const releases: Array<() => void> = [];
  const run = () => new Promise<void>((resolve) => releases.push(resolve));
  const releaseAll = () => {
    for (const release of releases.splice(0)) release();
  };
  return { run, releaseAll };
}

const items = (endpointId: string, n: number) => Array.from({ length: n }, (_, i) => ({ tenantId: "t", endpointId, i }));

describe("a batch whose endpoint is full with another batch's attempts", () => {
  it("waits for room while those attempts are young, and sends nothing on", async () => {
    const endpoint = crypto.randomUUID();
    const held = heldAttempts();
    const first = runFairly(items(endpoint, 2), { ...options, startBy: Date.now() + 60_000 }, held.run);
    const ran: number[] = [];
    const second = runFairly(items(endpoint, 3), { ...options, startBy: Date.now() + 60_000 }, async (item) => {
      ran.push(item.i);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ran).toEqual([]); // the endpoint is full
    held.releaseAll();
    const result = await second;
    expect(ran).toEqual([0, 1, 2]);
    expect(result.unstarted).toEqual([]);
    await first;
  });

  it("sends its work on at once when those attempts are older than detachAfterMs (a hanging endpoint)", async () => {
    const endpoint = crypto.randomUUID();
    const held = heldAttempts();
    const first = runFairly(items(endpoint, 2), { ...options, detachAfterMs: 50, startBy: Date.now() + 60_000 }, held.run);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const result = await runFairly(items(endpoint, 3), { ...options, detachAfterMs: 50, startBy: Date.now() + 60_000 }, async () => {});
    expect(result.unstarted.map((item) => item.i)).toEqual([0, 1, 2]);
    expect((await first).detached).toHaveLength(2); // still held: detached by their own batch
    held.releaseAll();
  });

  it("waits detachAfterMs at most in all, then sends its work on", async () => {
    const endpoint = crypto.randomUUID();
    const held = heldAttempts();
    const first = runFairly(items(endpoint, 2), { ...options, detachAfterMs: 5_000, startBy: Date.now() + 60_000 }, held.run);
    const result = await runFairly(items(endpoint, 3), { ...options, detachAfterMs: 100, startBy: Date.now() + 60_000 }, async () => {});
    expect(result.unstarted.map((item) => item.i)).toEqual([0, 1, 2]); // returned while the first batch's attempts still run
    held.releaseAll();
    expect((await first).detached).toEqual([]);
  });
});
