#!/usr/bin/env python3
"""Generate test vectors for src/delivery/canonical-json.ts (with src/lib/exact-json.ts) and src/delivery/signing.ts.

The guide's Python verifier re-serialises the parsed body with
json.dumps(payload, sort_keys=True, separators=(',', ':')) and HMACs that, so
"expected" is exactly what Python produces from each input.

Usage (stdlib only):
    python3 scripts/python-vectors.py > test/delivery/python-vectors.json
"""
import base64
import hashlib
import hmac
import json
import math
import sys
from decimal import Decimal

SECRET = "wsk_live_test_secret"
MSG_ID = "msg_test_1"
TIMESTAMP = 1732449600


def js_value(v):
    """Write numbers the way JS's JSON.stringify would: integral floats below 1e21 become ints
    spelled with the shortest round-trip digits padded with zeros (1.2345678901234568e+20 ->
    123456789012345680000, not Python's exact 123456789012345683968), and -0.0 becomes 0."""
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 1e21:
            return int(Decimal(repr(v)))
        return v
    if isinstance(v, dict):
        return {k: js_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [js_value(x) for x in v]
    return v


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


CASES = [
    ("accents", {"name": "José Müller", "city": "Señor Ñandú", "note": "café über"}),
    ("emoji", {"smile": "😀", "thumbs": "👍🏽", "mixed": "ok 😀 👍🏽 done"}),
    ("cjk", {"ja": "日本語のテキスト", "zh": "中文", "ko": "한국어"}),
    ("quotes_backslashes_slashes", {"q": 'say "hi"', "b": "C:\\path\\to", "s": "a/b</script>", "u": "https://x.test/a?b=c&d=e"}),
    ("control_chars_all", {"s": "".join(chr(c) for c in range(0x20)) + "\x7f"}),
    *[(f"control_char_{c:02x}", f"x{chr(c)}y") for c in [*range(0x20), 0x7F]],
    ("line_separators", {"ls": "a\u2028b", "ps": "c\u2029d"}),
    ("bmp_private_use_and_specials", ["\ue000", "\uffff", "\ufeff", "\u00a0", "\u0080"]),
    ("nested", {"z": {"b": [1, {"y": [], "x": {}}, [[]]], "a": {"d": {"c": None}}}, "a": [[1, 2], {"k": "v"}]}),
    ("code_point_key_sort", {"a": 1, "B": 2, "é": 3, "😀": 4, "\ue000": 5, "10": 6, "9": 7, "": 8, "aa": 9, "A": 10}),
    ("code_point_key_sort_nested", {"x": {"\uffff": 1, "😀": 2, "\ue000": 3}, "😀": {"\ue000": True}}),
    ("numbers", {
        "a": 330.5, "b": 0, "c": -0.5, "d": 1e-06, "e": 0.0001, "f": 123456789.123,
        "g": 1e21, "h": 1.5e300, "i": 5e-324, "j": 10000000000000000, "k": -1.5e-07,
        "l": 0.1, "m": 1e16, "n": 123456789012345680000.0, "o": 1.7976931348623157e308,
        "p": -42, "q": 2.5e-5, "r": 1234567.0, "s": 0.30000000000000004, "t": 1e100,
    }),
    ("number_list", [330.5, 0, -0.5, 1e-06, 0.0001, 123456789.123, 1e21, 1.5e300, 5e-324, 10000000000000000]),
    ("negative_zero", [-0.0, {"z": -0.0}]),
    ("literals", {"t": True, "f": False, "n": None}),
    ("top_level_true", True),
    ("top_level_null", None),
    ("top_level_string", "héllo\n"),
    ("top_level_float", 330.5),
    ("empty_object", {}),
    ("empty_array", []),
    ("empty_containers", {"o": {}, "a": [], "s": ""}),
    ("webhook_payload", {
        "id": "evt_01JDQ8Y7Z3K4M5N6P7Q8R9S0T1",
        "type": "employee.updated",
        "created_at": "2024-11-24T12:00:00.000Z",
        "api_version": "2024-11-01",
        "data": {
            "employee": {
                "id": "emp_42",
                "first_name": "Zoë",
                "last_name": "Ångström",
                "email": "zoe.angstrom@example.com",
                "department": "R&D / Платформа",
                "salary": {"amount": 85000.5, "currency": "EUR"},
                "fte": 0.8,
                "tags": ["remote", "🚀 launch", "日本"],
                "manager_id": None,
                "active": True,
            },
            "changes": [{"field": "fte", "from": 1, "to": 0.8}],
        },
    }),
]

# Parsed with parseJsonExactly (src/lib/exact-json.ts), not JSON.parse: integers beyond 2^53 must
# come out digit for digit, as Python's int prints them, and "__proto__" must stay an ordinary key.
# Written from the Python values as they are (no js_value: Python's ints are what JS must keep).
EXACT_CASES = [
    ("big_integers", {
        "a": 123456789012345678901, "b": -123456789012345678901, "c": 2**53 + 1, "d": 2**53,
        "e": 2**53 - 1, "f": -(2**53) - 1, "g": 10**21, "h": 2**64, "i": -(2**63) - 1, "j": 10**30 + 7,
    }),
    ("big_integers_mixed_with_floats", [123456789012345678901, 1e21, 0.1, 330.5, 1.5e300, 10000000000000000, 2.5e-07]),
    ("big_integers_nested", {"z": {"list": [[2**70], {"k": -(2**70)}]}, "a": {"b": {"c": 2**100}}}),
    ("max_digit_integer", {"n": int("9" * 4300), "m": -int("1" + "0" * 4299)}),
    ("proto_keys", {"__proto__": {"__proto__": 1, "x": [{"__proto__": None}]}, "constructor": {"prototype": 2}, "a": 3}),
]


def main():
    canonical_vectors = []
    for name, value in CASES:
        input_json = json.dumps(js_value(value), ensure_ascii=False)
        expected = canonical(json.loads(input_json))
        assert canonical(json.loads(expected)) == expected, name  # fixed point
        canonical_vectors.append({"name": name, "input_json": input_json, "expected": expected})

    exact_vectors = []
    for name, value in EXACT_CASES:
        input_json = json.dumps(value, ensure_ascii=False)
        expected = canonical(json.loads(input_json))
        assert canonical(json.loads(expected)) == expected, name  # fixed point
        exact_vectors.append({"name": name, "input_json": input_json, "expected": expected})

    signature_vectors = []
    for v in canonical_vectors + exact_vectors:
        if v["name"] not in ("webhook_payload", "emoji", "code_point_key_sort", "numbers", "empty_object", "big_integers", "proto_keys"):
            continue
        body = v["expected"]
        key = SECRET.encode("utf-8")
        guide_hex = hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()
        signed = f"{MSG_ID}.{TIMESTAMP}.{body}".encode("utf-8")
        standard = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
        signature_vectors.append({
            "name": v["name"],
            "secret": SECRET,
            "body": body,
            "guide_hex": guide_hex,
            "msg_id": MSG_ID,
            "timestamp": TIMESTAMP,
            "standard_webhooks": standard,
        })

    out = json.dumps({"canonical": canonical_vectors, "exact": exact_vectors, "signatures": signature_vectors}, ensure_ascii=False, indent=2)
    sys.stdout.buffer.write((out + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
