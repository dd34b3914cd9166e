import swaggerUiDist from "swagger-ui-dist/package.json";
import { describe, expect, it } from "vitest";
import packageJson from "../../package.json";
import { createApp } from "../../src/app";
import { SWAGGER_UI_VERSION } from "../../src/routes/docs/docs.index";
import { api, expectError } from "../helpers/harness";

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { security?: Record<string, string[]>[]; responses: Record<string, unknown> }>>;
}

/** Every API route the app serves, as "METHOD /path/{param}". */
function servedRoutes(): string[] {
  const routes = createApp()
    .routes.filter((r) => r.method !== "ALL" && r.path.startsWith("/api/"))
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  return [...new Set(routes)].sort();
}

async function openApiDocument(): Promise<OpenApiDocument> {
  const res = await api("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  return (await res.json()) as OpenApiDocument;
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.x document, served without authentication", async () => {
    const doc = await openApiDocument();
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: "hr-intel-webhooks", version: expect.any(String) });
  });

  it("documents every route the app serves", async () => {
    const doc = await openApiDocument();
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(servedRoutes()).toEqual(
      expect.arrayContaining([
        "GET /api/v1/health",
        "POST /api/v1/admin/tenants",
        "POST /api/v1/api-keys",
        "GET /api/v1/api-keys",
        "DELETE /api/v1/api-keys/{id}",
        "POST /api/v1/webhooks",
        "GET /api/v1/webhooks",
        "GET /api/v1/webhooks/{id}",
        "PUT /api/v1/webhooks/{id}",
        "DELETE /api/v1/webhooks/{id}",
        "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
        "POST /api/v1/webhooks/{id}/recover",
      ]),
    );
    expect(documented.sort()).toEqual(expect.arrayContaining(servedRoutes()));
  });

  it("declares the bearer security of every route but the health check", async () => {
    const doc = await openApiDocument();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const expected = path === "/api/v1/health" ? undefined : path.startsWith("/api/v1/admin/") ? "adminToken" : "apiKey";
        expect(operation.security?.flatMap(Object.keys)[0], `${method} ${path}`).toBe(expected);
      }
    }
  });
});

describe("GET /docs", () => {
  it("serves an HTML page that loads /openapi.json", async () => {
    const res = await api("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/^\s*<!doctype html>/i);
    expect(html).toContain("/openapi.json");
  });

  it("references no external host: every asset is the Worker's own, so it works offline", async () => {
    const html = await (await api("/docs")).text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/(src|href)="\/\//); // protocol-relative URLs are external too
    expect(html).not.toMatch(/jsdelivr|unpkg|cdnjs/);
  });

  it("serves the stylesheet and script it references, from the pinned swagger-ui-dist", async () => {
    const html = await (await api("/docs")).text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs).toEqual([
      `/docs/assets/swagger-ui-dist@${SWAGGER_UI_VERSION}/swagger-ui.css`,
      `/docs/assets/swagger-ui-dist@${SWAGGER_UI_VERSION}/swagger-ui-bundle.js`,
    ]);
    const expected: Record<string, [RegExp, string]> = {
      css: [/^text\/css/, ".swagger-ui"],
      js: [/^text\/javascript/, "SwaggerUIBundle"],
    };
    for (const ref of refs) {
      const res = await api(ref);
      const [type, marker] = expected[ref.split(".").pop()!];
      expect(res.status, ref).toBe(200);
      expect(res.headers.get("Content-Type"), ref).toMatch(type);
      expect(res.headers.get("Cache-Control"), ref).toContain("immutable");
      const text = await res.text();
      expect(text.length, ref).toBeGreaterThan(100_000);
      expect(text, ref).toContain(marker);
    }
  });

  it("pins the installed swagger-ui-dist version", () => {
    expect(SWAGGER_UI_VERSION).toBe(swaggerUiDist.version);
    expect(packageJson.dependencies["swagger-ui-dist"]).toBe(SWAGGER_UI_VERSION);
  });

  it("answers 404 with the JSON error shape for an unknown asset", async () => {
    const res = await api(`/docs/assets/swagger-ui-dist@${SWAGGER_UI_VERSION}/index.html`);
    await expectError(res, 404, "not_found");
  });
});
