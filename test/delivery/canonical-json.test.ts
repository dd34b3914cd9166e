import { LosslessNumber } from "lossless-json";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/delivery/canonical-json";
import { bodyForWebhooks, bodyPartsForWebhooks } from "../../src/delivery/payload";
import { signedContent } from "../../src/delivery/signing";
import { parseJsonExactly, parseStoredJson, stringifyJsonExactly } from "../../src/lib/exact-json";
import vectors from "./python-vectors.json";

describe("canonicalJson matches Python json.dumps(sort_keys=True, separators=(',', ':'))", () => {
  for (const v of vectors.canonical) {
    it(v.name, () => {
      expect(canonicalJson(JSON.parse(v.input_json))).toBe(v.expected);
    });
  }

  it("is a fixed point of Python's loads -> dumps", () => {
    for (const v of vectors.canonical) {
      expect(canonicalJson(JSON.parse(v.expected)), v.name).toBe(v.expected);
    }
  });
});

describe("with exact parsing (parseJsonExactly), big integers and __proto__ keys match Python too", () => {
  for (const v of vectors.exact) {
    it(v.name, () => {
      expect(canonicalJson(parseJsonExactly(v.input_json))).toBe(v.expected);
      // Stored (events.data) and read back by the consumer: the same bytes.
      expect(canonicalJson(parseStoredJson(stringifyJsonExactly(parseJsonExactly(v.input_json))))).toBe(v.expected);
      // A fixed point of Python's loads -> dumps.
      expect(canonicalJson(parseJsonExactly(v.expected))).toBe(v.expected);
    });
  }

  it("changes nothing for the other vectors: floats and safe integers as with JSON.parse", () => {
    for (const v of vectors.canonical) {
      expect(canonicalJson(parseJsonExactly(v.input_json)), v.name).toBe(v.expected);
      expect(canonicalJson(parseStoredJson(v.input_json)), v.name).toBe(v.expected);
    }
  });
});

describe("canonicalJson edge cases", () => {
  it("prints an exact big integer digit for digit, any other exact number as a JS number", () => {
    expect(canonicalJson({ n: new LosslessNumber("123456789012345678901") })).toBe('{"n":123456789012345678901}');
    expect(canonicalJson([new LosslessNumber("-9007199254740993"), new LosslessNumber("7"), new LosslessNumber("1e21"), new LosslessNumber("0.5")])).toBe(
      "[-9007199254740993,7,1e+21,0.5]",
    );
    expect(() => canonicalJson(new LosslessNumber("1e400"))).toThrow();
  });

  it("sorts keys by code point, not UTF-16 code unit", () => {
    expect(canonicalJson({ "\u{1F600}": 1, "\ue000": 2 })).toBe('{"\\ue000":2,"\\ud83d\\ude00":1}');
  });

  it("formats numbers like Python", () => {
    const cases: Array<[number, string]> = [
      [-0, "0"],
      [5, "5"],
      [1e16, "10000000000000000"],
      [1e21, "1e+21"],
      [330.5, "330.5"],
      [0.0001, "0.0001"],
      [1e-6, "1e-06"],
      [1.5e-7, "1.5e-07"],
      [-0.5, "-0.5"],
      [5e-324, "5e-324"],
      [1.5e300, "1.5e+300"],
    ];
    for (const [n, s] of cases) expect(canonicalJson(n), String(n)).toBe(s);
  });

  it("rejects non-finite numbers", () => {
    expect(() => canonicalJson(NaN)).toThrow();
    expect(() => canonicalJson({ x: Infinity })).toThrow();
    expect(() => canonicalJson([-Infinity])).toThrow();
  });

  it("skips undefined object members like JSON.stringify", () => {
    expect(canonicalJson({ b: undefined, a: 1 })).toBe('{"a":1}');
  });

  it("does not escape slashes", () => {
    expect(canonicalJson("a/b")).toBe('"a/b"');
  });
});

describe("bodyForWebhooks", () => {
  it("builds, per webhook, exactly the canonical JSON of the guide's body", () => {
    const event = {
      type: "query.created",
      createdAt: Date.parse("2024-11-24T12:00:00Z"),
      data: { query: "Grüße \u{1F600}", priority: 5, nested: { b: [1.5, null], a: "x" } },
    };
    const bodyFor = bodyForWebhooks(event);
    for (const webhookId of ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]) {
      expect(bodyFor(webhookId)).toBe(canonicalJson({ event: event.type, timestamp: "2024-11-24T12:00:00Z", webhook_id: webhookId, data: event.data }));
    }
  });

  it("as bytes: one head shared by every webhook of the event, then each webhook's tail, the same bytes", () => {
    const event = { type: "query.created", createdAt: Date.parse("2024-11-24T12:00:00Z"), data: { query: "Grüße \u{1F600}", notes: "x".repeat(10_000) } };
    const partsFor = bodyPartsForWebhooks(event);
    const [a, b] = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"].map((id) => [id, partsFor(id)] as const);
    expect(a[1].head).toBe(b[1].head);
    for (const [id, parts] of [a, b]) {
      const { body } = signedContent(parts, "msg_1", 1_732_449_600);
      expect(new TextDecoder().decode(body)).toBe(bodyForWebhooks(event)(id));
    }
  });
});
