import { describe, expect, it } from "vitest";
import { checkWebhookUrl } from "../../src/lib/url-policy";
import { api, apiWithEnv, createTenant, createWebhook, expectError, storedWebhook, webhookBody, withoutNewWebhooks } from "../helpers/harness";

const PRODUCTION = true;
const DEVELOPMENT = false;

/** Hosts no webhook may point at, by range; all are IP literals or local names. */
const PRIVATE_HOSTS = [
  ["127/8", "127.0.0.1"],
  ["127/8", "127.255.255.254"],
  ["10/8", "10.0.0.1"],
  ["10/8", "10.255.255.255"],
  ["172.16/12", "172.16.0.1"],
  ["172.16/12", "172.31.255.255"],
  ["192.168/16", "192.168.0.1"],
  ["192.168/16", "192.168.255.255"],
  ["169.254/16 (metadata)", "169.254.169.254"],
  ["169.254/16", "169.254.0.1"],
  ["0.0.0.0", "0.0.0.0"],
  ["::1", "[::1]"],
  ["fc00::/7", "[fc00::1]"],
  ["fc00::/7", "[fdff:ffff::1]"],
  ["fe80::/10", "[fe80::1]"],
  ["fe80::/10", "[febf::1]"],
  ["IPv4-mapped IPv6", "[::ffff:127.0.0.1]"],
  ["IPv4-mapped IPv6", "[::ffff:169.254.169.254]"],
  ["127/8 in decimal", "2130706433"],
  ["127/8 in hex", "0x7f000001"],
  ["127/8 shortened", "127.1"],
];

const LOCAL_NAMES = [
  "localhost",
  "LOCALHOST",
  "localhost.",
  "api.localhost",
  "metadata",
  "metadata.google.internal",
  "instance-data",
  "printer.local",
  "router.home.arpa",
  "intranet",
];

/** Public-looking names that embed a private address and resolve to it (nip.io, sslip.io style). */
const EMBEDDED_PRIVATE = ["127.0.0.1.nip.io", "10-0-0-1.sslip.io", "app.192.168.1.1.nip.io", "172-16-0-1.sslip.io", "169.254.169.254.nip.io"];

const PUBLIC_URLS = [
  "https://hooks.example.com/hr",
  "https://your-domain.com/webhook/smartsupport",
  "https://webhook.site/0f0e-4d7c?x=1#frag",
  "https://hooks.example.co.uk:8443/path",
  "https://172-32-0-1.example.com/", // just outside 172.16/12
  "https://v1.2.3.4.example.com/", // a public address embedded
];

describe("checkWebhookUrl in production", () => {
  it.each(PUBLIC_URLS)("accepts %s", (url) => {
    expect(checkWebhookUrl(url, PRODUCTION)).toEqual({ ok: true, url });
  });

  it.each(PRIVATE_HOSTS)("refuses %s: https://%s", (_range, host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toMatchObject({ ok: false });
  });

  it.each(["8.8.8.8", "[2001:4860:4860::8888]"])("refuses any IP literal, even public: https://%s", (host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toEqual({
      ok: false,
      reason: "URL host must be a domain name, not an IP address",
    });
  });

  it.each(LOCAL_NAMES)("refuses the local name %s", (host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toEqual({ ok: false, reason: "URL host is a local or internal name" });
  });

  it.each(EMBEDDED_PRIVATE)("refuses %s", (host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toEqual({
      ok: false,
      reason: "URL host resolves into a private address range",
    });
  });

  it.each(["http://hooks.example.com/hr", "http://localhost:8080/hook"])("refuses http: %s", (url) => {
    expect(checkWebhookUrl(url, PRODUCTION)).toEqual({ ok: false, reason: "URL must use https" });
  });
});

describe("checkWebhookUrl in both environments", () => {
  it.each([
    ["unparsable", "not a url", "URL cannot be parsed"],
    ["no host", "https://", "URL cannot be parsed"],
    ["ftp", "ftp://hooks.example.com/hr", "URL must use http or https"],
    ["file", "file:///etc/passwd", "URL must use http or https"],
    ["javascript", "javascript:alert(1)", "URL must use http or https"],
    ["user:password", "https://user:password@hooks.example.com/hr", "URL must not contain credentials (user:password@)"],
    ["user only", "https://user@hooks.example.com/hr", "URL must not contain credentials (user:password@)"],
    ["credentials to localhost", "http://user:pw@localhost:8080/", "URL must not contain credentials (user:password@)"],
    ["longer than 2048", `https://hooks.example.com/${"a".repeat(2048)}`, "URL is longer than 2048 characters"],
  ])("refuses %s", (_case, url, reason) => {
    expect(checkWebhookUrl(url, PRODUCTION)).toEqual({ ok: false, reason });
    expect(checkWebhookUrl(url, DEVELOPMENT)).toEqual({ ok: false, reason });
  });
});

describe("checkWebhookUrl in development", () => {
  it.each([
    "http://localhost:8787/hook",
    "http://localhost/hook",
    "https://localhost:8443/hook",
    "http://127.0.0.1:3000/hook",
    "http://[::1]:3000/hook",
    "https://hooks.example.com/hr",
  ])("accepts %s", (url) => {
    expect(checkWebhookUrl(url, DEVELOPMENT)).toEqual({ ok: true, url });
  });

  it.each(["http://hooks.example.com/hr", "http://10.0.0.1/hook", "http://localhost.example.com/hook"])(
    "refuses plain http beyond the local machine: %s",
    (url) => {
      expect(checkWebhookUrl(url, DEVELOPMENT)).toEqual({
        ok: false,
        reason: "in development only https URLs and http://localhost are allowed",
      });
    },
  );

  it.each(["https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data", "https://[fd00::1]/", "https://metadata.google.internal/"])(
    "still refuses private and metadata hosts over https: %s",
    (url) => {
      expect(checkWebhookUrl(url, DEVELOPMENT)).toMatchObject({ ok: false });
    },
  );
});

describe("the API applies the policy of its environment", () => {
  const production = { ENVIRONMENT: "production" };

  it("production registers an https webhook on a public name", async () => {
    const tenant = await createTenant();
    const res = await apiWithEnv(production, "/api/v1/webhooks", { method: "POST", key: tenant.key, json: webhookBody() });
    expect(res.status).toBe(201);
  });

  it.each([
    "http://hooks.example.com/hr",
    "http://localhost:8787/hook",
    "https://localhost/hook",
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://172.20.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[fc00::1]/hook",
    "https://[fe80::1]/hook",
  ])("production refuses %s with 422 unsafe_url and stores nothing", async (url) => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () =>
      apiWithEnv(production, "/api/v1/webhooks", { method: "POST", key: tenant.key, json: webhookBody({ url }) }),
    );
    const error = await expectError(res, 422, "unsafe_url");
    expect(error.fields).toEqual([{ field: "url", message: expect.any(String) }]);
  });

  it("production refuses an unsafe URL on update, leaving the webhook unchanged", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    const before = await storedWebhook(webhook.id);

    const res = await apiWithEnv(production, `/api/v1/webhooks/${webhook.id}`, {
      method: "PUT",
      key: tenant.key,
      json: { url: "https://169.254.169.254/latest/meta-data" },
    });
    await expectError(res, 422, "unsafe_url");
    expect(await storedWebhook(webhook.id)).toEqual(before);
  });

  it("development registers http://localhost:PORT", async () => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant, webhookBody({ url: "http://localhost:8787/hook" }));
    expect(webhook.url).toBe("http://localhost:8787/hook");
  });

  it("development refuses plain http to other hosts with 422 unsafe_url", async () => {
    const tenant = await createTenant();
    const res = await withoutNewWebhooks(tenant, () =>
      api("/api/v1/webhooks", { method: "POST", key: tenant.key, json: webhookBody({ url: "http://hooks.example.com/hr" }) }),
    );
    await expectError(res, 422, "unsafe_url");
  });
});
