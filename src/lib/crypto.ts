// Web Crypto only: key hashing, random tokens, and AES-GCM encryption of signing secrets.

const encoder = new TextEncoder();

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `prefix` + base64url of `byteCount` random bytes (32 bytes = 256 bits). */
export function randomToken(prefix: string, byteCount = 32): string {
  return prefix + toBase64Url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two strings (for the admin token). */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let diff = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

const IV_BYTES = 12;

/**
 * The bindings that seal webhook secrets: SECRET_ENCRYPTION_KEY seals and opens;
 * SECRET_ENCRYPTION_KEY_PREVIOUS, set only during a key change, still opens what it sealed.
 * Each is base64 of 32 bytes (AES-256).
 */
export interface SealingEnv {
  SECRET_ENCRYPTION_KEY?: string;
  SECRET_ENCRYPTION_KEY_PREVIOUS?: string;
}

/** Format version of a sealed value: `k1:<key id>:<base64 of iv || ciphertext+tag>`. */
const SEALED_VERSION = "k1";

interface EncryptionKey {
  key: CryptoKey;
  /** First 8 hex characters of SHA-256 of the raw key bytes: names the key, reveals nothing usable. */
  id: string;
}

const keyCache = new Map<string, Promise<EncryptionKey>>();

async function importEncryptionKey(base64Key: string): Promise<EncryptionKey> {
  let raw: Uint8Array;
  try {
    raw = fromBase64(base64Key);
  } catch {
    raw = new Uint8Array(0);
  }
  if (raw.length !== 32) throw new Error("An encryption key is not base64 of 32 bytes (check SECRET_ENCRYPTION_KEY and SECRET_ENCRYPTION_KEY_PREVIOUS)");
  const [key, digest] = await Promise.all([
    crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]),
    crypto.subtle.digest("SHA-256", raw),
  ]);
  const id = [...new Uint8Array(digest, 0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { key, id };
}

/** Imports a key (base64 of 32 bytes) once per isolate. */
function encryptionKey(base64Key: string): Promise<EncryptionKey> {
  let key = keyCache.get(base64Key);
  if (!key) {
    key = importEncryptionKey(base64Key);
    key.catch(() => keyCache.delete(base64Key));
    keyCache.set(base64Key, key);
  }
  return key;
}

function currentKey(env: SealingEnv): Promise<EncryptionKey> {
  if (!env.SECRET_ENCRYPTION_KEY) return Promise.reject(new Error("SECRET_ENCRYPTION_KEY is not configured"));
  return encryptionKey(env.SECRET_ENCRYPTION_KEY);
}

/** The id a key (base64 of 32 bytes) gives the values it seals, e.g. for logs. */
export async function encryptionKeyId(base64Key: string): Promise<string> {
  return (await encryptionKey(base64Key)).id;
}

/** The key id a sealed value names; null for a value in the unversioned format (before key ids). */
export function sealedKeyId(sealed: string): string | null {
  const parts = sealed.split(":");
  return parts.length === 3 && parts[0] === SEALED_VERSION ? parts[1] : null;
}

/** AES-256-GCM under SECRET_ENCRYPTION_KEY, a fresh IV each time; the output names the key. */
export async function encryptSecret(plaintext: string, env: SealingEnv): Promise<string> {
  const { key, id } = await currentKey(env);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, encoder.encode(plaintext));
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), IV_BYTES);
  return `${SEALED_VERSION}:${id}:${toBase64(out)}`;
}

async function open(payload: string, key: CryptoKey): Promise<string> {
  const bytes = fromBase64(payload);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES) }, key, bytes.subarray(IV_BYTES));
  return new TextDecoder().decode(plain);
}

/**
 * Opens a sealed value with the key it names, SECRET_ENCRYPTION_KEY or
 * SECRET_ENCRYPTION_KEY_PREVIOUS; a value in the unversioned format (base64 alone) is tried
 * with the current key, then the previous one. Errors never carry the value or a key.
 */
export async function decryptSecret(sealed: string, env: SealingEnv): Promise<string> {
  const configured = [env.SECRET_ENCRYPTION_KEY, env.SECRET_ENCRYPTION_KEY_PREVIOUS].filter((k): k is string => !!k);
  if (configured.length === 0) throw new Error("SECRET_ENCRYPTION_KEY is not configured");
  const keys = await Promise.all(configured.map(encryptionKey));
  const named = sealedKeyId(sealed);
  const payload = named === null ? sealed : sealed.slice(SEALED_VERSION.length + named.length + 2);
  const candidates = named === null ? keys : keys.filter((k) => k.id === named);
  if (candidates.length === 0) {
    throw new Error(`Sealed under key ${named}, which is neither SECRET_ENCRYPTION_KEY nor SECRET_ENCRYPTION_KEY_PREVIOUS`);
  }
  for (const { key } of candidates) {
    try {
      return await open(payload, key);
    } catch {
      // the next candidate, if any
    }
  }
  throw new Error("The sealed value does not open with SECRET_ENCRYPTION_KEY or SECRET_ENCRYPTION_KEY_PREVIOUS");
}
