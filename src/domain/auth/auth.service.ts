import { z } from 'zod';
import type { ServiceDeps } from '../deps.js';
import { DomainError, badInput, forbidden } from '../errors.js';
import { isUniqueViolation } from '../../infra/db/tx.js';
import type { Viewer, BotScope } from '../viewer.js';
import { hashPassword, verifyPassword } from './password.js';
import { hashToken, newToken } from './tokens.js';
import { nameArg } from '../validate.js';

const Email = z.string().trim().toLowerCase().max(254).email();

export interface AuthResult {
  token: string;
  userId: bigint;
}

/**
 * Resolved tokens are remembered this long, so most requests skip the token lookup. A token
 * revoked anywhere stops working on every gateway within this time.
 */
const TOKEN_CACHE_MS = 1_000;
const TOKEN_CACHE_MAX = 50_000;

export function createAuthService(deps: ServiceDeps) {
  const { prisma, ids } = deps;
  // tokenHash -> viewer (or null for unknown tokens) and until when to trust it. A token revoked
  // through another process keeps working here for at most TOKEN_CACHE_MS (one second).
  const cache = new Map<string, { viewer: Viewer | null; until: number }>();
  const lookups = new Map<string, Promise<Viewer | null>>();

  async function lookup(tokenHash: string): Promise<Viewer | null> {
    const row = await prisma.token.findUnique({ where: { tokenHash } });
    if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return null;
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
        pending = lookup(tokenHash).finally(() => lookups.delete(tokenHash));
        lookups.set(tokenHash, pending);
      }
      const viewer = await pending;
      if (cache.size >= TOKEN_CACHE_MAX) cache.delete(cache.keys().next().value!);
      // Trusted from when the lookup answered: a request that queued behind a herd must not store
      // an answer that is already expired (every later request would look the token up again).
      cache.set(tokenHash, { viewer, until: Date.now() + TOKEN_CACHE_MS });
      return viewer;
    },

    /** Forgets cached answers for these token hashes (after a revocation, so this process sees it at once). */
    evict(tokenHashes: string[]) {
      for (const h of tokenHashes) cache.delete(h);
    },

    /** Ends a user session. A bot's token is refused: it is revoked or rotated by an admin. */
    async logOut(token: string, viewer: Viewer | null): Promise<boolean> {
      if (viewer && viewer.kind !== 'user')
        throw forbidden(
          'bot/logout',
          'logOut ends user sessions; a bot token is replaced with rotateBotToken or revoked with revokeBotToken by a workspace admin',
        );
      cache.delete(hashToken(token));
      const r = await prisma.token.updateMany({
        where: { tokenHash: hashToken(token), revokedAt: null },
        data: { revokedAt: new Date() },
      });
      return r.count > 0;
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
