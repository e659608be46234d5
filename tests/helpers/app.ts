import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { describe } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createTestDatabase, postgresAvailable, testDbKind } from './db.js';
import { CreateWorkspaceDocument, JoinWorkspaceDocument, SignUpDocument } from '../generated/gql/graphql.js';

export interface GqlResponse<T> {
  status: number;
  data: T | null | undefined;
  errors: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] | undefined;
}

/** An HTTP client for the API, speaking real HTTP to the test server through typed documents. */
export class Client {
  constructor(
    readonly url: string,
    readonly token: string | null = null,
  ) {}

  withToken(token: string | null) {
    return new Client(this.url, token);
  }

  async raw(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async request<R, V>(
    doc: TypedDocumentNode<R, V>,
    ...vars: V extends Record<string, never> ? [] : [V]
  ): Promise<GqlResponse<R>> {
    const res = await this.raw({ query: print(doc), variables: vars[0] ?? {} });
    const body = (await res.json()) as ExecutionResult<R>;
    return { status: res.status, data: body.data, errors: body.errors as GqlResponse<R>['errors'] };
  }

  /** Like request, but fails the test on any error and returns data. */
  async ok<R, V>(doc: TypedDocumentNode<R, V>, ...vars: V extends Record<string, never> ? [] : [V]): Promise<R> {
    const r = await this.request(doc, ...vars);
    if (r.errors?.length || !r.data) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
    return r.data;
  }

  /** Expects exactly one error and returns its extensions.code. */
  async errorCode<R, V>(
    doc: TypedDocumentNode<R, V>,
    ...vars: V extends Record<string, never> ? [] : [V]
  ): Promise<string | undefined> {
    const r = await this.request(doc, ...vars);
    if (!r.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(r.data)}`);
    return r.errors[0]!.extensions?.['code'] as string | undefined;
  }
}

export interface TestApp {
  app: App;
  url: string;
  anon: Client;
  config: Config;
  stop(): Promise<void>;
  /** Signs up a fresh user and returns a client authenticated as them. */
  user(name: string): Promise<{ id: string; token: string; client: Client; email: string }>;
}

let userSeq = 0;

export async function startTestApp(
  overrides: Record<string, string> = {},
  opts: Pick<NonNullable<Parameters<typeof buildApp>[1]>, 'testHooks'> = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const config: Config = {
    ...loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      ...overrides,
    }),
    database: db.config,
  };
  const app = await buildApp(config, opts);
  const { url } = await app.start();
  const anon = new Client(url);
  return {
    app,
    url,
    anon,
    config,
    async stop() {
      await app.stop();
      await db.drop();
    },
    async user(name: string) {
      const email = `${name.toLowerCase()}-${process.pid}-${++userSeq}@example.com`;
      const r = await anon.ok(SignUpDocument, { email, password: 'correct horse', name });
      return { id: r.signUp.user.id, token: r.signUp.token, client: anon.withToken(r.signUp.token), email };
    },
  };
}

/** The usual cast: a workspace owned by Ann with Bob as member, and Eve in a workspace of her own. */
export async function basicWorkspace(t: TestApp) {
  const ann = await t.user('Ann');
  const bob = await t.user('Bob');
  const eve = await t.user('Eve');
  const ws = (await ann.client.ok(CreateWorkspaceDocument, { name: 'Acme' })).createWorkspace;
  await bob.client.ok(JoinWorkspaceDocument, { inviteCode: ws.inviteCode });
  await eve.client.ok(CreateWorkspaceDocument, { name: 'Elsewhere' });
  const general = ws.channels.find((c) => c.name === 'general')!;
  return { ann, bob, eve, workspace: ws, general };
}

// Probed once per test file (top-level await); under REQUIRE_SERVICES=1 an unreachable server throws here.
const databaseReady = testDbKind === 'pglite' ? true : await postgresAvailable();

/**
 * describe() for suites that need a database: on the PostgreSQL project it skips when no server
 * answers (and fails under REQUIRE_SERVICES=1).
 */
export function describeApi(name: string, fn: () => void) {
  describe.skipIf(!databaseReady)(`${name} [${testDbKind}]`, fn);
}

/**
 * Marks the app's hub now; the returned function waits until `n` more stream listeners have been
 * registered since: the subscriptions opened in between are live (a message sent after this
 * reaches them). Instead of sleeping a fixed time.
 */
export function listenMark(t: TestApp) {
  const base = t.app.realtime.hub.stats().listens;
  return async (n: number) => {
    const deadline = Date.now() + 10_000;
    while (t.app.realtime.hub.stats().listens < base + n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} new stream listeners`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
}
