import { describe, expect, it } from "vitest";
import { decryptSecret, encryptionKeyId, encryptSecret, sealedKeyId, toBase64 } from "../../src/lib/crypto";

/** A fresh AES-256 key, as `openssl rand -base64 32` gives it. */
const newKey = () => toBase64(crypto.getRandomValues(new Uint8Array(32)));

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A value in the format stored before key ids: base64(iv || ciphertext+tag), nothing else. */
async function sealUnversioned(plaintext: string, base64Key: string): Promise<string> {
  const raw = Uint8Array.from(atob(base64Key), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(plaintext)));
  const out = new Uint8Array(12 + sealed.length);
  out.set(iv);
  out.set(sealed, 12);
  return toBase64(out);
}

/** The error a failing call throws, for checks on its message. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

const SECRET = `wsk_live_${"s".repeat(43)}`;

describe("encryptSecret: versioned sealing", () => {
  it("names its key: k1:<first 8 hex of SHA-256 of the raw key>:<base64 of iv || ciphertext>", async () => {
    const key = newKey();
    const sealed = await encryptSecret(SECRET, { SECRET_ENCRYPTION_KEY: key });
    const keyId = (await sha256Hex(Uint8Array.from(atob(key), (c) => c.charCodeAt(0)))).slice(0, 8);

    expect(sealed).toMatch(new RegExp(`^k1:${keyId}:[A-Za-z0-9+/]+=*$`));
    expect(sealedKeyId(sealed)).toBe(keyId);
    expect(await encryptionKeyId(key)).toBe(keyId);
    // 12-byte IV, the secret's bytes, 16-byte tag.
    expect(atob(sealed.split(":")[2])).toHaveLength(12 + SECRET.length + 16);
    expect(sealed).not.toContain(SECRET);
    expect(await decryptSecret(sealed, { SECRET_ENCRYPTION_KEY: key })).toBe(SECRET);
  });

  it("uses a fresh IV each time", async () => {
    const env = { SECRET_ENCRYPTION_KEY: newKey() };
    const [a, b] = await Promise.all([encryptSecret(SECRET, env), encryptSecret(SECRET, env)]);
    expect(a).not.toBe(b);
    expect(await Promise.all([decryptSecret(a, env), decryptSecret(b, env)])).toEqual([SECRET, SECRET]);
  });

  it("an unversioned value has no key id", () => {
    expect(sealedKeyId("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).toBeNull();
  });

  it("refuses to seal without a key, or with a key that is not 32 bytes, without echoing the key", async () => {
    expect((await failure(encryptSecret(SECRET, {}))).message).toBe("SECRET_ENCRYPTION_KEY is not configured");
    const short = toBase64(new Uint8Array(16).fill(7));
    const error = await failure(encryptSecret(SECRET, { SECRET_ENCRYPTION_KEY: short }));
    expect(error.message).toMatch(/not base64 of 32 bytes/);
    expect(error.message).not.toContain(short);
    expect((await failure(encryptSecret(SECRET, { SECRET_ENCRYPTION_KEY: "not base64 at all!" }))).message).toMatch(/not base64 of 32 bytes/);
  });
});

describe("decryptSecret: old format and key changes", () => {
  it("opens the unversioned format with the current key", async () => {
    const key = newKey();
    expect(await decryptSecret(await sealUnversioned(SECRET, key), { SECRET_ENCRYPTION_KEY: key })).toBe(SECRET);
  });

  it("opens the unversioned format with SECRET_ENCRYPTION_KEY_PREVIOUS when the current key does not", async () => {
    const [old, current] = [newKey(), newKey()];
    const sealed = await sealUnversioned(SECRET, old);
    expect(await decryptSecret(sealed, { SECRET_ENCRYPTION_KEY: current, SECRET_ENCRYPTION_KEY_PREVIOUS: old })).toBe(SECRET);
    const error = await failure(decryptSecret(sealed, { SECRET_ENCRYPTION_KEY: current }));
    expect(error.message).toBe("The sealed value does not open with SECRET_ENCRYPTION_KEY or SECRET_ENCRYPTION_KEY_PREVIOUS");
  });

  it("opens a value sealed under SECRET_ENCRYPTION_KEY_PREVIOUS during a key change, and seals new values under the new key", async () => {
    const [old, current] = [newKey(), newKey()];
    const sealed = await encryptSecret(SECRET, { SECRET_ENCRYPTION_KEY: old });
    const changing = { SECRET_ENCRYPTION_KEY: current, SECRET_ENCRYPTION_KEY_PREVIOUS: old };

    expect(await decryptSecret(sealed, changing)).toBe(SECRET);
    const resealed = await encryptSecret(SECRET, changing);
    expect(sealedKeyId(resealed)).toBe(await encryptionKeyId(current));
    expect(await decryptSecret(resealed, { SECRET_ENCRYPTION_KEY: current })).toBe(SECRET);
  });

  it("a value naming a key that is not configured fails with that key id only", async () => {
    const [old, current] = [newKey(), newKey()];
    const sealed = await encryptSecret(SECRET, { SECRET_ENCRYPTION_KEY: old });
    const error = await failure(decryptSecret(sealed, { SECRET_ENCRYPTION_KEY: current }));
    expect(error.message).toBe(`Sealed under key ${await encryptionKeyId(old)}, which is neither SECRET_ENCRYPTION_KEY nor SECRET_ENCRYPTION_KEY_PREVIOUS`);
    for (const hidden of [old, current, SECRET, sealed.split(":")[2]]) expect(error.message).not.toContain(hidden);
  });

  it("a tampered value fails", async () => {
    const env = { SECRET_ENCRYPTION_KEY: newKey() };
    const sealed = await encryptSecret(SECRET, env);
    const bytes = Uint8Array.from(atob(sealed.split(":")[2]), (c) => c.charCodeAt(0));
    bytes[20] ^= 1;
    const tampered = `${sealed.split(":").slice(0, 2).join(":")}:${toBase64(bytes)}`;
    expect((await failure(decryptSecret(tampered, env))).message).toMatch(/does not open/);
  });

  it("fails without any key configured", async () => {
    const sealed = await encryptSecret(SECRET, { SECRET_ENCRYPTION_KEY: newKey() });
    expect((await failure(decryptSecret(sealed, {}))).message).toBe("SECRET_ENCRYPTION_KEY is not configured");
  });
});
