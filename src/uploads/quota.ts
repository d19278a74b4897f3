import type { Db } from '../db/client';
import type { DbOrTx } from '../db/transaction';

/**
 * Each user's upload storage quota, as a counter on the user (`users.upload_bytes`): bytes of
 * stored uploads plus bytes reserved by uploads in flight. An upload reserves before its body is
 * read, in one statement that locks the user's row, so parallel uploads cannot all pass one
 * check; the reservation is the most its file may grow to, then it is settled to the real size
 * (or released if the upload fails).
 */

/**
 * Reserves up to `want` bytes, as many as the quota still has room for. Returns the bytes
 * granted: 0 when the quota is used up (nothing changed then).
 */
export async function reserveUploadBytes(db: Db, userId: string, want: number, quotaBytes: number): Promise<number> {
  const rows = await db.$queryRaw<Array<{ granted: bigint }>>`
    WITH locked AS (SELECT id, upload_bytes FROM users WHERE id = ${userId}::uuid FOR UPDATE)
    UPDATE users u SET upload_bytes = u.upload_bytes + LEAST(${want}::bigint, ${quotaBytes}::bigint - locked.upload_bytes)
    FROM locked
    WHERE u.id = locked.id AND locked.upload_bytes < ${quotaBytes}::bigint
    RETURNING LEAST(${want}::bigint, ${quotaBytes}::bigint - locked.upload_bytes) AS granted`;
  return Number(rows[0]?.granted ?? 0);
}

/** Gives back reserved bytes that were not used (all of them when the upload failed). */
export async function releaseUploadBytes(db: DbOrTx, userId: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await db.$executeRaw`UPDATE users SET upload_bytes = upload_bytes - ${bytes}::bigint WHERE id = ${userId}::uuid`;
}

/** Bytes stored or reserved now. */
export async function usedUploadBytes(db: DbOrTx, userId: string): Promise<number> {
  const user = await db.user.findUnique({ where: { id: userId }, select: { uploadBytes: true } });
  return Number(user?.uploadBytes ?? 0);
}
