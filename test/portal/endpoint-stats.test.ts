import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { recentDeliveryCounts } from "../../src/portal/endpoint-stats";
import { serviceContext } from "../../src/services/context";

describe("the portal's last-24 h counts", () => {
  it("take a tenant's whole webhook quota (100 ids) in one statement, past D1's 100 bound parameters", async () => {
    const ids = Array.from({ length: 100 }, () => crypto.randomUUID());
    const counts = await recentDeliveryCounts(serviceContext(env, loadConfig(env), crypto.randomUUID()), ids);
    expect(counts.size).toBe(100);
    expect([...counts.values()].every((c) => c.succeeded === 0 && c.failed === 0 && c.pending === 0)).toBe(true);
  });
});
