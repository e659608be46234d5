/**
 * One guard for strings, over real HTTP and the official graphql-ws client: NUL and lone
 * surrogates in any string input (variables or inline literals) are BAD_USER_INPUT naming the
 * field, before any service runs (no row written, search does not call its backend and does not
 * answer SERVICE_UNAVAILABLE); variables nested 10,000 deep are an error for that operation, and
 * the socket stays open.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over } from '../helpers/ws.js';
import { deepJson, RawSocket } from '../helpers/raw-ws.js';
import {
  CreateWorkspaceDocument,
  SearchDocument,
  SendMessageDocument,
  SignUpDocument,
} from '../generated/gql/graphql.js';

const HOSTILE: [string, string][] = [
  ['NUL', 'a\u0000b'],
  ['a lone high surrogate', 'x\uD800y'],
  ['a lone low surrogate', '\uDC00'],
];

describeApi('the input guard, wired into HTTP and WebSocket', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let ws: ReturnType<typeof connect>;

  const counts = async () => {
    const p = t.app.db.prisma;
    return { users: await p.user.count(), workspaces: await p.workspace.count(), messages: await p.message.count() };
  };

  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
    ws = connect(t.url, w.ann.token);
  });
  afterAll(async () => {
    await ws?.dispose();
    await t?.stop();
  });

  for (const [what, bad] of HOSTILE) {
    it(`HTTP: ${what} in sendMessage, createWorkspace, signUp and search is BAD_USER_INPUT naming the field`, async () => {
      const before = await counts();
      const send = await w.ann.client.request(SendMessageDocument, { input: { channelId: w.general.id, text: bad } });
      expect(send.status).toBeLessThan(500);
      expect(send.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$input.text' });
      const nonce = await w.ann.client.request(SendMessageDocument, {
        input: { channelId: w.general.id, text: 'fine', clientNonce: bad },
      });
      expect(nonce.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$input.clientNonce' });
      const cw = await w.ann.client.request(CreateWorkspaceDocument, { name: bad });
      expect(cw.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$name' });
      const su = await t.anon.request(SignUpDocument, { email: 'x@example.com', password: 'correct horse', name: bad });
      expect(su.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$name' });
      const search = await w.ann.client.request(SearchDocument, { query: bad });
      expect(search.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$query' });
      for (const r of [send, nonce, cw, su, search]) {
        expect(r.status).toBeLessThan(500);
        expect(r.errors).toHaveLength(1);
        expect(r.data ?? null).toBeNull();
      }
      expect(await counts()).toEqual(before);
    });
  }

  it('HTTP: NUL written inline in the document names the argument', async () => {
    const res = await w.ann.client.raw({ query: 'mutation { createWorkspace(name: "a\\u0000b") { id } }' });
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    const search = await w.ann.client.raw({ query: '{ search(query: "x\\u0000") { totalCount } }' });
    const sb = (await search.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(sb.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query' });
  });

  it('HTTP: variables nested 10,000 deep (lists or objects) are BAD_USER_INPUT, not a 500', async () => {
    for (const shape of ['list', 'object'] as const) {
      const res = await w.ann.client.raw(
        `{"query":"query S($q: String!, $f: SearchFilter) { search(query: $q, filter: $f) { totalCount } }","variables":{"q":"x","f":{"channelIds":${deepJson(10_000, shape)}}}}`,
      );
      expect(res.status).toBeLessThan(500);
      const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
      expect(body.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variables' });
    }
  });

  for (const [what, bad] of HOSTILE) {
    it(`WebSocket: ${what} in sendMessage, createWorkspace, signUp and search is BAD_USER_INPUT naming the field`, async () => {
      const before = await counts();
      const refusal = async (p: Promise<unknown>) => {
        const e = await p.then(
          () => null,
          (err: unknown) => err,
        );
        expect(Array.isArray(e)).toBe(true);
        return (e as { extensions?: Record<string, unknown> }[])[0]?.extensions;
      };
      expect(
        await refusal(over(ws.client, SendMessageDocument, { input: { channelId: w.general.id, text: bad } })),
      ).toMatchObject({ code: 'BAD_USER_INPUT', field: '$input.text' });
      expect(await refusal(over(ws.client, CreateWorkspaceDocument, { name: bad }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: '$name',
      });
      expect(
        await refusal(
          over(ws.client, SignUpDocument, { email: 'y@example.com', password: 'correct horse', name: bad }),
        ),
      ).toMatchObject({ code: 'BAD_USER_INPUT', field: '$name' });
      expect(await refusal(over(ws.client, SearchDocument, { query: bad }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: '$query',
      });
      expect(await counts()).toEqual(before);
    });
  }

  it('WebSocket: a subscribe whose variables nest 10,000 deep is an error for that operation; the socket stays open', async () => {
    const raw = await RawSocket.open(t.url, w.ann.token);
    try {
      for (const shape of ['list', 'object'] as const) {
        const answer = await raw.operation(
          `deep-${shape}`,
          'subscription C($c: ID!) { channel(channelId: $c) { __typename } }',
          `{"c":${JSON.stringify(w.general.id)},"x":${deepJson(10_000, shape)}}`,
        );
        expect(answer?.type).toBe('error');
        expect((answer!.payload as { extensions: Record<string, unknown> }[])[0]!.extensions).toMatchObject({
          code: 'BAD_USER_INPUT',
          field: 'variables',
        });
      }
      // Still served on the same socket.
      const ok = await raw.operation('after', '{ me { id } }');
      expect(ok).toMatchObject({ type: 'next', payload: { data: { me: { id: w.ann.id } } } });
      expect(raw.isOpen).toBe(true);
    } finally {
      raw.close();
    }
  });
});
