import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { describeApi, startTestApp, type TestApp } from '../helpers/app.js';

describeApi('GraphiQL: self-hosted, subscriptions authenticated from the Headers tab', () => {
  let t: TestApp;
  let html: string;

  beforeAll(async () => {
    t = await startTestApp({ GRAPHIQL: 'true' });
    const res = await fetch(t.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    html = await res.text();
  });
  afterAll(() => t.stop());

  it('loads nothing from another origin', () => {
    // Our render call replaces the package's; the package's own is made once, by our script.
    expect(html.match(/chatRenderGraphiQL\(/g)).toHaveLength(2);
    expect(html.match(/YogaGraphiQL\.renderYogaGraphiQL\(/g)).toHaveLength(1);
    // Every script and stylesheet is inline: no src= or href= pointing at a URL.
    expect(html.match(/<script[^>]*\ssrc=/g)).toBeNull();
    expect(html.match(/<link[^>]*href="(https?:)?\/\//g)).toBeNull();
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);
  });

  it("the page's connection parameters carry the active tab's Authorization, and the server accepts them", async () => {
    const script = /<script>(\s*function chatConnectionParams[\s\S]*?)<\/script>/.exec(html)?.[1];
    expect(script).toBeDefined();
    const ann = await t.user('Ann');
    // GraphiQL's tab state in localStorage, as it persists it (shouldPersistHeaders).
    const store = new Map<string, string>([
      [
        'graphiql:tabState',
        JSON.stringify({
          activeTabIndex: 1,
          tabs: [{ headers: '{}' }, { headers: JSON.stringify({ Authorization: `Bearer ${ann.token}` }) }],
        }),
      ],
    ]);
    const localStorage = {
      get length() {
        return store.size;
      },
      key: (i: number) => [...store.keys()][i] ?? null,
      getItem: (k: string) => store.get(k) ?? null,
    };
    const sandbox = { localStorage, YogaGraphiQL: { renderYogaGraphiQL: (_root: unknown, opts: unknown) => opts } };
    const opts = runInNewContext(`${script}; chatRenderGraphiQL(null, { title: 'x' })`, sandbox) as {
      connectionParams: () => Record<string, unknown>;
    };
    expect(opts.connectionParams()).toEqual({ authorization: `Bearer ${ann.token}` });

    // The official client with exactly those parameters: acknowledged, and a query runs as Ann.
    const client = createClient({
      url: t.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: opts.connectionParams,
      retryAttempts: 0,
    });
    const me = await new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe(
        { query: '{ me { id } }' },
        { next: (r) => (value = r), error: reject, complete: () => resolve(value) },
      );
    });
    expect(me).toEqual({ data: { me: { id: ann.id } } });
    await client.dispose();

    // No header in the active tab: no parameters, and the socket is refused as before (4403).
    store.set('graphiql:tabState', JSON.stringify({ activeTabIndex: 0, tabs: [{ headers: '' }] }));
    expect(opts.connectionParams()).toEqual({});
  });

  it('introspection follows GRAPHIQL unless set (GraphiQL needs it)', () => {
    const SECRET = 's'.repeat(32); // production with the fs store needs a shared file-URL secret
    expect(loadConfig({ NODE_ENV: 'production', FILE_SIGNING_SECRET: SECRET }).graphql).toMatchObject({
      graphiql: false,
      introspection: false,
    });
    expect(loadConfig({ NODE_ENV: 'production', FILE_SIGNING_SECRET: SECRET, GRAPHIQL: 'true' }).graphql).toMatchObject(
      {
        graphiql: true,
        introspection: true,
      },
    );
    expect(
      loadConfig({
        NODE_ENV: 'production',
        FILE_SIGNING_SECRET: SECRET,
        GRAPHIQL: 'true',
        GRAPHQL_INTROSPECTION: 'false',
      }).graphql.introspection,
    ).toBe(false);
  });
});
