/**
 * Demo / benchmark data: one workspace, N users, C public channels, M messages.
 *
 *   npm run seed -- --users 1000 --channels 10 --messages 200000 [--json]
 *
 * Works on embedded PGlite (default, no DATABASE_URL) and on PostgreSQL (DATABASE_URL set).
 * Everything is written in ONE transaction through a raw SQL session with batched
 * `INSERT ... SELECT * FROM unnest($1::text[]::bigint[], ...)`, so a failed seed leaves nothing behind.
 *
 * What it writes (and why it looks the way it does):
 *  - ids come from the snowflake generator, driven by a simulated clock that walks from
 *    `spreadDays` ago to a minute ago: ids are strictly increasing, `created_at` equals the id's
 *    timestamp, history spans realistic dates, and no seeded id can collide with one the running
 *    app makes later (different worker id, and the past);
 *  - users `user<i>@example.com` / `User <i>` / handle `user<i>` (written, not picked by the
 *    insert trigger: one advisory lock per handle would fill the lock table of one big
 *    transaction), all with password `password` (ONE scrypt hash from the app's own
 *    `hashPassword`, so logIn works); user 1 is the workspace OWNER;
 *  - channels `general` and `channel-<i>` (PUBLIC, everyone a member unless `channelMembers`
 *    says otherwise, `member_count` set);
 *  - messages spread round-robin-ish over the channels, random authors, short lorem text, ~10%
 *    with a `<@userId>` mention (plus its `message_mentions` row); per-channel `seq` 1..n in id
 *    order; channels' `last_seq` / `last_message_id` updated at the end;
 *  - read cursors: by default every member has read everything (badges start at zero); with
 *    `readState: 'none'` nothing is read and `mention_count` counts each member's mentions;
 *  - session tokens for the first min(users, 64) users: `seed_<userId>_<hex>`, stored as the
 *    SHA-256 hex of the token string, so benchmarks can send `Authorization: Bearer <token>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { hashPassword } from '../src/domain/auth/password.js';
import { createDatabase, type Database, type SqlSession } from '../src/infra/db/database.js';
import { migrate } from '../src/infra/db/migrator.js';
import { createSnowflake, decodeSnowflake, type IdGenerator } from '../src/infra/ids/snowflake.js';

export interface SeedOptions {
  users: number;
  channels: number;
  messages: number;
  /** Snowflake worker id for seeded rows; default 1023 (keep it apart from the app's workers). */
  workerId?: number;
  onProgress?: (msg: string) => void;
  /** History is spread over this many days before now; default 30. */
  spreadDays?: number;
  /** Fraction of messages that mention a user; default 0.1. */
  mentionRate?: number;
  /** Session tokens are made for the first min(users, tokenUsers) users; default 64. */
  tokenUsers?: number;
  /** 'all' (default): every member has read every message; 'none': all unread. */
  readState?: 'all' | 'none';
  /** Seed for the pseudo-random choices (authors, channels, text); default 1. */
  randomSeed?: number;
  /** Rows per INSERT statement; default 5,000. */
  batchSize?: number;
  /**
   * The members of channel `c` (0 is #general) as user indexes (0-based, each once); default:
   * everyone. For large workspaces where each user is in a few of many channels.
   */
  channelMembers?: (channel: number) => readonly number[];
}

export interface SeedResult {
  workspaceId: string;
  inviteCode: string;
  /** userIds[i] is `user<i+1>@example.com`. */
  userIds: string[];
  /** channelIds[0] is #general, then channel-1, channel-2, ... */
  channelIds: string[];
  tokens: { userId: string; token: string }[];
  messageCount: number;
  mentionCount: number;
  elapsedMs: number;
}

export const SEED_PASSWORD = 'password';
export const DEFAULT_SEED_WORKER_ID = 1023;
const DEFAULT_BATCH = 5_000;

// ---------------------------------------------------------------------------------------------
// Bulk insert helpers (also used by benchmarks that need special rows, e.g. tombstones)

export interface Column {
  name: string;
  /** PostgreSQL element type, e.g. `bigint`, `text`, `timestamptz`, `"WorkspaceRole"`. */
  type: string;
  values: unknown[];
}

/**
 * `INSERT INTO "table" (cols) SELECT * FROM unnest($1::text[]::t1[], $2::text[]::t2[], ...)`.
 * Every parameter travels as a text array and is cast in SQL: node-postgres and PGlite both
 * serialize text[] the same way, while PGlite cannot serialize arrays of enum types itself.
 */
export function unnestInsertSql(table: string, columns: { name: string; type: string }[]): string {
  const names = columns.map((c) => `"${c.name}"`).join(', ');
  const params = columns
    .map((c, i) => (c.type === 'text' ? `$${i + 1}::text[]` : `$${i + 1}::text[]::${c.type}[]`))
    .join(', ');
  return `INSERT INTO "${table}" (${names}) SELECT * FROM unnest(${params})`;
}

/** Array elements as text (null stays null): bigint → decimal, Date → ISO-8601, boolean → true/false. */
function param(values: unknown[]): (string | null)[] {
  return values.map((v) => {
    if (v == null) return null;
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
      return String(v);
    throw new TypeError(`seed: cannot write ${Object.prototype.toString.call(v)} as a text parameter`);
  });
}

/** Inserts column-major rows in batches (all columns must have the same length). */
export async function insertRows(
  s: SqlSession,
  table: string,
  columns: Column[],
  batchSize: number = DEFAULT_BATCH,
): Promise<number> {
  const n = columns[0]?.values.length ?? 0;
  for (const c of columns) {
    if (c.values.length !== n)
      throw new Error(`insertRows(${table}): column ${c.name} has ${c.values.length} values, expected ${n}`);
  }
  const sql = unnestInsertSql(table, columns);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    await s.query(
      sql,
      columns.map((c) => param(c.values.slice(start, end))),
    );
  }
  return n;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Deterministic PRNG (mulberry32): reproducible seeds without a dependency. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOREM = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut ' +
  'labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris ' +
  'nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse ' +
  'cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui ' +
  'officia deserunt mollit anim id est laborum'
).split(' ');

export function loremText(random: () => number, minWords = 3, maxWords = 16): string {
  const n = minWords + Math.floor(random() * (maxWords - minWords + 1));
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(LOREM[Math.floor(random() * LOREM.length)] as string);
  const first = words[0] as string;
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return `${words.join(' ')}${random() < 0.2 ? '?' : '.'}`;
}

/** A session token in the seed's format, and the value stored in `tokens.token_hash`. */
export function makeSeedToken(userId: bigint | string): { token: string; tokenHash: string } {
  const token = `seed_${userId}_${randomBytes(16).toString('hex')}`;
  return { token, tokenHash: sha256Hex(token) };
}

// ---------------------------------------------------------------------------------------------

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

/** Seeds one demo workspace. Fails (and writes nothing) if `user1@example.com` already exists. */
export async function seed(db: Database, opts: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  checkCount('users', opts.users, 1);
  checkCount('channels', opts.channels, 1);
  checkCount('messages', opts.messages, 0);
  const progress = opts.onProgress ?? (() => {});
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  const mentionRate = opts.mentionRate ?? 0.1;
  const spreadMs = (opts.spreadDays ?? 30) * 86_400_000;
  const random = createRandom(opts.randomSeed ?? 1);

  // Simulated clock: entities are "created" spreadDays ago; messages walk towards now - 1 min.
  const startMs = Date.now() - spreadMs - 120_000;
  let clock = startMs;
  const ids: IdGenerator = createSnowflake(opts.workerId ?? DEFAULT_SEED_WORKER_ID, () => Math.floor(clock));
  const createdAt = (id: bigint) => new Date(decodeSnowflake(id).timestampMs);

  progress('hashing the shared password (scrypt)');
  const passwordHash = await hashPassword(SEED_PASSWORD);

  return db.withSession(async (s) => {
    const existing = await s.query('SELECT 1 FROM users WHERE email = $1', ['user1@example.com']);
    if (existing.length > 0) {
      throw new Error('this database is already seeded (user1@example.com exists); seed a fresh database');
    }
    await s.exec('BEGIN');
    try {
      const result = await seedInTransaction();
      await s.exec('COMMIT');
      return { ...result, elapsedMs: performance.now() - t0 };
    } catch (err) {
      await s.exec('ROLLBACK').catch(() => {});
      throw err;
    }

    async function seedInTransaction(): Promise<Omit<SeedResult, 'elapsedMs'>> {
      // Workspace
      const workspaceId = ids.next();
      const inviteCode = `demo-${randomBytes(5).toString('hex')}`;
      await s.query('INSERT INTO workspaces (id, name, invite_code, created_at) VALUES ($1, $2, $3, $4)', [
        workspaceId.toString(),
        'Demo',
        inviteCode,
        createdAt(workspaceId).toISOString(),
      ]);

      // Users and workspace members
      const userIds: bigint[] = [];
      for (let i = 0; i < opts.users; i++) userIds.push(ids.next());
      await insertRows(
        s,
        'users',
        [
          { name: 'id', type: 'bigint', values: userIds },
          { name: 'email', type: 'text', values: userIds.map((_, i) => `user${i + 1}@example.com`) },
          { name: 'name', type: 'text', values: userIds.map((_, i) => `User ${i + 1}`) },
          { name: 'handle', type: 'text', values: userIds.map((_, i) => `user${i + 1}`) },
          { name: 'password_hash', type: 'text', values: userIds.map(() => passwordHash) },
          { name: 'created_at', type: 'timestamptz', values: userIds.map(createdAt) },
        ],
        batchSize,
      );
      await insertRows(
        s,
        'workspace_members',
        [
          { name: 'workspace_id', type: 'bigint', values: userIds.map(() => workspaceId) },
          { name: 'user_id', type: 'bigint', values: userIds },
          { name: 'role', type: '"WorkspaceRole"', values: userIds.map((_, i) => (i === 0 ? 'OWNER' : 'MEMBER')) },
          { name: 'joined_at', type: 'timestamptz', values: userIds.map(createdAt) },
        ],
        batchSize,
      );
      progress(`workspace ${workspaceId} (invite code ${inviteCode}), ${userIds.length} users`);

      // Session tokens (created "now", so a TTL computed from created_at cannot expire them)
      const tokenUsers = userIds.slice(0, Math.min(userIds.length, opts.tokenUsers ?? 64));
      const tokens = tokenUsers.map((userId) => ({ userId, tokenId: ids.next(), ...makeSeedToken(userId) }));
      await insertRows(
        s,
        'tokens',
        [
          { name: 'id', type: 'bigint', values: tokens.map((t) => t.tokenId) },
          { name: 'user_id', type: 'bigint', values: tokens.map((t) => t.userId) },
          { name: 'kind', type: '"TokenKind"', values: tokens.map(() => 'SESSION') },
          { name: 'token_hash', type: 'text', values: tokens.map((t) => t.tokenHash) },
        ],
        batchSize,
      );

      // Channels and channel members
      const owner = userIds[0] as bigint;
      const channelIds: bigint[] = [];
      for (let i = 0; i < opts.channels; i++) channelIds.push(ids.next());
      const memberChannel: bigint[] = [];
      const memberUser: bigint[] = [];
      const memberCount: number[] = [];
      channelIds.forEach((c, ci) => {
        const members = opts.channelMembers ? opts.channelMembers(ci) : null;
        if (members) {
          for (const i of members) {
            const u = userIds[i];
            if (u === undefined) throw new RangeError(`channelMembers(${ci}): no user ${i}`);
            memberChannel.push(c);
            memberUser.push(u);
          }
        } else {
          for (const u of userIds) {
            memberChannel.push(c);
            memberUser.push(u);
          }
        }
        memberCount.push(members ? members.length : userIds.length);
      });
      await insertRows(
        s,
        'channels',
        [
          { name: 'id', type: 'bigint', values: channelIds },
          { name: 'workspace_id', type: 'bigint', values: channelIds.map(() => workspaceId) },
          { name: 'kind', type: '"ChannelKind"', values: channelIds.map(() => 'PUBLIC') },
          { name: 'name', type: 'text', values: channelIds.map((_, i) => (i === 0 ? 'general' : `channel-${i}`)) },
          {
            name: 'topic',
            type: 'text',
            values: channelIds.map((_, i) => (i === 0 ? 'Company-wide announcements' : '')),
          },
          { name: 'created_by_id', type: 'bigint', values: channelIds.map(() => owner) },
          { name: 'created_at', type: 'timestamptz', values: channelIds.map(createdAt) },
          { name: 'member_count', type: 'integer', values: memberCount },
        ],
        batchSize,
      );
      await insertRows(
        s,
        'channel_members',
        [
          { name: 'channel_id', type: 'bigint', values: memberChannel },
          { name: 'user_id', type: 'bigint', values: memberUser },
          { name: 'joined_at', type: 'timestamptz', values: memberChannel.map(createdAt) },
        ],
        batchSize,
      );
      progress(
        `${channelIds.length} channels, ${memberChannel.length} channel memberships, ${tokens.length} session tokens`,
      );

      // Messages, generated and sent batch by batch; the next batch is built while the previous
      // one is being inserted (pg queues the statements on the one connection, in order).
      const stepMs = opts.messages > 0 ? (spreadMs - 60_000) / opts.messages : 0;
      clock = startMs + 60_000;
      const channelSeq = new Array<number>(channelIds.length).fill(0);
      const channelLast = new Array<bigint | null>(channelIds.length).fill(null);
      const messageSql = unnestInsertSql('messages', [
        { name: 'id', type: 'bigint' },
        { name: 'channel_id', type: 'bigint' },
        { name: 'author_id', type: 'bigint' },
        { name: 'text', type: 'text' },
        { name: 'seq', type: 'bigint' },
        { name: 'listed', type: 'boolean' },
        { name: 'created_at', type: 'timestamptz' },
      ]);
      const mentionSql = unnestInsertSql('message_mentions', [
        { name: 'message_id', type: 'bigint' },
        { name: 'kind', type: '"MentionKind"' },
        { name: 'user_id', type: 'bigint' },
      ]);
      const userIdText = userIds.map(String);
      const channelIdText = channelIds.map(String);
      let inflight: Promise<unknown> | null = null;
      let mentionCount = 0;
      let reported = 0;
      const C = channelIds.length;
      for (let start = 0; start < opts.messages; start += batchSize) {
        const end = Math.min(opts.messages, start + batchSize);
        const mId: string[] = [];
        const mChannel: string[] = [];
        const mAuthor: string[] = [];
        const mText: string[] = [];
        const mSeq: string[] = [];
        const mListed: string[] = [];
        const mCreated: string[] = [];
        const nMessage: string[] = [];
        const nKind: string[] = [];
        const nUser: string[] = [];
        for (let i = start; i < end; i++) {
          clock += stepMs;
          const id = ids.next();
          // round-robin, with one message in five sent to a random channel instead
          const ch = random() < 0.2 ? Math.floor(random() * C) : i % C;
          const author = Math.floor(random() * userIds.length);
          let text = loremText(random);
          if (userIds.length > 1 && random() < mentionRate) {
            let target = Math.floor(random() * (userIds.length - 1));
            if (target >= author) target += 1; // never the author
            const targetId = userIdText[target] as string;
            text = random() < 0.5 ? `<@${targetId}> ${text}` : `${text} cc <@${targetId}>`;
            nMessage.push(id.toString());
            nKind.push('USER');
            nUser.push(targetId);
          }
          channelSeq[ch] = (channelSeq[ch] as number) + 1;
          channelLast[ch] = id;
          mId.push(id.toString());
          mChannel.push(channelIdText[ch] as string);
          mAuthor.push(userIdText[author] as string);
          mText.push(text);
          mSeq.push(String(channelSeq[ch]));
          mListed.push('true');
          mCreated.push(createdAt(id).toISOString());
        }
        if (inflight) await inflight;
        const q1 = s.query(messageSql, [mId, mChannel, mAuthor, mText, mSeq, mListed, mCreated]);
        const q2 = nMessage.length > 0 ? s.query(mentionSql, [nMessage, nKind, nUser]) : Promise.resolve([]);
        inflight = Promise.all([q1, q2]);
        mentionCount += nMessage.length;
        if (end - reported >= Math.max(opts.messages / 10, batchSize) || end === opts.messages) {
          reported = end;
          progress(`messages ${end}/${opts.messages} (${Math.round(performance.now() - t0)} ms)`);
        }
      }
      if (inflight) await inflight;

      // Channel counters and read cursors
      const lastSeq = channelSeq.map(String);
      const lastId = channelLast.map((v) => (v === null ? null : v.toString()));
      await s.query(
        `UPDATE channels c SET last_seq = v.last_seq, last_message_id = v.last_message_id
           FROM unnest($1::text[]::bigint[], $2::text[]::bigint[], $3::text[]::bigint[]) AS v(id, last_seq, last_message_id)
          WHERE c.id = v.id`,
        [channelIdText, lastSeq, lastId],
      );
      if ((opts.readState ?? 'all') === 'all') {
        await s.query(
          `UPDATE channel_members cm SET last_read_seq = c.last_seq, last_read_message_id = c.last_message_id
             FROM channels c WHERE c.id = cm.channel_id AND c.id = ANY($1::text[]::bigint[]) AND c.last_seq > 0`,
          [channelIdText],
        );
      } else if (mentionCount > 0) {
        await s.query(
          `UPDATE channel_members cm SET mention_count = x.n
             FROM (SELECT m.channel_id, mm.user_id, count(*)::int AS n
                     FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
                    WHERE m.channel_id = ANY($1::text[]::bigint[]) GROUP BY 1, 2) x
            WHERE cm.channel_id = x.channel_id AND cm.user_id = x.user_id`,
          [channelIdText],
        );
      }
      progress(`${opts.messages} messages, ${mentionCount} mentions; committing`);

      return {
        workspaceId: workspaceId.toString(),
        inviteCode,
        userIds: userIdText,
        channelIds: channelIdText,
        tokens: tokens.map((t) => ({ userId: t.userId.toString(), token: t.token })),
        messageCount: opts.messages,
        mentionCount,
      };
    }
  });
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '50' },
      channels: { type: 'string', default: '10' },
      messages: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
      unread: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: string, v: string) => {
    const n = Number(v.replaceAll('_', ''));
    if (!Number.isInteger(n)) throw new RangeError(`--${name} must be an integer, got ${v}`);
    return n;
  };
  const users = num('users', values.users);
  const channels = num('channels', values.channels);
  const messages = num('messages', values.messages);

  const config = loadConfig();
  const where =
    config.database.kind === 'postgres' ? redactUrl(config.database.url) : `PGlite at ${config.database.dataDir}`;
  const log = (msg: string) => process.stderr.write(`[seed] ${msg}\n`);
  log(`database: ${where}`);
  const db = await createDatabase(config.database);
  try {
    const m = await migrate(db);
    if (m.applied.length > 0) log(`applied migrations: ${m.applied.join(', ')}`);
    const r = await seed(db, {
      users,
      channels,
      messages,
      readState: values.unread ? 'none' : 'all',
      onProgress: log,
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    } else {
      const first = r.tokens[0];
      process.stdout.write(
        [
          `Seeded ${where} in ${(r.elapsedMs / 1000).toFixed(2)} s:`,
          `  workspace ${r.workspaceId}, invite code ${r.inviteCode}`,
          `  ${r.userIds.length} users (user1@example.com .. user${r.userIds.length}@example.com, password "${SEED_PASSWORD}"; user1 is OWNER)`,
          `  ${r.channelIds.length} channels (#general${r.channelIds.length > 1 ? `, #channel-1 .. #channel-${r.channelIds.length - 1}` : ''}), everyone a member`,
          `  ${r.messageCount} messages, ${r.mentionCount} mentions`,
          `  ${r.tokens.length} session tokens${first ? `, e.g. for user ${first.userId}: Authorization: Bearer ${first.token}` : ''}`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await db.close();
  }
  // The rows were written in bulk, around the outbox: index them now, so they are searchable.
  log('indexing the seeded messages for search');
  const app = await buildApp(
    { ...config, outbox: { ...config.outbox, worker: 'off' } },
    { log: createLogger({ logLevel: 'warn' }) },
  );
  try {
    const r = await app.services.search.reindex();
    log(`search index: ${JSON.stringify(r)}`);
  } finally {
    await app.stop();
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    const text =
      err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`[seed] failed: ${text}\n`);
    process.exitCode = 1;
  });
}
