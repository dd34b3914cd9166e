import { spawnSync } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { TestProject } from "vitest/node";
import { postRoute, serveToTests } from "./control-server";

/**
 * The integration guide's own verification examples, run as written, outside workerd:
 * POST /verify with [{ body, signature, secret }] answers [{ python, node }], where
 * `python` is the guide's verify_webhook_signature run by python3 on json.loads(body) and
 * `node` is the guide's verifyWebhookSignature on JSON.parse(body) (what express.json gives).
 */
const GUIDE_PYTHON = `
import hmac
import hashlib
import json
import sys

def verify_webhook_signature(payload: dict, signature: str, secret_key: str) -> bool:
    """Verify webhook signature"""
    # Convert payload to JSON string (same format as sender)
    payload_str = json.dumps(payload, sort_keys=True, separators=(',', ':'))

    # Generate expected signature
    expected_signature = hmac.new(
        key=secret_key.encode('utf-8'),
        msg=payload_str.encode('utf-8'),
        digestmod=hashlib.sha256
    ).hexdigest()

    # Compare signatures (timing-safe)
    return hmac.compare_digest(signature, expected_signature)

cases = json.load(sys.stdin)
print(json.dumps([verify_webhook_signature(json.loads(c["body"]), c["signature"], c["secret"]) for c in cases]))
`;

function verifyWebhookSignature(payload: unknown, signature: string, secretKey: string): boolean {
  // Convert payload to JSON string
  const payloadStr = JSON.stringify(payload);
  // Generate expected signature
  const expectedSignature = createHmac("sha256", secretKey).update(payloadStr).digest("hex");
  // Compare signatures (timing-safe); the guide's call throws on unequal lengths, which is a "no"
  try {
    return timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSignature));
  } catch {
    return false;
  }
}

interface Case {
  body: string;
  signature: string;
  secret: string;
}

function runPython(cases: Case[]): boolean[] {
  const run = spawnSync("python3", ["-c", GUIDE_PYTHON], { input: JSON.stringify(cases), encoding: "utf8" });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as boolean[];
}

/** POST /verify with cases answers, for each, whether the guide's Python and Node verifiers accept it. */
export default (project: TestProject) =>
  serveToTests(
    project,
    "guideVerifierPort",
    postRoute("/verify", (body) => {
      const cases = JSON.parse(body) as Case[];
      const python = runPython(cases);
      return JSON.stringify(cases.map((c, i) => ({ python: python[i], node: verifyWebhookSignature(JSON.parse(c.body), c.signature, c.secret) })));
    }),
  );
