import type { ServiceDeps } from '../deps.js';
import { badInput, isDomainError, notFound } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import { BOT_SCOPES, requireHuman, type BotScope, type Viewer } from '../viewer.js';
import { hashToken, newToken } from '../auth/tokens.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import type { AuthService } from '../auth/auth.service.js';

const MAX_EXPIRY_DAYS = 3650;

/** When a token issued now with `expiresInDays` expires (null: never). */
export function expiryOf(expiresInDays: number | null | undefined): Date | null {
  if (expiresInDays === null || expiresInDays === undefined) return null;
  if (!Number.isInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > MAX_EXPIRY_DAYS)
    throw badInput('bot/bad_expiry', `expiresInDays must be 1 to ${MAX_EXPIRY_DAYS}`, { field: 'expiresInDays' });
  return new Date(Date.now() + expiresInDays * 86_400_000);
}

/** The scopes a bot or API key is created with: at least one, all known, each once. */
export function checkScopes(scopes: readonly string[]): BotScope[] {
  const unique = [...new Set(scopes)];
  if (unique.length === 0 || unique.some((s) => !(BOT_SCOPES as readonly string[]).includes(s)))
    throw badInput('bot/bad_scopes', 'scopes must name at least one known scope', { field: 'scopes' });
  return unique as BotScope[];
}

/**
 * A bot's tokens, managed by the owners and admins of the bot's workspace: list, rotate (a new
 * token; the others revoked), revoke one. Every gateway drops a revoked token from its cache as
 * soon as it hears the revocation (auth.service `revoked`).
 */
export function createBotsService(
  deps: ServiceDeps,
  workspaces: WorkspacesService,
  auth: Pick<AuthService, 'revoked'>,
) {
  const { prisma, ids } = deps;

  /** The bot, when the viewer administers its workspace; NOT_FOUND otherwise (hidden and absent alike). */
  async function administerBot(viewer: Viewer, botId: bigint) {
    requireHuman(viewer, 'manage bots');
    const bot = await prisma.bot.findUnique({ where: { id: botId } });
    if (!bot) throw notFound('bot', botId);
    const access = await workspaces.accessWorkspace(viewer, bot.workspaceId).catch(() => null);
    if (!access) throw notFound('bot', botId);
    await workspaces.requireAdmin(viewer, bot.workspaceId);
    return bot;
  }

  return {
    administerBot,

    /** The bot's tokens, newest first (revoked and expired ones included, marked). */
    async botTokens(viewer: Viewer, botId: bigint) {
      const bot = await administerBot(viewer, botId);
      return prisma.token.findMany({
        where: { userId: bot.userId, kind: 'BOT' },
        orderBy: { id: 'desc' },
      });
    },

    /** Issues a new token (shown once) and revokes the bot's other tokens. */
    async rotateBotToken(viewer: Viewer, botId: bigint, expiresInDays?: number | null) {
      const bot = await administerBot(viewer, botId);
      const expiresAt = expiryOf(expiresInDays);
      const token = newToken('chb');
      const previous = await prisma.token.findMany({ where: { userId: bot.userId, kind: 'BOT', revokedAt: null } });
      await withTx(prisma, async (tx) => {
        await tx.token.updateMany({
          where: { userId: bot.userId, kind: 'BOT', revokedAt: null },
          data: { revokedAt: new Date() },
        });
        await tx.token.create({
          data: { id: ids.next(), userId: bot.userId, kind: 'BOT', tokenHash: hashToken(token), expiresAt },
        });
      });
      auth.revoked(previous.map((p) => p.tokenHash));
      return { bot, token };
    },

    /** Revokes one bot token; false when it was already revoked. */
    async revokeBotToken(viewer: Viewer, tokenId: bigint): Promise<boolean> {
      const row = await prisma.token.findUnique({ where: { id: tokenId } });
      const bot = row?.kind === 'BOT' ? await prisma.bot.findUnique({ where: { userId: row.userId } }) : null;
      if (!row || !bot) throw notFound('token', tokenId);
      await administerBot(viewer, bot.id).catch((err: unknown) => {
        // Outsiders learn nothing about the bot behind the token.
        throw isDomainError(err) && err.code === 'NOT_FOUND' ? notFound('token', tokenId) : err;
      });
      const r = await prisma.token.updateMany({
        where: { id: tokenId, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      auth.revoked([row.tokenHash]);
      return r.count > 0;
    },
  };
}

export type BotsService = ReturnType<typeof createBotsService>;
