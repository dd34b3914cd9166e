import { isLosslessNumber } from "lossless-json";

/**
 * Canonical JSON for webhook bodies.
 *
 * Why this exists: the integration guide's Python verifier does not check the
 * signature against the raw request bytes; it re-serialises the parsed body
 * with `json.dumps(payload, sort_keys=True, separators=(",", ":"))` and
 * HMACs that. So the body we sign and send must be a fixed point of Python's
 * `json.loads` -> `json.dumps` (default `ensure_ascii=True`), byte for byte:
 *   - keys sorted by Unicode code point at every level (Python `str` order),
 *   - no whitespace,
 *   - everything outside printable ASCII escaped as `\uXXXX` (lowercase hex,
 *     astral characters as UTF-16 surrogate pairs), `/` left alone,
 *   - integers printed as integers, other numbers as Python's float `repr`;
 *     big integers kept exact by parseJsonExactly (src/lib/exact-json.ts) printed digit for
 *     digit, as Python prints the int it reads from them.
 * Inputs are plain JSON values (no Dates/toJSON, no NaN/Infinity).
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return formatNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (isLosslessNumber(value)) return formatExactNumber(value.toString());
      if (Array.isArray(value)) {
        return `[${value.map((item) => (item === undefined ? "null" : canonicalJson(item))).join(",")}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((key) => obj[key] !== undefined);
      // Without surrogates, UTF-16 code-unit order (the default sort) is code-point order.
      keys.sort(keys.some(hasSurrogate) ? compareCodePoints : undefined);
      let out = "{";
      for (let i = 0; i < keys.length; i++) out += `${i > 0 ? "," : ""}${quote(keys[i])}:${canonicalJson(obj[keys[i]])}`;
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonicalJson: unsupported value of type ${typeof value}`);
  }
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** Printable ASCII without `"` or `\`: nothing to escape (most keys and values). */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

const hasSurrogate = (key: string) => /[\ud800-\udfff]/.test(key);

/** Python's ensure_ascii escaping. The regex works on UTF-16 code units, so astral chars become surrogate pairs. */
function quote(s: string): string {
  if (PLAIN_STRING.test(s)) return `"${s}"`;
  const escaped = s.replace(/["\\]|[^\x20-\x7e]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `"${escaped}"`;
}

/** Python compares str by code point; JS's default sort compares UTF-16 code units. */
function compareCodePoints(a: string, b: string): number {
  for (let i = 0; i < a.length && i < b.length; ) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

/** An integer literal beyond 2^53 as is (Python's int prints the same digits); any other number as a JS number would be. */
function formatExactNumber(text: string): string {
  const n = Number(text);
  return /^-?\d+$/.test(text) && !Number.isSafeInteger(n) ? text : formatNumber(n);
}

/**
 * Integers that JSON.stringify prints without an exponent are read back by Python as int and
 * printed unchanged. Everything else is a Python float: shortest round-trip digits, fixed notation
 * for decimal exponents in [-4, 16), otherwise `d.ddde+XX`.
 */
function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`canonicalJson: non-finite number ${n}`);
  const plain = String(n); // String(-0) === "0"
  if (Number.isInteger(n) && !plain.includes("e")) return plain;

  const sign = n < 0 ? "-" : "";
  const [mantissa, expText] = Math.abs(n).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);

  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
    const expSign = exp < 0 ? "-" : "+";
    return `${sign}${digits[0]}${frac}e${expSign}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const fracPart = digits.slice(exp + 1) || "0";
  return `${sign}${intPart}.${fracPart}`;
}
