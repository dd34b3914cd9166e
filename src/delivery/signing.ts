const encoder = new TextEncoder();

/** HMAC-SHA256 of the UTF-8 bytes of `message`, keyed by the UTF-8 bytes of `secret` (Web Crypto only). */
export async function hmacSha256(secret: string, message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

/** The guide's `X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the body. */
export async function signGuideHex(secret: string, body: string): Promise<string> {
  const mac = await hmacSha256(secret, body);
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Standard Webhooks `webhook-signature`: `v1,` + base64(HMAC-SHA256(`${msgId}.${timestamp}.${body}`)).
 * The key is the secret's UTF-8 bytes, i.e. what `new Webhook(secret, { format: "raw" })` verifies.
 */
export async function signStandardWebhooks(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string,
): Promise<string> {
  const mac = await hmacSha256(secret, `${msgId}.${timestampSeconds}.${body}`);
  return `v1,${btoa(String.fromCharCode(...mac))}`;
}
