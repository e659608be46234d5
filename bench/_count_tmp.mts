import pg from 'pg';
import { buildApp } from '/work/main/src/app.ts';
import { loadConfig } from '/work/main/src/config.ts';
import { makeSeedToken } from '/work/main/bench/seed.ts';
const url = 'postgresql://postgres@127.0.0.1:5432/chat_bench_history';
const c = new pg.Client({ connectionString: url }); await c.connect();
const user = (await c.query("SELECT id::text FROM users WHERE email='user1@example.com'")).rows[0].id;
const { token, tokenHash } = makeSeedToken(user);
await c.query("INSERT INTO tokens (id, user_id, kind, token_hash) VALUES (1, $1, 'SESSION', $2) ON CONFLICT DO NOTHING", [user, tokenHash]);
const ch = (await c.query("SELECT id::text, name FROM channels ORDER BY name")).rows;
const app = await buildApp(loadConfig({ ...process.env, DATABASE_URL: url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'production' }));
const { url: g } = await app.start();
const q = `query History($channelId: ID!, $before: ID, $first: Int) { messages(channelId: $channelId, before: $before, first: $first) { edges { cursor node { id text createdAt author { id name } } } pageInfo { hasNextPage endCursor } } }`;
const stat = async () => Number((await c.query("SELECT xact_commit FROM pg_stat_database WHERE datname='chat_bench_history'")).rows[0].xact_commit);
for (const [name, body] of [['typename', { query: '{ __typename }' }], ...ch.map((x: any) => [x.name, { query: q, variables: { channelId: x.id, first: 50 } }])] as [string, unknown][]) {
  await new Promise(r => setTimeout(r, 2500)); const a = await stat();
  const N = 100;
  for (let i = 0; i < N; i++) { const r = await fetch(g, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) }); await r.text(); }
  await new Promise(r => setTimeout(r, 2500)); const b = await stat();
  console.log(name, 'transactions per request ~', ((b - a - 2) / N).toFixed(2));
}
await app.stop(); await c.end();
