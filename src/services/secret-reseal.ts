import { sql, type SQL } from "drizzle-orm";
import { database } from "../db/client";
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

/** The new value of one sealed column: re-sealed under the current key if movable, else as it was. */
async function resealed(value: string, keys: { currentId: string; previousId: string | null }, env: Env): Promise<string> {
  const named = sealedKeyId(value);
  const isMovable = named === null || named === keys.previousId;
  return isMovable ? encryptSecret(await decryptSecret(value, env), env) : value;
}

/**
 * Cron: moves stored webhook secrets (secret_encrypted and previous_secret_encrypted) to
 * SECRET_ENCRYPTION_KEY, RESEAL_CHUNK_SIZE webhooks per run, in one D1 read and one UPDATE
 * per chunk, so that SECRET_ENCRYPTION_KEY_PREVIOUS can be removed once no value names it.
 * A previous secret whose overlap has ended is dropped rather than re-sealed. Each row is
 * written only if its values are still the ones read: a rotation in between wins. Logs ids
 * and counts, never a value or a key.
 */
export async function resealSecrets(env: Env, now = Date.now()): Promise<ResealResult> {
  if (!env.SECRET_ENCRYPTION_KEY) return { keyId: null, resealed: 0, undecryptable: [] };
  const currentId = await encryptionKeyId(env.SECRET_ENCRYPTION_KEY);
  const previousKeyId = env.SECRET_ENCRYPTION_KEY_PREVIOUS ? await encryptionKeyId(env.SECRET_ENCRYPTION_KEY_PREVIOUS) : null;
  const previousId = previousKeyId === currentId ? null : previousKeyId;
  const keyIds = { currentId, previousId };
  const db = database(env.DB);
  const rows = await db.all<SealedRow>(sql`SELECT id, secret_encrypted, previous_secret_encrypted, previous_secret_expires_at FROM webhooks
    WHERE ${movable(sql`secret_encrypted`, previousId)}
      OR (previous_secret_encrypted IS NOT NULL AND (previous_secret_expires_at IS NULL OR previous_secret_expires_at <= ${now}
        OR ${movable(sql`previous_secret_encrypted`, previousId)}))
    LIMIT ${RESEAL_CHUNK_SIZE}`);

  const updates: Record<string, unknown>[] = [];
  const undecryptable: string[] = [];
  for (const row of rows) {
    const overlapOver = row.previous_secret_encrypted !== null && (row.previous_secret_expires_at ?? 0) <= now;
    try {
      const previous = row.previous_secret_encrypted === null || overlapOver ? null : await resealed(row.previous_secret_encrypted, keyIds, env);
      updates.push({
        id: row.id,
        was: row.secret_encrypted,
        was_previous: row.previous_secret_encrypted,
        secret: await resealed(row.secret_encrypted, keyIds, env),
        previous,
        expires: previous === null ? null : row.previous_secret_expires_at,
      });
    } catch {
      undecryptable.push(row.id);
    }
  }
  let written = 0;
  if (updates.length > 0) {
    const result = await db.run(sql`UPDATE webhooks
      SET secret_encrypted = k.value ->> 'secret', previous_secret_encrypted = k.value ->> 'previous',
        previous_secret_expires_at = k.value ->> 'expires'
      FROM json_each(${JSON.stringify(updates)}) AS k
      WHERE webhooks.id = k.value ->> 'id' AND webhooks.secret_encrypted = k.value ->> 'was'
        AND webhooks.previous_secret_encrypted IS k.value ->> 'was_previous'`);
    written = result.meta.changes ?? 0;
  }
  if (written > 0 || undecryptable.length > 0) {
    const line = { message: "webhook secrets re-sealed", key_id: currentId, resealed: written, undecryptable_webhook_ids: undecryptable };
    (undecryptable.length > 0 ? console.error : console.log)(JSON.stringify(line));
  }
  return { keyId: currentId, resealed: written, undecryptable };
}
