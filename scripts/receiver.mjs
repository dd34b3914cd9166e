#!/usr/bin/env node
// A local webhook receiver for trying hr-intel-webhooks by hand (README walk-through).
// Usage: WEBHOOK_SECRET=wsk_live_... node scripts/receiver.mjs [port=3000]
// It checks both signature schemes and prints each event; it answers 200, or 401 when a
// secret is given and a signature does not verify.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 3000);
const secret = process.env.WEBHOOK_SECRET;

const safeEqual = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The guide's scheme: hex HMAC-SHA256 of the body (the body is already in the canonical form). */
function guideSignatureOk(body, headers) {
  const expected = createHmac("sha256", secret).update(body).digest("hex");
  return safeEqual(String(headers["x-webhook-signature"] ?? ""), expected);
}

/** Standard Webhooks: base64 HMAC-SHA256 of "id.timestamp.body", sent as "v1,<sig>". */
function standardSignatureOk(body, headers) {
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const expected = `v1,${createHmac("sha256", secret).update(signed).digest("base64")}`;
  return String(headers["webhook-signature"] ?? "").split(" ").some((sig) => safeEqual(sig, expected));
}

createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const verified = secret ? { guide: guideSignatureOk(body, req.headers), standard: standardSignatureOk(body, req.headers) } : "no WEBHOOK_SECRET set";
    const payload = JSON.parse(body || "{}");
    console.log(JSON.stringify({ event: payload.event, delivery: req.headers["webhook-id"], verified, data: payload.data }));
    const ok = !secret || (verified.guide && verified.standard);
    res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify({ status: ok ? "received" : "invalid signature" }));
  });
}).listen(port, () => console.log(`receiver listening on http://localhost:${port}/webhook`));
