import type { ServiceDeps } from '../deps.js';
import { badInput, notFound } from '../errors.js';
import { requireHuman, type Viewer } from '../viewer.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { nameArg } from '../validate.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { MessagesService } from '../messages/messages.service.js';

export interface IncomingWebhook {
  id: bigint;
  workspaceId: bigint;
  channelId: bigint;
  botUserId: bigint;
  name: string;
  createdAt: Date;
  revokedAt: Date | null;
}

const MAX_KEY = 200;

// The table has no Prisma model yet (raw SQL keeps this change out of the shared schema file).
const COLUMNS = `id, workspace_id AS "workspaceId", channel_id AS "channelId", bot_user_id AS "botUserId", name,
  created_at AS "createdAt", revoked_at AS "revokedAt"`;

/**
 * Incoming webhooks (a Slack-compatible subset): a secret URL that posts into one channel as the
 * hook's own bot. Created and revoked by workspace owners and admins who are channel members;
 * the secret is shown once (only its SHA-256 is kept). A retried POST with the same
 * Idempotency-Key returns the first message (the bot's clientNonce).
 */
export function createIncomingWebhooksService(
  deps: ServiceDeps,
  workspaces: WorkspacesService,
  channels: ChannelsService,
  messages: MessagesService,
) {
  const { prisma, ids } = deps;

  return {
    async createIncomingWebhook(viewer: Viewer, channelId: bigint, nameInput: string) {
      requireHuman(viewer, 'create webhooks');
      const name = nameArg(nameInput, 'name', 80);
      const { channel } = await channels.accessMembership(viewer, channelId);
      if (channel.kind === 'DIRECT')
        throw badInput('webhook/direct', 'webhooks post into channels, not direct messages');
      // The hook's own bot: CHAT_WRITE only, a member of this channel. It needs no token.
      const { bot, token } = await workspaces.createBot(viewer, channel.workspaceId, name, ['CHAT_WRITE']);
      await prisma.token.updateMany({ where: { tokenHash: hashToken(token) }, data: { revokedAt: new Date() } });
      await channels.inviteToChannel(viewer, channelId, [bot.userId]);
      const secret = newToken('chb').replace(/^chb_/, 'wh_');
      const id = ids.next();
      await prisma.$executeRaw`
        INSERT INTO incoming_webhooks (id, workspace_id, channel_id, bot_user_id, name, secret_hash, created_by_id)
        VALUES (${id}, ${channel.workspaceId}, ${channelId}, ${bot.userId}, ${name}, ${hashToken(secret)}, ${viewer.userId})`;
      const hook: IncomingWebhook = {
        id,
        workspaceId: channel.workspaceId,
        channelId,
        botUserId: bot.userId,
        name,
        createdAt: new Date(),
        revokedAt: null,
      };
      return { hook, path: `/hooks/${secret}` };
    },

    /** Revokes a hook (admins of its workspace); its URL answers 404 from then on. */
    async revokeIncomingWebhook(viewer: Viewer, id: bigint): Promise<boolean> {
      requireHuman(viewer, 'revoke webhooks');
      const [hook] = await prisma.$queryRawUnsafe<IncomingWebhook[]>(
        `SELECT ${COLUMNS} FROM incoming_webhooks WHERE id = $1`,
        id,
      );
      if (!hook) throw notFound('webhook', id);
      await workspaces.accessWorkspace(viewer, hook.workspaceId).catch(() => {
        throw notFound('webhook', id);
      });
      await workspaces.requireAdmin(viewer, hook.workspaceId);
      const n =
        await prisma.$executeRaw`UPDATE incoming_webhooks SET revoked_at = now() WHERE id = ${id} AND revoked_at IS NULL`;
      return n > 0;
    },

    /** The live hook a secret names (null: unknown or revoked). */
    async hookBySecret(secret: string): Promise<IncomingWebhook | null> {
      if (!secret.startsWith('wh_') || secret.length > 100) return null;
      const [hook] = await prisma.$queryRawUnsafe<IncomingWebhook[]>(
        `SELECT ${COLUMNS} FROM incoming_webhooks WHERE secret_hash = $1 AND revoked_at IS NULL`,
        hashToken(secret),
      );
      return hook ?? null;
    },

    /** Posts `text` as the hook's bot; the same idempotency key returns the first message. */
    async postToHook(hook: IncomingWebhook, text: unknown, idempotencyKey: string | null) {
      if (typeof text !== 'string' || !text.trim())
        throw badInput('webhook/no_text', 'the JSON body needs a non-empty "text" string', { field: 'text' });
      if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_KEY))
        throw badInput('webhook/bad_key', `Idempotency-Key must be 1 to ${MAX_KEY} characters`);
      const viewer: Viewer = {
        kind: 'bot',
        userId: hook.botUserId,
        workspaceId: hook.workspaceId,
        scopes: new Set(['CHAT_WRITE']),
      };
      return messages.send(viewer, {
        channelId: hook.channelId,
        text,
        clientNonce: idempotencyKey === null ? null : `hook:${hashToken(idempotencyKey)}`,
      });
    },
  };
}

export type IncomingWebhooksService = ReturnType<typeof createIncomingWebhooksService>;
