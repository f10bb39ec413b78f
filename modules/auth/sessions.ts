import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { newId } from '../../shared/ids.ts';
import { Id } from '../../shared/http-schemas.ts';
import { refreshTokens, users } from './schema.ts';

/** What a client gets to keep a session alive: an opaque refresh token and its lifetime in seconds. */
export interface RefreshGrant {
  refreshToken: string;
  refreshExpiresIn: number;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest('base64url');

/**
 * Refresh token format: `<tenant id>.<256 random bits, base64url>`. The tenant part lets the
 * refresh endpoint open the right tenant's unit of work (row-level security) before it knows
 * anything else; only the hash of the random part is stored.
 */
export function parseRefreshToken(token: string): { tenantId: string; secret: string } | undefined {
  const [tenantId, secret, extra] = token.split('.');
  if (extra !== undefined || !tenantId || !secret || secret.length < 40 || !Id.safeParse(tenantId).success) return undefined;
  return { tenantId, secret };
}

/** Refresh-token sessions (rotation with reuse detection); every function runs in the tenant's transaction. */
export const sessions = {
  /**
   * Issues a token in `familyId` (a new family = a new login). The family id is the session id
   * that access tokens carry (`sid`), so ending the family ends those access tokens too.
   */
  async issue(tx: Transaction, tenantId: string, userId: string, ttlSeconds: number, familyId = newId()): Promise<{ grant: RefreshGrant; sessionId: string }> {
    const secret = randomBytes(32).toString('base64url');
    await tx.insert(refreshTokens).values({
      tenantId,
      id: newId(),
      userId,
      familyId,
      tokenHash: hash(secret),
      expiresAt: new Date(Date.now() + ttlSeconds * 1000),
    });
    return { grant: { refreshToken: `${tenantId}.${secret}`, refreshExpiresIn: ttlSeconds }, sessionId: familyId };
  },

  /**
   * True while the session `familyId` of `userId` is live: the user exists and is active, and
   * some token of the family is neither revoked nor expired (one indexed round trip).
   */
  async isLive(tx: Transaction, tenantId: string, userId: string, familyId: string): Promise<boolean> {
    const [row] = await tx
      .select({ id: refreshTokens.id })
      .from(refreshTokens)
      .innerJoin(users, and(eq(users.tenantId, refreshTokens.tenantId), eq(users.id, refreshTokens.userId)))
      .where(
        and(
          eq(refreshTokens.tenantId, tenantId),
          eq(refreshTokens.familyId, familyId),
          eq(refreshTokens.userId, userId),
          isNull(refreshTokens.revokedAt),
          gt(refreshTokens.expiresAt, sql`now()`),
          eq(users.active, true),
        ),
      )
      .limit(1);
    return row !== undefined;
  },

  /** The stored token for `secret`, locked for the rest of the transaction. */
  async find(tx: Transaction, tenantId: string, secret: string) {
    const [row] = await tx
      .select()
      .from(refreshTokens)
      .where(and(eq(refreshTokens.tenantId, tenantId), eq(refreshTokens.tokenHash, hash(secret))))
      .for('update');
    return row;
  },

  async markRotated(tx: Transaction, tenantId: string, id: string): Promise<void> {
    await tx.update(refreshTokens).set({ rotatedAt: sql`now()` }).where(and(eq(refreshTokens.tenantId, tenantId), eq(refreshTokens.id, id)));
  },

  async revokeFamily(tx: Transaction, tenantId: string, familyId: string): Promise<void> {
    await tx
      .update(refreshTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(refreshTokens.tenantId, tenantId), eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
  },

  /** Ends every session of a user (deactivation). */
  async revokeUser(tx: Transaction, tenantId: string, userId: string): Promise<void> {
    await tx
      .update(refreshTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(refreshTokens.tenantId, tenantId), eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)));
  },
};
