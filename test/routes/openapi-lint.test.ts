import { describe, expect, inject, it } from "vitest";
import { api } from "../helpers/harness";

/**
 * The OpenAPI document the app serves, as a client generator reads it: `redocly lint` with the
 * recommended rules finds nothing (run in node by test/setup/openapi-lint.ts), and every
 * operation, those added later included, has a readable operationId, examples and the
 * responses every route can give.
 */
interface MediaType {
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
interface Document {
  servers?: { url: string }[];
  info: { license?: { name: string }; description?: string };
  paths: Record<string, Record<string, Operation>>;
}
interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

async function servedDocument(): Promise<{ text: string; doc: Document }> {
  const res = await api("/openapi.json");
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, doc: JSON.parse(text) as Document };
}

const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })));

const hasExample = (media: MediaType | undefined) => media !== undefined && (media.example !== undefined || Object.keys(media.examples ?? {}).length > 0);

async function lint(document: string): Promise<LintReport> {
  const res = await fetch(`http://127.0.0.1:${inject("openApiLintPort")}/lint`, { method: "POST", body: document });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as LintReport;
}

describe("GET /openapi.json, linted", () => {
  it("is linted for real: a document without servers, license or operationIds, with an example off its schema, fails", async () => {
    const op = {
      summary: "x",
      responses: { 200: { description: "ok", content: { "application/json": { schema: { type: "integer" }, example: "not a number" } } } },
    };
    const report = await lint(JSON.stringify({ openapi: "3.1.0", info: { title: "t", version: "1" }, paths: { "/x": { get: op } } }));
    expect(report.problems.map((p) => p.ruleId)).toEqual(
      expect.arrayContaining(["no-empty-servers", "info-license", "operation-operationId", "no-invalid-media-type-examples", "operation-4xx-response"]),
    );
  });

  it("passes redocly lint (recommended rules) with no error and no warning", async () => {
    const { text } = await servedDocument();
    const report = await lint(text);
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it("names this deployment as its server and carries a license", async () => {
    const { doc } = await servedDocument();
    expect(doc.servers).toEqual([{ url: "/", description: "The deployment serving this document" }]);
    expect(doc.info.license?.name).toBeTruthy();
    expect(doc.info.description).toContain("405 `method_not_allowed`");
  });

  it("gives every operation a unique camelCase operationId", async () => {
    const { doc } = await servedDocument();
    const ids = operations(doc).map(({ name, op }) => {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      return op.operationId;
    });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("has an example for every request body, every response with a body and every error", async () => {
    const { doc } = await servedDocument();
    for (const { name, op } of operations(doc)) {
      if (op.requestBody) expect(hasExample(op.requestBody.content["application/json"]), `${name} request body`).toBe(true);
      for (const [status, response] of Object.entries(op.responses)) {
        if (response.content) expect(hasExample(response.content["application/json"]), `${name} ${status}`).toBe(true);
      }
    }
  });

  it("documents the responses every route can give: 500; 400/413/422 of a sent body; 401/429 with a key", async () => {
    const { doc } = await servedDocument();
    for (const { name, path, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      const expected = ["500", ...(path.startsWith("/api/") ? ["400", "413", "422"] : []), ...((op.security ?? []).length > 0 ? ["401", "429"] : [])];
      expect(statuses, name).toEqual(expect.arrayContaining(expected));
    }
  });

  it("shows error examples in the API's error shape, with the code that goes with the status", async () => {
    const { doc } = await servedDocument();
    const errorStatus: Record<string, string> = {
      invalid_json: "400",
      unauthorized: "401",
      quota_exceeded: "403",
      not_found: "404",
      conflict: "409",
      payload_too_large: "413",
    };
    for (const { name, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const media = response.content!["application/json"];
        const values = media.example !== undefined ? [media.example] : Object.values(media.examples!).map((e) => e.value);
        for (const value of values) {
          const { error } = value as { error: { code: string; message: string; request_id: string } };
          expect(error, `${name} ${status}`).toMatchObject({ code: expect.any(String), message: expect.any(String), request_id: expect.any(String) });
          if (errorStatus[error.code]) expect(status, `${name}: ${error.code}`).toBe(errorStatus[error.code]);
        }
      }
    }
  });
});
