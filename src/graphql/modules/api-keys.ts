import { builder } from '../builder.js';
import { UserRef, WorkspaceRef } from '../refs.js';
import { viewerOf } from './common.js';
import { BotScopeEnum } from './workspace.js';
import { idArg } from '../../domain/validate.js';
import { API_KEY_TIERS } from '../../domain/viewer.js';
import type { ApiKey } from '../../domain/bots/api-keys.service.js';

const ApiKeyTierEnum = builder.enumType('ApiKeyTier', {
  description: 'Rate tier of a partner API key (RATE_LIMITS subjects `partner` and `premium`)',
  values: Object.fromEntries(
    API_KEY_TIERS.map((v) => [
      v,
      {
        description:
          v === 'STANDARD'
            ? 'The partner tier (rate-limit subject `partner`)'
            : 'Higher limits (rate-limit subject `premium`)',
      },
    ]),
  ) as Record<(typeof API_KEY_TIERS)[number], { description: string }>,
});

const ApiKeyRef = builder.objectRef<ApiKey>('ApiKey').implement({
  description:
    'A partner API key of a workspace: acts as its own app user, limited to its scopes and its workspace (the secret is shown only when created)',
  fields: (t) => ({
    id: t.id({ resolve: (k) => k.id.toString(), description: 'Pass to revokeApiKey' }),
    name: t.string({ resolve: (k) => k.name, description: 'What it is for (also the name of its app user)' }),
    scopes: t.field({ type: [BotScopeEnum], resolve: (k) => k.scopes, description: 'What it may do' }),
    tier: t.field({ type: ApiKeyTierEnum, resolve: (k) => k.tier, description: 'Its rate tier' }),
    workspace: t.field({
      type: WorkspaceRef,
      description: 'The only workspace it sees',
      resolve: async (k, _a, ctx) =>
        (await ctx.services.workspaces.accessWorkspace(viewerOf(ctx), k.workspaceId)).workspace,
    }),
    user: t.field({
      type: UserRef,
      description: 'The app user it acts as (the author of what it posts)',
      resolve: async (k, _a, ctx) => (await ctx.loaders.user.load(k.userId))!,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt, description: 'When it was created' }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (k) => k.expiresAt,
      description: 'When it stops working by itself (null: never)',
    }),
    revokedAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (k) => k.revokedAt,
      description: 'When it was revoked (null: not revoked)',
    }),
    active: t.boolean({
      description: 'Neither revoked nor expired',
      resolve: (k) => !k.revokedAt && !(k.expiresAt && k.expiresAt.getTime() <= Date.now()),
    }),
  }),
});

const ApiKeyCredentials = builder.objectRef<{ key: ApiKey; secret: string }>('ApiKeyCredentials').implement({
  description: 'A new partner API key and its secret (shown once)',
  fields: (t) => ({
    key: t.field({ type: ApiKeyRef, resolve: (c) => c.key, description: 'The key' }),
    secret: t.string({
      resolve: (c) => c.secret,
      description: 'Shown once (only its SHA-256 is stored); send it as Authorization: Bearer <secret>',
    }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A partner API key to create',
  fields: (t) => ({
    workspaceId: t.id({ required: true, description: 'The workspace it is for (you must be an owner or admin)' }),
    name: t.string({ required: true, description: 'What it is for (also the name of its app user)' }),
    scopes: t.field({ type: [BotScopeEnum], required: true, description: 'What it may do (at least one)' }),
    tier: t.field({ type: ApiKeyTierEnum, description: 'Its rate tier (default STANDARD)' }),
    expiresInDays: t.int({ description: 'Days until it expires by itself (1-3650); omitted: it does not expire' }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKeyRef],
    description: "A workspace's partner API keys, newest first, without secrets (owners and admins)",
    args: { workspaceId: t.arg.id({ required: true, description: 'The workspace' }) },
    resolve: (_r, args, ctx) => ctx.services.apiKeys.apiKeys(viewerOf(ctx), idArg(args.workspaceId, 'workspaceId')),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: ApiKeyCredentials,
    description: 'Creates a partner API key for a workspace you administer; the secret is shown once',
    args: { input: t.arg({ type: CreateApiKeyInput, required: true, description: 'The key to create' }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.apiKeys.createApiKey(viewerOf(ctx), {
        workspaceId: idArg(input.workspaceId, 'workspaceId'),
        name: input.name,
        scopes: input.scopes,
        tier: input.tier,
        expiresInDays: input.expiresInDays,
      }),
  }),
  revokeApiKey: t.boolean({
    description:
      'Revokes a partner API key (owners and admins of its workspace); every gateway refuses it at once. False when already revoked',
    args: { id: t.arg.id({ required: true, description: 'ApiKey.id' }) },
    resolve: (_r, args, ctx) => ctx.services.apiKeys.revokeApiKey(viewerOf(ctx), idArg(args.id, 'id')),
  }),
}));
