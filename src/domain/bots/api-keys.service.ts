import type { ServiceDeps } from '../deps.js';
import { badInput, isDomainError, notFound } from '../errors.js';
import { withTx } from '../../infra/db/tx.js';
import { API_KEY_TIERS, requireHuman, type ApiKeyTier, type BotScope, type Viewer } from '../viewer.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { nameArg } from '../validate.js';
import { checkScopes, expiryOf } from './bots.service.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import type { AuthService } from '../auth/auth.service.js';

/** A partner API key as listed (the secret is never stored: only its SHA-256). */
export interface ApiKey {
  id: bigint;
  workspaceId: bigint;
  /** The app user the key acts as (a workspace member, like a bot user). */
  userId: bigint;
  name: string;
  scopes: BotScope[];
  tier: ApiKeyTier;
  createdById: bigint;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

// Raw SQL, like event_subscriptions: no Prisma model, so the shared generated client is unchanged.
const COLUMNS = `id, workspace_id AS "workspaceId", user_id AS "userId", name, scopes, tier,
  created_by_id AS "createdById", created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt"`;

/**
 * Partner API keys: workspace-scoped app keys with scopes and a rate tier, created, listed and
 * revoked by the workspace's owners and admins. A key acts as its own app user, a member of the
 * workspace, so it is held by the same rules as a bot token (auth.service resolves it to a bot
 * viewer marked `partner`): its workspace only, its scopes only, persisted documents only.
 */
export function createApiKeysService(
  deps: ServiceDeps,
  workspaces: WorkspacesService,
  auth: Pick<AuthService, 'revoked'>,
) {
  const { prisma, ids } = deps;

  async function load(id: bigint): Promise<(ApiKey & { keyHash: string }) | null> {
    const [row] = await prisma.$queryRawUnsafe<(ApiKey & { keyHash: string })[]>(
      `SELECT ${COLUMNS}, key_hash AS "keyHash" FROM api_keys WHERE id = $1`,
      id,
    );
    return row ?? null;
  }

  return {
    /** Creates a key (the secret is returned once) for a workspace the viewer administers. */
    async createApiKey(
      viewer: Viewer,
      input: {
        workspaceId: bigint;
        name: string;
        scopes: readonly string[];
        tier?: string | null;
        expiresInDays?: number | null;
      },
    ): Promise<{ key: ApiKey; secret: string }> {
      requireHuman(viewer, 'manage API keys');
      await workspaces.requireAdmin(viewer, input.workspaceId);
      const name = nameArg(input.name, 'name', 80);
      const scopes = checkScopes(input.scopes);
      const tier = input.tier ?? 'STANDARD';
      if (!(API_KEY_TIERS as readonly string[]).includes(tier))
        throw badInput('api_key/bad_tier', `tier must be one of ${API_KEY_TIERS.join(', ')}`, { field: 'tier' });
      const expiresAt = expiryOf(input.expiresInDays);
      const secret = newToken('chp');
      const id = ids.next();
      const userId = ids.next();
      await withTx(prisma, async (tx) => {
        await tx.user.create({ data: { id: userId, name, isBot: true } });
        await tx.workspaceMember.create({ data: { workspaceId: input.workspaceId, userId, role: 'MEMBER' } });
        await tx.$executeRaw`
          INSERT INTO api_keys (id, workspace_id, user_id, name, scopes, tier, key_hash, created_by_id, expires_at)
          VALUES (${id}, ${input.workspaceId}, ${userId}, ${name}, ${scopes}::text[], ${tier}, ${hashToken(secret)},
                  ${viewer.userId}, ${expiresAt})`;
      });
      const { keyHash: _hash, ...key } = (await load(id))!;
      return { key, secret };
    },

    /** The workspace's keys, newest first (revoked and expired ones included), without secrets. */
    async apiKeys(viewer: Viewer, workspaceId: bigint): Promise<ApiKey[]> {
      requireHuman(viewer, 'manage API keys');
      await workspaces.requireAdmin(viewer, workspaceId);
      return prisma.$queryRawUnsafe<ApiKey[]>(
        `SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY id DESC`,
        workspaceId,
      );
    },

    /**
     * Revokes a key (owners and admins of its workspace); every gateway refuses it as soon as it
     * hears the revocation. False when it was already revoked.
     */
    async revokeApiKey(viewer: Viewer, id: bigint): Promise<boolean> {
      requireHuman(viewer, 'manage API keys');
      const row = await load(id);
      if (!row) throw notFound('api_key', id);
      await workspaces.requireAdmin(viewer, row.workspaceId).catch((err: unknown) => {
        // Outsiders learn nothing about keys of workspaces they are not in.
        throw isDomainError(err) && err.code === 'NOT_FOUND' ? notFound('api_key', id) : err;
      });
      const revoked = await prisma.$executeRaw`
        UPDATE api_keys SET revoked_at = now() WHERE id = ${id} AND revoked_at IS NULL`;
      auth.revoked([row.keyHash]);
      return revoked > 0;
    },
  };
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>;
