import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { print } from 'graphql';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect } from '../helpers/ws.js';
import { MANIFEST, idOf } from '../helpers/persisted.js';
import {
  ApiKeysDocument,
  BrowseChannelsDocument,
  CreateApiKeyDocument,
  CreateChannelDocument,
  CreateWorkspaceDocument,
  HistoryDocument,
  LogOutDocument,
  RevokeApiKeyDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

describeApi('partner API keys end to end', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;

  /** A partner's request over HTTP: a manifest document by id (partners may not send text). */
  const asPartner = async (secret: string, doc: object, variables: Record<string, unknown> = {}) => {
    const res = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ documentId: idOf(doc), variables }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
  };
  const first = (b: Body) => b.errors?.[0];

  beforeAll(async () => {
    // Rate limits on, with a loose per-address budget, so the headers name the key's own tier.
    t = await startTestApp({
      PERSISTED_DOCUMENTS: MANIFEST,
      RATE_LIMITS_ENABLED: 'true',
      RATE_LIMITS: 'ip.read=1000000/60,ip.mutation=1000000/60,ip.signup=1000/60',
    });
    w = await basicWorkspace(t);
  }, 120_000); // app start and fixtures: slow on a loaded machine
  afterAll(() => t?.stop());

  it('an admin creates a key; the partner reads what its scopes allow in its workspace only; a revoked key is UNAUTHENTICATED', async () => {
    const created = (
      await w.ann.client.ok(CreateApiKeyDocument, {
        input: { workspaceId: w.workspace.id, name: 'Analytics', scopes: ['CHANNELS_READ'] },
      })
    ).createApiKey;
    const secret = created.secret;
    expect(secret).toMatch(/^chp_/);
    expect(created.key).toMatchObject({ name: 'Analytics', scopes: ['CHANNELS_READ'], tier: 'STANDARD', active: true });
    expect(created.key.user.isBot).toBe(true);

    // Only the SHA-256 of the secret is stored.
    const rows = await t.app.db.prisma.$queryRaw<Record<string, unknown>[]>`SELECT * FROM api_keys`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!['key_hash']).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(
      secret.slice(4),
    );

    // A persisted query over HTTP, counted against the partner tier.
    const browse = await asPartner(secret, BrowseChannelsDocument, { workspaceId: w.workspace.id });
    expect(browse.status).toBe(200);
    expect(browse.body.errors).toBeUndefined();
    const names = (browse.body.data?.['channels'] as { edges: { node: { name: string } }[] }).edges.map(
      (e) => e.node.name,
    );
    expect(names).toContain('general');
    expect(browse.headers.get('ratelimit-policy')).toBe('"partner-read";q=600;w=60');
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'for the partner' } });
    const history = await asPartner(secret, HistoryDocument, { channelId: w.general.id, first: 10 });
    expect(history.body.errors).toBeUndefined();
    expect(JSON.stringify(history.body.data)).toContain('for the partner');

    // Text is refused: partners run persisted documents only.
    const text = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query: print(BrowseChannelsDocument), variables: { workspaceId: w.workspace.id } }),
    });
    expect(text.status).toBe(403);
    expect(first((await text.json()) as Body)?.extensions?.['code']).toBe('PERSISTED_QUERY_REQUIRED');

    // A scope it lacks: FORBIDDEN, naming the scope.
    const send = await asPartner(secret, SendMessageDocument, { input: { channelId: w.general.id, text: 'no' } });
    expect(first(send.body)?.extensions?.['code']).toBe('FORBIDDEN');
    expect(first(send.body)?.extensions?.['scope']).toBe('CHAT_WRITE');
    expect(first(send.body)?.message).toBe('This API key lacks the CHAT_WRITE scope');

    // Another workspace, and a private channel of its own workspace: NOT_FOUND, like absent ones.
    const elsewhere = (await w.eve.client.ok(CreateWorkspaceDocument, { name: 'Other' })).createWorkspace;
    const foreign = await asPartner(secret, BrowseChannelsDocument, { workspaceId: elsewhere.id });
    expect(first(foreign.body)?.extensions?.['code']).toBe('NOT_FOUND');
    const foreignHistory = await asPartner(secret, HistoryDocument, { channelId: elsewhere.channels[0]!.id });
    expect(first(foreignHistory.body)?.extensions?.['code']).toBe('NOT_FOUND');
    const secretChannel = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'board', private: true })
    ).createChannel;
    const hidden = await asPartner(secret, HistoryDocument, { channelId: secretChannel.id });
    expect(first(hidden.body)?.extensions?.['code']).toBe('NOT_FOUND');

    // A key manages no keys, and its logOut is refused (it would not end anything a user owns).
    const selfMade = await asPartner(secret, CreateApiKeyDocument, {
      input: { workspaceId: w.workspace.id, name: 'More', scopes: ['CHAT_WRITE'] },
    });
    expect(first(selfMade.body)?.extensions?.['code']).toBe('FORBIDDEN');
    expect(first((await asPartner(secret, LogOutDocument)).body)?.message).toMatch(/revokeApiKey/);

    // Revoked: UNAUTHENTICATED at once (the cache was warm), and a second revoke answers false.
    expect((await w.ann.client.ok(RevokeApiKeyDocument, { id: created.key.id })).revokeApiKey).toBe(true);
    const after = await asPartner(secret, BrowseChannelsDocument, { workspaceId: w.workspace.id });
    expect(first(after.body)?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect((await w.ann.client.ok(RevokeApiKeyDocument, { id: created.key.id })).revokeApiKey).toBe(false);
    const listed = (await w.ann.client.ok(ApiKeysDocument, { workspaceId: w.workspace.id })).apiKeys;
    expect(listed.find((k) => k.id === created.key.id)).toMatchObject({ active: false });
    expect(listed.find((k) => k.id === created.key.id)?.revokedAt).not.toBeNull();
  });

  it('only owners and admins manage keys; outsiders see no workspace and no key; tiers and scopes are checked', async () => {
    const input = { workspaceId: w.workspace.id, name: 'Sync', scopes: ['CHAT_WRITE' as const] };
    expect(await w.bob.client.errorCode(CreateApiKeyDocument, { input })).toBe('FORBIDDEN');
    expect(await w.eve.client.errorCode(CreateApiKeyDocument, { input })).toBe('NOT_FOUND');
    expect(await w.bob.client.errorCode(ApiKeysDocument, { workspaceId: w.workspace.id })).toBe('FORBIDDEN');
    expect(await w.eve.client.errorCode(ApiKeysDocument, { workspaceId: w.workspace.id })).toBe('NOT_FOUND');
    expect(await w.ann.client.errorCode(CreateApiKeyDocument, { input: { ...input, scopes: [] } })).toBe(
      'BAD_USER_INPUT',
    );
    expect(await w.ann.client.errorCode(CreateApiKeyDocument, { input: { ...input, expiresInDays: 0 } })).toBe(
      'BAD_USER_INPUT',
    );

    const premium = (
      await w.ann.client.ok(CreateApiKeyDocument, { input: { ...input, scopes: ['CHANNELS_READ'], tier: 'PREMIUM' } })
    ).createApiKey;
    expect(premium.key.tier).toBe('PREMIUM');
    expect(await w.bob.client.errorCode(RevokeApiKeyDocument, { id: premium.key.id })).toBe('FORBIDDEN');
    expect(await w.eve.client.errorCode(RevokeApiKeyDocument, { id: premium.key.id })).toBe('NOT_FOUND');
    expect(await w.eve.client.errorCode(RevokeApiKeyDocument, { id: '999999999' })).toBe('NOT_FOUND');
    const browse = await asPartner(premium.secret, BrowseChannelsDocument, { workspaceId: w.workspace.id });
    expect(browse.body.errors).toBeUndefined();
    expect(browse.headers.get('ratelimit-policy')).toBe('"premium-read";q=3000;w=60');
    // The list never carries a secret.
    const listed = await w.ann.client.request(ApiKeysDocument, { workspaceId: w.workspace.id });
    expect(JSON.stringify(listed.data)).not.toContain(premium.secret);
  });

  it('extensions.cost { requested, limit } is reported to partners (HTTP and WebSocket), not to users', async () => {
    const key = (
      await w.ann.client.ok(CreateApiKeyDocument, {
        input: { workspaceId: w.workspace.id, name: 'Costs', scopes: ['CHANNELS_READ'] },
      })
    ).createApiKey.secret;
    const small = await asPartner(key, BrowseChannelsDocument, { workspaceId: w.workspace.id, first: 1 });
    const big = await asPartner(key, BrowseChannelsDocument, { workspaceId: w.workspace.id, first: 100 });
    const costOf = (b: Body) =>
      (b as { extensions?: { cost?: { requested: number; limit: number } } }).extensions?.cost;
    expect(costOf(small.body)).toMatchObject({ limit: 20_000 });
    expect(costOf(small.body)!.requested).toBeGreaterThan(0);
    // Variables do not change the estimate (first is a variable here): the same document, the same cost.
    expect(costOf(big.body)!.requested).toBe(costOf(small.body)!.requested);
    const user = await w.ann.client.raw({
      query: print(BrowseChannelsDocument),
      variables: { workspaceId: w.workspace.id },
    });
    expect(((await user.json()) as { extensions?: unknown }).extensions).toBeUndefined();

    const socket = connect(t.url, key);
    try {
      const result = await new Promise<{ extensions?: Record<string, unknown>; errors?: unknown }>(
        (resolve, reject) => {
          let last: unknown;
          socket.client.subscribe(
            {
              query: '',
              variables: { workspaceId: w.workspace.id },
              extensions: { persistedQuery: { version: 1, sha256Hash: idOf(BrowseChannelsDocument).slice(7) } },
            },
            { next: (r) => (last = r), error: reject, complete: () => resolve(last as never) },
          );
        },
      );
      expect(result.errors).toBeUndefined();
      expect(result.extensions?.['cost']).toEqual(costOf(small.body));
    } finally {
      await socket.dispose();
    }
  });
});
