import { type SQL, sql } from "drizzle-orm";
import type { Config } from "../config";
import { type Database, database } from "../db/client";
import type { Env } from "../env";
import { decryptSecret, encryptionKeyId, encryptSecret, sealedKeyId } from "../lib/crypto";

/** Webhooks re-sealed per cron run at most: one D1 read and one write of this many rows. */
export const RESEAL_CHUNK_SIZE = 200;

interface SealedRow {
  id: string;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: number | null;
}

/** The key ids of SECRET_ENCRYPTION_KEY and SECRET_ENCRYPTION_KEY_PREVIOUS (null: none, or the same key). */
type KeyIds = { currentId: string; previousId: string | null };

export interface ResealResult {
  /** The key id of SECRET_ENCRYPTION_KEY, which every re-sealed value now names. */
  keyId: string | null;
  resealed: number;
  /** Webhooks whose values opened with neither key: left as they are, and logged by id. */
  undecryptable: string[];
}

/** The prefix of every value sealed under the key with this id (see encryptSecret). */
const sealedPrefix = (keyId: string) => `k1:${keyId}:`;

/**
 * A value this job can move to the current key: one in the unversioned format (before key
 * ids), or one naming SECRET_ENCRYPTION_KEY_PREVIOUS. Values naming an unknown key are left
 * alone: they cannot be opened, and would otherwise fill every chunk.
 */
function movable(column: SQL, previousKeyId: string | null): SQL {
  const unversioned = sql`${column} NOT GLOB 'k1:*'`;
  if (!previousKeyId) return unversioned;
  const prefix = sealedPrefix(previousKeyId);
  return sql`(${unversioned} OR substr(${column}, 1, ${prefix.length}) = ${prefix})`;
}

/**
 * A failed statement's error without its bound parameters: drizzle puts them in its message,
 * and this job's are sealed secrets. The driver's own error (the cause) says what went wrong.
 */
function withoutParameters(error: unknown): Error {
  const cause = error instanceof Error && "params" in error ? error.cause : error;
  return new Error(`Re-sealing webhook secrets failed: ${cause instanceof Error ? cause.message : String(cause)}`);
}

/** The new value of one sealed column: re-sealed under the current key if movable, else as it was. */
async function resealedValue(value: string, keys: KeyIds, secrets: Config["secrets"]): Promise<string> {
  const named = sealedKeyId(value);
  const isMovable = named === null || named === keys.previousId;
  return isMovable ? encryptSecret(await decryptSecret(value, secrets), secrets) : value;
}

/** Drizzle errors with their bound parameters dropped (see withoutParameters). */
const safely = <T>(statement: Promise<T>): Promise<T> =>
  statement.catch((error: unknown) => {
    throw withoutParameters(error);
  });

/** One chunk of webhooks with a value to move, or a previous secret whose overlap has ended. */
const loadChunk = (db: Database, keys: KeyIds, now: number) =>
  safely(
    db.all<SealedRow>(sql`SELECT id, secret_encrypted, previous_secret_encrypted, previous_secret_expires_at FROM webhooks
      WHERE ${movable(sql`secret_encrypted`, keys.previousId)}
        OR (previous_secret_encrypted IS NOT NULL AND (previous_secret_expires_at IS NULL OR previous_secret_expires_at <= ${now}
          OR ${movable(sql`previous_secret_encrypted`, keys.previousId)}))
      LIMIT ${RESEAL_CHUNK_SIZE}`),
  );

/** A row's new values; throws if a value to move opens with neither key. */
async function resealRow(row: SealedRow, keys: KeyIds, secrets: Config["secrets"], now: number) {
  const overlapOver = row.previous_secret_encrypted !== null && (row.previous_secret_expires_at ?? 0) <= now;
  const previous = row.previous_secret_encrypted === null || overlapOver ? null : await resealedValue(row.previous_secret_encrypted, keys, secrets);
  return {
    id: row.id,
    was: row.secret_encrypted,
    was_previous: row.previous_secret_encrypted,
    secret: await resealedValue(row.secret_encrypted, keys, secrets),
    previous,
    expires: previous === null ? null : row.previous_secret_expires_at,
  };
}

/** One UPDATE for the chunk, each row written only if its values are still the ones read. */
async function writeChunk(db: Database, updates: Awaited<ReturnType<typeof resealRow>>[]): Promise<number> {
  const result = await safely(
    db.run(sql`UPDATE webhooks
      SET secret_encrypted = k.value ->> 'secret', previous_secret_encrypted = k.value ->> 'previous',
        previous_secret_expires_at = k.value ->> 'expires'
      FROM json_each(${JSON.stringify(updates)}) AS k
      WHERE webhooks.id = k.value ->> 'id' AND webhooks.secret_encrypted = k.value ->> 'was'
        AND webhooks.previous_secret_encrypted IS k.value ->> 'was_previous'`),
  );
  return result.meta.changes ?? 0;
}

/**
 * Cron: moves stored webhook secrets (secret_encrypted and previous_secret_encrypted) to
 * SECRET_ENCRYPTION_KEY, RESEAL_CHUNK_SIZE webhooks per run, in one D1 read and one UPDATE
 * per chunk, so that SECRET_ENCRYPTION_KEY_PREVIOUS can be removed once no value names it.
 * A previous secret whose overlap has ended is dropped rather than re-sealed. A rotation
 * between the read and the write wins. Logs ids and counts, never a value or a key.
 */
export async function resealSecrets(env: Env, config: Config, now = Date.now()): Promise<ResealResult> {
  const secrets = config.secrets;
  if (!secrets.SECRET_ENCRYPTION_KEY) return { keyId: null, resealed: 0, undecryptable: [] };
  const currentId = await encryptionKeyId(secrets.SECRET_ENCRYPTION_KEY);
  const previousKeyId = secrets.SECRET_ENCRYPTION_KEY_PREVIOUS ? await encryptionKeyId(secrets.SECRET_ENCRYPTION_KEY_PREVIOUS) : null;
  const keys = { currentId, previousId: previousKeyId === currentId ? null : previousKeyId };
  const db = database(env.DB);

  const updates: Awaited<ReturnType<typeof resealRow>>[] = [];
  const undecryptable: string[] = [];
  for (const row of await loadChunk(db, keys, now)) {
    try {
      updates.push(await resealRow(row, keys, secrets, now));
    } catch {
      undecryptable.push(row.id);
    }
  }
  const resealed = updates.length > 0 ? await writeChunk(db, updates) : 0;
  if (resealed > 0 || undecryptable.length > 0) {
    const line = { message: "webhook secrets re-sealed", key_id: currentId, resealed, undecryptable_webhook_ids: undecryptable };
    (undecryptable.length > 0 ? console.error : console.log)(JSON.stringify(line));
  }
  return { keyId: currentId, resealed, undecryptable };
}
