// A small client for the hr-intel-webhooks API (admin, webhooks, events, delivery log).

export class ApiClient {
  constructor(base, { adminToken } = {}) {
    this.base = base;
    this.adminToken = adminToken;
  }

  async request(method, path, { key, json, headers = {}, timeoutMs = 30_000 } = {}) {
    const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) };
    if (key) init.headers.authorization = `Bearer ${key}`;
    if (json !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    const res = await fetch(`${this.base}${path}`, init);
    const text = await res.text();
    let body = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body, headers: res.headers };
  }

  async expect(status, method, path, options) {
    const res = await this.request(method, path, options);
    if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** A tenant and its API key. */
  async createTenant(name) {
    const body = await this.expect(201, "POST", "/api/v1/admin/tenants", { key: this.adminToken, json: { name } });
    return { id: body.id, key: body.api_key };
  }

  createWebhook(key, url, events = ["query.created"]) {
    return this.expect(201, "POST", "/api/v1/webhooks", { key, json: { url, events } });
  }

  /** POST /api/v1/events (query.created); resolves to { status, body, ms }. */
  async publish(key, data, { idempotencyKey, timeoutMs } = {}) {
    const started = performance.now();
    const headers = idempotencyKey ? { "idempotency-key": idempotencyKey } : {};
    const res = await this.request("POST", "/api/v1/events", { key, json: { event: "query.created", data }, headers, timeoutMs });
    return { status: res.status, body: res.body, ms: performance.now() - started };
  }

  /** POST /api/v1/events/batch, one query.created per data; resolves to { status, body, ms }. */
  async publishBatch(key, datas, { timeoutMs } = {}) {
    const started = performance.now();
    const events = datas.map((data) => ({ event: "query.created", data }));
    const res = await this.request("POST", "/api/v1/events/batch", { key, json: { events }, timeoutMs });
    return { status: res.status, body: res.body, ms: performance.now() - started };
  }

  /** Every page of a skip/limit list endpoint. */
  async all(key, path, pageSize = 100) {
    const items = [];
    for (let skip = 0; ; skip += pageSize) {
      const sep = path.includes("?") ? "&" : "?";
      const page = await this.expect(200, "GET", `${path}${sep}limit=${pageSize}&skip=${skip}`, { key });
      items.push(...page);
      if (page.length < pageSize) return items;
    }
  }

  webhooks(key) {
    return this.all(key, "/api/v1/webhooks");
  }

  deliveries(key, webhookId, status) {
    return this.all(key, `/api/v1/webhooks/${webhookId}/deliveries${status ? `?status=${status}` : ""}`);
  }

  delivery(key, webhookId, deliveryId) {
    return this.expect(200, "GET", `/api/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, { key });
  }
}

/** The query.created data of bench event `seq` (the sequence id rides in query_id). */
export const eventData = (seq) => ({
  query_id: seq,
  user_id: "bench-user",
  category: "Technical",
  sentiment: "Neutral",
  priority: 5,
  query: "My application keeps crashing when I try to export data",
});
