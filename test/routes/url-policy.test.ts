import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { LIMITS } from "../../src/env";
import { checkWebhookUrl } from "../../src/lib/url-policy";
import { consume, deliveryDetail, insertDelivery, job } from "../helpers/delivery";
import { api, apiWithEnv, createTenant, createWebhook, expectError, storedWebhook, webhookBody, withoutNewWebhooks } from "../helpers/harness";

const PRODUCTION = { production: true, maxLength: LIMITS.maxUrlLength };
const DEVELOPMENT = { production: false, maxLength: LIMITS.maxUrlLength };

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

/** Public-looking names that embed a non-public address and resolve to it (nip.io, sslip.io style), anywhere in the name. */
const EMBEDDED_PRIVATE = [
  ["loopback", "127.0.0.1.nip.io"],
  ["private, dashed", "10-0-0-1.sslip.io"],
  ["private, after a label", "app.192.168.1.1.nip.io"],
  ["private, dashed", "172-16-0-1.sslip.io"],
  ["metadata", "169.254.169.254.nip.io"],
  ["second address after a public one", "1.1.1.1.127.0.0.1.nip.io"],
  ["second dashed address after a public one", "8-8-8-8.10-0-0-1.sslip.io"],
  ["dots and dashes mixed", "10.0-0.1.nip.io"],
  ["dashed after a prefix", "magic-127-0-0-1.nip.io"],
  ["loopback in hex", "7f000001.nip.io"],
  ["private in hex after a prefix", "app-c0a80101.nip.io"],
  ["IPv6 loopback, dashed", "--1.sslip.io"],
  ["IPv6 link-local, dashed", "fe80--1.sslip.io"],
  ["IPv6 unique-local, dashed", "www.fd00--1.sslip.io"],
  ["IPv4-mapped IPv6, dashed", "--ffff-7f00-1.sslip.io"],
  ["carrier-grade NAT", "100.64.0.1.nip.io"],
  ["carrier-grade NAT (Alibaba metadata)", "100.100.100.200.nip.io"],
  ["benchmarking", "198.18.0.1.nip.io"],
  ["this network", "0.0.0.0.nip.io"],
  ["documentation", "192.0.2.1.nip.io"],
  ["multicast", "224.0.0.1.nip.io"],
  ["reserved", "240.0.0.1.nip.io"],
  ["broadcast", "255.255.255.255.nip.io"],
];

/** Cluster-internal and private-use suffixes, and names that only mean something inside a network. */
const INTERNAL_NAMES = [
  "kubernetes.default.svc",
  "api.prod.svc.cluster.local",
  "printer.lan",
  "wiki.intranet",
  "hr.corp",
  "nas.home",
  "db.localdomain",
  "vault.service.consul",
  "app.private",
  "1.0.0.127.in-addr.arpa",
  "localhost..",
  "LOCALHOST.",
];

/** Public names whose DNS answers 127.0.0.1 (and their subdomains). */
const LOOPBACK_NAMES = [
  "localtest.me",
  "lvh.me",
  "app.lvh.me",
  "Sub.LocalTest.Me",
  "vcap.me",
  "localho.st",
  "lacolhost.com",
  "local.gd",
  "traefik.me",
  "localhost.direct",
];

/** Ports outside 80, 443 and 1024+, and the datastore and admin ports above 1024. */
const REFUSED_PORT_URLS = [
  ["ssh", "https://hooks.example.com:22/hr"],
  ["smtp", "https://hooks.example.com:25/hr"],
  ["below 1024", "https://hooks.example.com:1023/hr"],
  ["port 0", "https://hooks.example.com:0/hr"],
  ["Docker API", "https://hooks.example.com:2375/hr"],
  ["MySQL", "https://hooks.example.com:3306/hr"],
  ["PostgreSQL", "https://hooks.example.com:5432/hr"],
  ["Redis", "https://hooks.example.com:6379/hr"],
  ["Elasticsearch", "https://hooks.example.com:9200/hr"],
  ["memcached", "https://hooks.example.com:11211/hr"],
  ["MongoDB", "https://hooks.example.com:27017/hr"],
];

const PUBLIC_URLS = [
  "https://hooks.example.com/hr",
  "https://your-domain.com/webhook/smartsupport",
  "https://webhook.site/0f0e-4d7c?x=1#frag",
  "https://hooks.example.co.uk:8443/path",
  "https://172-32-0-1.example.com/", // just outside 172.16/12
  "https://v1.2.3.4.example.com/", // a public address embedded
  "https://1.1.1.1.nip.io/hook", // public addresses embedded, dotted and dashed
  "https://8-8-8-8.sslip.io/hook",
  "https://100.128.0.1.nip.io/hook", // just outside 100.64/10
  "https://198.20.0.1.nip.io/hook", // just outside 198.18/15
  "https://deadbeef.example.com/hook", // eight hex digits of a public address
  "https://xn--bcher-kva.example/hook", // an IDN (punycode) label
  "https://my-hooks.example.com/hr",
  "https://hooks.example.com:80/hr",
  "https://hooks.example.com:443/hr",
  "https://hooks.example.com:1024/hr",
  "https://hooks.example.com:3000/hr",
  "https://hooks.example.com:8080/hr",
  "https://hooks.example.com:65535/hr",
  "https://hooks.example.com./hr", // the root's trailing dot
  "https://mylan.example.com/hr", // "lan" only as a whole label suffix
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

  it.each(EMBEDDED_PRIVATE)("refuses a name embedding an address (%s): %s", (_range, host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toEqual({
      ok: false,
      reason: "URL host embeds a private or reserved address",
    });
  });

  it.each(INTERNAL_NAMES)("refuses the internal name %s", (host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toEqual({ ok: false, reason: "URL host is a local or internal name" });
  });

  it.each(LOOPBACK_NAMES)("refuses the loopback name %s", (host) => {
    expect(checkWebhookUrl(`https://${host}/hook`, PRODUCTION)).toEqual({ ok: false, reason: "URL host is a well-known name of the local machine" });
  });

  it.each(REFUSED_PORT_URLS)("refuses the port (%s): %s", (_service, url) => {
    expect(checkWebhookUrl(url, PRODUCTION)).toEqual({
      ok: false,
      reason: `URL port ${new URL(url).port} is not allowed (80, 443, or 1024 and up except datastore and admin ports)`,
    });
  });

  it("refuses a name with an empty label", () => {
    expect(checkWebhookUrl("https://hooks..example.com/hr", PRODUCTION)).toEqual({ ok: false, reason: "URL host is not a valid domain name" });
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
    "http://localhost:54321/hook", // local receivers listen on random high ports
    "http://127.0.0.1:6379/hook", // any port on the local machine
    "http://localhost:22/hook",
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

  it.each([
    "https://10.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[fd00::1]/",
    "https://metadata.google.internal/",
    "https://127.0.0.1.nip.io/hook",
    "https://localtest.me/hook",
    "https://hooks.example.com:6379/hr",
  ])("still refuses private and metadata hosts over https: %s", (url) => {
    expect(checkWebhookUrl(url, DEVELOPMENT)).toMatchObject({ ok: false });
  });
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
    "https://1.1.1.1.127.0.0.1.nip.io/hook",
    "https://8-8-8-8.10-0-0-1.sslip.io/hook",
    "https://7f000001.nip.io/hook",
    "https://fe80--1.sslip.io/hook",
    "https://100.64.0.1.nip.io/hook",
    "https://localtest.me/hook",
    "https://kubernetes.default.svc/hook",
    "https://hooks.example.com:6379/hr",
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

describe("the consumer re-applies the policy at delivery time", () => {
  /** URLs stored under an older, laxer policy (written into D1 directly), each refused now. */
  const STORED_UNDER_OLDER_POLICY = [
    "https://1.1.1.1.127.0.0.1.nip.io/hook",
    "https://8-8-8-8.10-0-0-1.sslip.io/hook",
    "https://7f000001.nip.io/hook",
    "https://--1.sslip.io/hook",
    "https://100.64.0.1.nip.io/hook",
    "https://lvh.me/hook",
    "https://printer.lan/hook",
    "https://localhost../hook",
    "https://hooks.example.com:6379/hr",
  ];

  it.each(STORED_UNDER_OLDER_POLICY)("a webhook stored with %s is not fetched and its delivery fails with the reason", async (url) => {
    const tenant = await createTenant();
    const webhook = await createWebhook(tenant);
    await env.DB.prepare("UPDATE webhooks SET url = ? WHERE id = ?").bind(url, webhook.id).run();
    const { deliveryId } = await insertDelivery(tenant, webhook.id);
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    try {
      const result = await consume([job(webhook.id, deliveryId)], { ENVIRONMENT: "production" });
      expect(result.explicitAcks).toEqual(["msg-1"]);
      const host = new URL(url).host;
      const calls = fetchSpy.mock.calls.map(([input]) => new URL(input instanceof Request ? input.url : String(input)).host);
      expect(calls).not.toContain(host);
    } finally {
      fetchSpy.mockRestore();
    }
    const verdict = checkWebhookUrl(url, PRODUCTION);
    expect(verdict.ok).toBe(false);
    const failed = await deliveryDetail(tenant, webhook.id, deliveryId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, last_status_code: null });
    expect(failed.last_error).toBe(`Webhook URL refused: ${(verdict as { reason: string }).reason}`);
  });
});
