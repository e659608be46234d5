import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { CSRF_HEADER } from '../../src/gateway/yoga.js';

const nested = (n: number) => `{ ${'me { '.repeat(n)}id${' }'.repeat(n)} }`;

describeApi('request limits and hardening', () => {
  let dev: TestApp;
  let prod: TestApp;
  beforeAll(async () => {
    dev = await startTestApp();
    prod = await startTestApp({ NODE_ENV: 'production', FILE_SIGNING_SECRET: 's'.repeat(32) });
  });
  afterAll(async () => {
    await dev?.stop();
    await prod?.stop();
  });

  const send = async (body: unknown, app = dev) => {
    const res = await app.anon.raw(body);
    const json = (await res.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
    return { status: res.status, json };
  };

  it('answers malformed documents with a 400 and errors, whatever the Accept header', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const res = await dev.anon.raw({ query: '{ me { id ' }, { accept });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(json.errors[0]!.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    }
    const unknownField = await send({ query: '{ me { nope } }' });
    expect(unknownField.status).toBe(400);
    const notJson = await dev.anon.raw('{"query": ');
    expect(notJson.status).toBe(400);
  });

  // How fast they are refused is a benchmark's business, not a test's (a stopwatch fails on a busy
  // machine for no defect): this checks they are refused before execution, with the limit's code.
  it('turns pathological documents into 400s before anything executes', async () => {
    const cases = {
      deepSelection: { query: nested(10_000) },
      deepList: { query: `{ users(ids: ${'['.repeat(10_000)}${']'.repeat(10_000)}) { id } }` },
      chainedFragments: {
        query: `{ me { ...F0 } } ${Array.from({ length: 2000 }, (_, i) => `fragment F${i} on User { ...F${i + 1} }`).join(' ')} fragment F2000 on User { id }`,
      },
      manyAliases: { query: `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: me { id }`).join(' ')} }` },
      manyDirectives: { query: `{ me ${'@include(if: true) '.repeat(100)} { id } }` },
      depth: { query: nested(20) },
    };
    for (const [name, body] of Object.entries(cases)) {
      const r = await send(body);
      expect(r.status, name).toBe(400);
      expect(r.json.errors?.[0]?.extensions?.code, name).toMatch(/GRAPHQL_(PARSE|VALIDATION)_FAILED/);
      expect(r.json, name).not.toHaveProperty('data'); // rejected before execution
    }
    // Deep but few tokens: the nesting scan refuses it before graphql-js's recursive parser runs;
    // the same text again is refused from the parse cache, not parsed.
    const deepFewTokens = { query: `{ users(ids: ${'['.repeat(100)}${']'.repeat(100)}) { id } }` };
    for (let i = 0; i < 2; i++) {
      const r = await send(deepFewTokens);
      expect(r.status).toBe(400);
      expect(r.json.errors?.[0]?.message).toMatch(/nesting deeper than \d+ levels/);
    }
  });

  it('refuses simple (CSRF-able) requests without the preflight header', async () => {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: 'mutation { logOut }' }));
    form.set('map', '{}');
    const res = await fetch(dev.url, { method: 'POST', body: form });
    expect(res.status).toBe(403);
    const withHeader = await fetch(dev.url, { method: 'POST', body: form, headers: { [CSRF_HEADER]: '1' } });
    expect(withHeader.status).not.toBe(403);
    const get = await fetch(`${dev.url}?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(403);
    const json = await dev.anon.raw({ query: '{ __typename }' });
    expect(json.status).toBe(200);
  });

  it('refuses oversized bodies with PAYLOAD_TOO_LARGE', async () => {
    const res = await dev.anon.raw({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } });
    expect(res.status).toBe(413);
    const json = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(json.errors[0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('counts bodies that declare no length (chunked) against the same 1 MiB limit', async () => {
    // A stream body is sent chunked, without Content-Length: the limit cannot be read off a header.
    const chunked = (text: string) =>
      fetch(dev.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([text]).stream(),
        duplex: 'half',
      } as RequestInit);
    const small = await chunked(JSON.stringify({ query: '{ __typename }' }));
    expect(small.status).toBe(200);
    expect(await small.json()).toEqual({ data: { __typename: 'Query' } });
    const big = await chunked(
      JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
    );
    expect(big.status).toBe(413);
    const json = (await big.json()) as { errors: { extensions: { code: string } }[] };
    expect(json.errors[0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('turns off introspection and field suggestions in production, keeps them in development', async () => {
    const introspect = { query: '{ __schema { queryType { name } } }' };
    expect((await send(introspect)).status).toBe(200);
    expect((await send(introspect, prod)).status).toBe(400);
    const typo = { query: '{ me { nam } }' };
    expect((await send(typo)).json.errors?.[0]?.message).toMatch(/Did you mean/);
    expect((await send(typo, prod)).json.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('serves GraphiQL in development only', async () => {
    const page = await fetch(dev.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
    const none = await fetch(prod.url, { headers: { accept: 'text/html' } });
    expect(await none.text()).not.toMatch(/graphiql/i);
  });
});
