import { bodyForWebhooks } from "../../delivery/payload";
import { EVENT_CATALOG, EVENT_TYPES } from "../../events/catalog";
import type { PortalSession } from "../../services/portal-sessions";
import { prettyJson } from "../components";
import { Layout } from "../layout";

/** The integration guide's own verification function (Python), as receivers already run it. */
const PYTHON_VERIFIER = `import hmac
import hashlib
import json

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

# payload = await request.json()
# verify_webhook_signature(payload, request.headers["X-Webhook-Signature"], SECRET_KEY)`;

/** Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature), checked by the standardwebhooks package. */
const NODE_VERIFIER = `// npm install standardwebhooks
import { Webhook } from "standardwebhooks";

const wh = new Webhook(process.env.SECRET_KEY, { format: "raw" }); // the wsk_live_… secret as is

app.post("/webhook", express.raw({ type: "application/json" }), (req, res) => {
  const payload = wh.verify(req.body.toString("utf8"), req.headers); // throws if invalid or stale
  res.sendStatus(200);
});`;

const EXAMPLE_WEBHOOK_ID = "550e8400-e29b-41d4-a716-446655440000";
const EXAMPLE_TIME = Date.UTC(2024, 10, 24, 12, 0, 0);

/** An example body as the consumer builds it (src/delivery/payload.ts), formatted. */
const exampleBody = (type: keyof typeof EVENT_CATALOG) =>
  prettyJson(bodyForWebhooks({ type, data: EVENT_CATALOG[type].example, createdAt: EXAMPLE_TIME })(EXAMPLE_WEBHOOK_ID));

export function EventTypesPage({ session }: { session: PortalSession }) {
  return (
    <Layout title="Event types" session={session}>
      <p>Every delivery is a POST of one JSON body: the event type, its time, the endpoint's id and the event's data.</p>
      {EVENT_TYPES.map((type) => (
        <section aria-labelledby={`type-${type}`}>
          <h2 id={`type-${type}`}>{type}</h2>
          <p>{EVENT_CATALOG[type].description}</p>
          <pre>{exampleBody(type)}</pre>
        </section>
      ))}
      <h2>Verifying signatures</h2>
      <p>
        Each delivery is signed twice with your endpoint's secret: <code>X-Webhook-Signature</code> (hex HMAC-SHA256 of the body) and the Standard Webhooks
        headers <code>webhook-id</code>, <code>webhook-timestamp</code>, <code>webhook-signature</code>.
      </p>
      <h3>Python</h3>
      <pre>{PYTHON_VERIFIER}</pre>
      <h3>Node.js (Standard Webhooks)</h3>
      <pre>{NODE_VERIFIER}</pre>
    </Layout>
  );
}
