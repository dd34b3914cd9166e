import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { importSigningKey, signGuideHex, signStandardWebhooks } from "../../src/delivery/signing";
import vectors from "./python-vectors.json";

describe("signing matches Python hmac vectors", () => {
  for (const v of vectors.signatures) {
    it(`guide hex: ${v.name}`, async () => {
      expect(await signGuideHex(await importSigningKey(v.secret), v.body)).toBe(v.guide_hex);
    });
    it(`standard webhooks: ${v.name}`, async () => {
      expect(await signStandardWebhooks(await importSigningKey(v.secret), v.msg_id, v.timestamp, v.body)).toBe(v.standard_webhooks);
    });
  }
});

describe("signStandardWebhooks verifies with the standardwebhooks package", () => {
  for (const v of vectors.signatures) {
    it(v.name, async () => {
      const ts = Math.floor(Date.now() / 1000);
      const msgId = "msg_verify_1";
      const signature = await signStandardWebhooks(await importSigningKey(v.secret), msgId, ts, v.body);
      const wh = new Webhook(v.secret, { format: "raw" });
      const headers = { "webhook-id": msgId, "webhook-timestamp": String(ts), "webhook-signature": signature };
      expect(wh.verify(v.body, headers)).toEqual(JSON.parse(v.body));
      expect(() => wh.verify(`${v.body} `, headers)).toThrow();
    });
  }
});
