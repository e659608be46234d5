import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createHash } from 'node:crypto';
import { Client } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { clusterAvailable, startCluster, type Cluster, type GatewayProcess } from '../helpers/gateway.js';
import { eventually } from '../helpers/eventually.js';
import { MANIFEST, idOf } from '../helpers/persisted.js';
import {
  BrowseChannelsDocument,
  CreateApiKeyDocument,
  CreateBotDocument,
  CreateWorkspaceDocument,
  LogInDocument,
  LogOutDocument,
  MeDocument,
  RevokeApiKeyDocument,
  RevokeBotTokenDocument,
  BotTokensDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

const ready = await clusterAvailable();

/**
 * A credential revoked on gateway A is refused on gateway B at once, although B had it in its
 * token cache (which trusts entries for 30 s): the revocation travels the Redis ring and B drops
 * the entry. A control shows the cache is really warm: a token revoked behind the gateways' back
 * (straight in the database, no event) keeps working on B.
 */
describe.skipIf(!ready)('revocations reach every gateway', () => {
  let cluster: Cluster | undefined;
  let db: TestDatabase;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    cluster = await startCluster({ env: { PERSISTED_DOCUMENTS: MANIFEST } });
    db = cluster.db;
    [a, b] = cluster.gateways as [GatewayProcess, GatewayProcess];
  }, 120_000);
  afterAll(() => cluster?.stop());

  /** A request by a persisted document id (bots and partner keys send nothing else); its error code. */
  async function byId(gw: GatewayProcess, token: string, doc: object, variables: Record<string, unknown> = {}) {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ documentId: idOf(doc), variables }),
    });
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    return body.errors?.[0]?.extensions?.code ?? 'OK';
  }
  /** Polls B (bounded: well under the cache's 30 s) until it refuses the token; returns the last answer. */
  const refusedOnB = (token: string, doc: object, variables: Record<string, unknown> = {}) =>
    eventually(
      () => byId(b, token, doc, variables),
      (code) => code === 'UNAUTHENTICATED',
      5_000,
      50,
    );

  it('logOut, a revoked bot token and a revoked partner key are refused on the other gateway', async () => {
    const email = `ann-${process.pid}-${Date.now()}@example.com`;
    const signed = await new Client(a.url).ok(SignUpDocument, { email, password: 'correct horse', name: 'Ann' });
    const ann = new Client(a.url, signed.signUp.token);
    const ws = (await ann.ok(CreateWorkspaceDocument, { name: 'Revocations' })).createWorkspace;

    // A second session: warm on B, logged out on A.
    const session = (await new Client(a.url).ok(LogInDocument, { email, password: 'correct horse' })).logIn.token;
    expect(await byId(b, session, MeDocument)).toBe('OK');
    await new Client(a.url, session).ok(LogOutDocument);
    expect(await refusedOnB(session, MeDocument)).toBe('UNAUTHENTICATED');

    // A bot token: warm on B, revoked on A.
    const bot = (await ann.ok(CreateBotDocument, { workspaceId: ws.id, name: 'Bot', scopes: ['CHAT_WRITE'] }))
      .createBot;
    expect(await byId(b, bot.token, MeDocument)).toBe('OK');
    const [tokenRow] = (await ann.ok(BotTokensDocument, { botId: bot.bot.id })).botTokens;
    await ann.ok(RevokeBotTokenDocument, { tokenId: tokenRow!.id });
    expect(await refusedOnB(bot.token, MeDocument)).toBe('UNAUTHENTICATED');

    // A partner key: warm on B, revoked on A.
    const key = (
      await ann.ok(CreateApiKeyDocument, { input: { workspaceId: ws.id, name: 'Partner', scopes: ['CHANNELS_READ'] } })
    ).createApiKey;
    expect(await byId(b, key.secret, BrowseChannelsDocument, { workspaceId: ws.id })).toBe('OK');
    await ann.ok(RevokeApiKeyDocument, { id: key.key.id });
    expect(await refusedOnB(key.secret, BrowseChannelsDocument, { workspaceId: ws.id })).toBe('UNAUTHENTICATED');
  });

  it('control: a token revoked without the event (straight in the database) is still served from B’s warm cache', async () => {
    if (db.config.kind !== 'postgres') return;
    const email = `cat-${process.pid}-${Date.now()}@example.com`;
    const token = (await new Client(a.url).ok(SignUpDocument, { email, password: 'correct horse', name: 'Cat' })).signUp
      .token;
    expect(await byId(b, token, MeDocument)).toBe('OK');
    const sql = new pg.Client({ connectionString: db.config.url });
    await sql.connect();
    try {
      const hash = createHash('sha256').update(token).digest('hex');
      const r = await sql.query('UPDATE tokens SET revoked_at = now() WHERE token_hash = $1', [hash]);
      expect(r.rowCount).toBe(1);
    } finally {
      await sql.end();
    }
    // B answers from its cache; A (never asked before) reads the database and refuses.
    expect(await byId(b, token, MeDocument)).toBe('OK');
    expect(await byId(a, token, MeDocument)).toBe('UNAUTHENTICATED');
  });
});
