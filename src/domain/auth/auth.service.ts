import { z } from 'zod';
import type { ServiceDeps } from '../deps.js';
import { DomainError, badInput, forbidden } from '../errors.js';
import { isUniqueViolation } from '../../infra/db/tx.js';
import type { ApiKeyTier, BotScope, Viewer } from '../viewer.js';
import { hashPassword, verifyPassword } from './password.js';
import { hashToken, newToken } from './tokens.js';
import { nameArg } from '../validate.js';

const Email = z.string().trim().toLowerCase().max(254).email();

export interface AuthResult {
  token: string;
  userId: bigint;
}

/**
 * Resolved tokens are remembered this long, so most requests skip the token lookup. Revocations
 * do not wait for it: they are published (CredentialsRevoked) and every gateway drops the cached
 * entry as soon as it hears them. Until this process hears revocations (its subscription is not
 * live yet, or was lost), entries are trusted for REVOCATION_DEAF_CACHE_MS only.
 */
const TOKEN_CACHE_MS = 30_000;
const REVOCATION_DEAF_CACHE_MS = 1_000;
const TOKEN_CACHE_MAX = 50_000;

/** A partner API key's row, as the lookup reads it (raw SQL: no Prisma model for api_keys). */
interface KeyRow {
  id: bigint;
  workspaceId: bigint;
  userId: bigint;
  scopes: string[];
  tier: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export function createAuthService(deps: ServiceDeps) {
  const { prisma, ids } = deps;
  // tokenHash -> viewer (or null for unknown tokens) and until when to trust it.
  const cache = new Map<string, { viewer: Viewer | null; until: number }>();
  const lookups = new Map<string, { viewer: Promise<Viewer | null>; evictions: number }>();
  let cacheMs = REVOCATION_DEAF_CACHE_MS;
  // Counts evictions: a lookup that overlapped one may have read the row before the revocation
  // committed, so its answer is not cached.
  let evictions = 0;

  const expired = (at: Date | null) => at !== null && at.getTime() <= Date.now();

  async function lookup(tokenHash: string, partnerKey: boolean): Promise<Viewer | null> {
    if (partnerKey) {
      const [key] = await prisma.$queryRaw<KeyRow[]>`
        SELECT id, workspace_id AS "workspaceId", user_id AS "userId", scopes, tier,
               expires_at AS "expiresAt", revoked_at AS "revokedAt"
        FROM api_keys WHERE key_hash = ${tokenHash}`;
      if (!key || key.revokedAt || expired(key.expiresAt)) return null;
      return {
        kind: 'bot',
        userId: key.userId,
        workspaceId: key.workspaceId,
        scopes: new Set(key.scopes as BotScope[]),
        partner: { keyId: key.id, tier: key.tier as ApiKeyTier },
        expiresAt: key.expiresAt,
      };
    }
    const row = await prisma.token.findUnique({ where: { tokenHash } });
    if (!row || row.revokedAt || expired(row.expiresAt)) return null;
    if (row.kind === 'SESSION') return { kind: 'user', userId: row.userId, expiresAt: row.expiresAt };
    const bot = await prisma.bot.findUnique({ where: { userId: row.userId } });
    if (!bot) return null;
    return {
      kind: 'bot',
      userId: bot.userId,
      workspaceId: bot.workspaceId,
      scopes: new Set(bot.scopes as BotScope[]),
      expiresAt: row.expiresAt,
    };
  }

  /** Forgets cached answers for these token hashes in this process only. */
  function evict(tokenHashes: readonly string[]) {
    evictions++;
    for (const h of tokenHashes) {
      cache.delete(h);
      lookups.delete(h); // later requests look again instead of joining a lookup that may predate it
    }
  }

  function forgetAll() {
    evictions++;
    cache.clear();
    lookups.clear();
  }

  /**
   * After a credential was revoked (call after the revocation committed): this process forgets it
   * at once, and every other gateway as soon as it hears the published CredentialsRevoked.
   */
  function revoked(tokenHashes: readonly string[]) {
    if (!tokenHashes.length) return;
    evict(tokenHashes);
    deps.events.publish({ type: 'CredentialsRevoked', tokenHashes: [...tokenHashes] });
  }

  async function issueSessionToken(userId: bigint): Promise<string> {
    const token = newToken('chs');
    const expiresAt = new Date(Date.now() + deps.auth.sessionTtlDays * 86_400_000);
    await prisma.token.create({
      data: { id: ids.next(), userId, kind: 'SESSION', tokenHash: hashToken(token), expiresAt },
    });
    return token;
  }

  return {
    async signUp(input: { email: string; password: string; name: string }): Promise<AuthResult> {
      const email = Email.safeParse(input.email);
      if (!email.success) throw badInput('auth/bad_email', 'email is not a valid address', { field: 'email' });
      if (input.password.length < 8 || input.password.length > 256) {
        throw badInput('auth/weak_password', 'password must be 8 to 256 characters', { field: 'password' });
      }
      const name = nameArg(input.name, 'name', 80);
      const passwordHash = await hashPassword(input.password);
      const userId = ids.next();
      try {
        await prisma.user.create({ data: { id: userId, email: email.data, name, passwordHash } });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw badInput('auth/email_taken', 'an account with this email already exists', { field: 'email' });
        }
        throw err;
      }
      return { token: await issueSessionToken(userId), userId };
    },

    async logIn(input: { email: string; password: string }): Promise<AuthResult> {
      const email = input.email.trim().toLowerCase();
      const user = await prisma.user.findUnique({ where: { email } });
      // Same answer (and similar cost) for an unknown email and a wrong password.
      const ok = user?.passwordHash
        ? await verifyPassword(input.password, user.passwordHash)
        : (await hashPassword(input.password), false);
      if (!user || !ok) {
        throw new DomainError('UNAUTHENTICATED', 'auth/bad_credentials', 'email or password is incorrect');
      }
      return { token: await issueSessionToken(user.id), userId: user.id };
    },

    /** Resolves a bearer token to a viewer; null when missing, unknown, expired or revoked. */
    async authenticate(token: string): Promise<Viewer | null> {
      if (!token || token.length > 200) return null;
      const tokenHash = hashToken(token);
      const now = Date.now();
      const hit = cache.get(tokenHash);
      if (hit && hit.until > now && !(hit.viewer?.expiresAt && hit.viewer.expiresAt.getTime() <= now))
        return hit.viewer;
      // Concurrent requests with the same token (a client's burst, a herd after expiry) share one lookup.
      let pending = lookups.get(tokenHash);
      if (!pending) {
        const started = { viewer: lookup(tokenHash, token.startsWith('chp_')), evictions };
        pending = started;
        lookups.set(tokenHash, started);
        void started.viewer
          .finally(() => lookups.get(tokenHash) === started && lookups.delete(tokenHash))
          .catch(() => {});
      }
      const viewer = await pending.viewer;
      // A revocation heard while the lookup was in flight may postdate what it read: not cached.
      if (evictions !== pending.evictions) return viewer;
      if (cache.size >= TOKEN_CACHE_MAX) cache.delete(cache.keys().next().value!);
      // Trusted from when the lookup answered: a request that queued behind a herd must not store
      // an answer that is already expired (every later request would look the token up again).
      cache.set(tokenHash, { viewer, until: Date.now() + cacheMs });
      return viewer;
    },

    evict,
    revoked,

    /**
     * Whether this process hears revocations (its subscription to them is live). While deaf,
     * cached tokens are trusted for a second only.
     */
    hearingRevocations(live: boolean) {
      if (!live) forgetAll();
      cacheMs = live ? TOKEN_CACHE_MS : REVOCATION_DEAF_CACHE_MS;
    },

    /** Forgets every cached token (revocations may have been missed: a gap in the feed). */
    evictAll: () => forgetAll(),

    /** Ends a user session. A bot's token is refused: it is revoked or rotated by an admin. */
    async logOut(token: string, viewer: Viewer | null): Promise<boolean> {
      if (viewer && viewer.kind !== 'user')
        throw forbidden(
          'bot/logout',
          viewer.partner
            ? 'logOut ends user sessions; an API key is revoked with revokeApiKey by a workspace admin'
            : 'logOut ends user sessions; a bot token is replaced with rotateBotToken or revoked with revokeBotToken by a workspace admin',
        );
      const tokenHash = hashToken(token);
      const r = await prisma.token.updateMany({
        where: { tokenHash, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      revoked([tokenHash]);
      return r.count > 0;
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
