import { isLosslessNumber, LosslessNumber, parse, stringify } from "lossless-json";
import type { FieldIssue } from "./errors";

/**
 * JSON that arrives exactly as it was sent, or is refused.
 *
 * JSON.parse rounds integers beyond 2^53 (123456789012345678901 becomes
 * 123456789012345680000) and makes 1e400 Infinity, which JSON.stringify writes as null.
 * Here an integer literal outside the safe range stays its exact digits (a LosslessNumber)
 * through storage (events.data) and into the canonical body, where Python's json reads it
 * back as an int and writes it unchanged. Every other number is the JS number JSON.parse
 * makes (floats keep their double rounding, as in Python). A `__proto__` key is an
 * ordinary own key at every level, as JSON.parse makes it.
 */

/**
 * Python's json reads and writes ints of at most this many digits (sys.int_info.default_max_str_digits
 * since 3.11); a longer one makes the guide's verifier raise ValueError, so it is refused.
 */
export const MAX_INTEGER_DIGITS = 4300;

const INTEGER = /^-?\d+$/;

/** JSON.rawJSON (workerd's V8 has it; TypeScript's lib does not declare it yet). */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * A number kept as its text. JSON.stringify, and so every API response (c.json), writes its
 * digits: without toJSON it would write the LosslessNumber object, and with a string a quoted one.
 */
class ExactNumber extends LosslessNumber {
  toJSON() {
    return rawJSON(this.value);
  }
}

/** Safe integers and finite floats as JS numbers; anything else stays exact text, for the checks below. */
function parseNumber(text: string): number | LosslessNumber {
  const n = Number(text);
  return (INTEGER.test(text) ? Number.isSafeInteger(n) : Number.isFinite(n)) ? n : new ExactNumber(text);
}

/** Why a number kept as text cannot be delivered exactly, or null if it can (a big integer). */
function numberProblem(text: string): string | null {
  if (!INTEGER.test(text)) return `${text} is out of range: it is not a finite number`;
  const digits = text.replace("-", "").length;
  return digits > MAX_INTEGER_DIGITS ? `an integer of ${digits} digits; at most ${MAX_INTEGER_DIGITS} digits are accepted` : null;
}

/** A big integer kept digit for digit, as parseJsonExactly makes it. */
export const isExactInteger = (value: unknown): value is LosslessNumber => isLosslessNumber(value) && INTEGER.test(value.toString());

/**
 * Parses JSON text, keeping integers beyond 2^53 digit for digit (see above). Throws a
 * SyntaxError on invalid JSON and on a key repeated with another value (JSON.parse would keep
 * the last one silently).
 */
export function parseJsonExactly(text: string): unknown {
  return parse(text, undefined, parseNumber);
}

/**
 * parseJsonExactly for text we wrote ourselves (events.data): an unsafe integer has at least 16
 * digits, so text without such a run parses the same, and much faster, with JSON.parse.
 */
export function parseStoredJson(text: string): unknown {
  return /\d{16}/.test(text) ? parseJsonExactly(text) : JSON.parse(text);
}

/** JSON text with big integers written digit for digit (JSON.stringify cannot write a LosslessNumber). */
export function stringifyJsonExactly(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new TypeError("stringifyJsonExactly: the value has no JSON form");
  return text;
}

/**
 * The numbers parseJsonExactly kept that cannot be delivered exactly (not finite, or more digits
 * than Python reads), each with its path: `data.amount`, `data.items.0`.
 */
export function undeliverableNumbers(value: unknown, path: string[] = []): FieldIssue[] {
  if (isLosslessNumber(value)) {
    const message = numberProblem(value.toString());
    return message ? [{ field: path.join(".") || "(body)", message }] : [];
  }
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, child]) => undeliverableNumbers(child, [...path, key]));
}

/**
 * True if JSON text nests arrays/objects more than `limit` levels deep, found by a scan of the
 * brackets outside strings: parseJsonExactly recurses per level and would overflow the stack.
 */
export function jsonNestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
