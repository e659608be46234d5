import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';
import { connect, over } from '../helpers/ws.js';
import {
  BootstrapDocument,
  CreateChannelDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  HistoryDocument,
  InviteToChannelDocument,
  JoinChannelDocument,
  JoinWorkspaceDocument,
  LogInDocument,
  OpenDirectMessageDocument,
  LeaveChannelDocument,
  SendMessageDocument,
  SetPresenceDocument,
  SignUpDocument,
  WorkspaceMembersDocument,
  type WorkspaceMembersQuery,
} from '../generated/gql/graphql.js';

/** The first screen of a channel, as a client asks for it (no viewer-dependent fields). */
/** 10,000 on the embedded database; the same code path with 2,000 on PostgreSQL keeps CI short. */
const HERD = Number(process.env.READ_PATH_HERD ?? (testDbKind === 'pglite' ? 10_000 : 2_000));

const PAGE_QUERY = `query Page($channelId: ID!) {
  messages(channelId: $channelId, first: 10) {
    edges { node { id text author { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface PageBody {
  data?: { messages: { edges: { node: { id: string; text: string; author: { id: string } } }[] } };
  errors?: { extensions?: { code?: string } }[];
}

/** SQL of these kinds of statement (Prisma quotes tables as "public"."users"; raw SQL does not). */
const isUsersRead = (sql: string) => /FROM ("public"\.)?"?users\b/.test(sql);
const isPageRead = (sql: string) => /FROM messages/.test(sql);
const isTokenRead = (sql: string) => /FROM "public"\."tokens"/.test(sql);
const isAccessRead = (sql: string) => /FROM channels c|FROM unnest\(.*JOIN channels/s.test(sql);

describeApi('read path: coalescing across requests and the channel cache', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;

  /** One request through the app's own handler (no socket: 10,000 of them at once stay cheap). */
  const inProcess = async (token: string, query: string, variables: Record<string, unknown>) => {
    const res = await t.app.handler.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as PageBody;
  };
  const forgetProfiles = (...ids: string[]) => ids.forEach((id) => t.app.services.users.forgetProfile(BigInt(id)));

  beforeAll(async () => {
    // No outbox polling: every statement counted below is caused by the reads under test.
    t = await startTestApp({ OUTBOX_WORKER: 'off' });
    w = await basicWorkspace(t);
  });
  afterAll(() => t?.stop());

  it(`${HERD} concurrent identical newest-page requests cost at most 3 statements`, { timeout: 120_000 }, async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'herd' }))
      .createChannel.id;
    await w.bob.client.ok(JoinChannelDocument, { channelId: ch });
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) {
      const who = i % 2 ? w.bob : w.ann;
      sent.push((await who.client.ok(SendMessageDocument, { input: { channelId: ch, text: `h${i}` } })).sendMessage.id);
    }
    forgetProfiles(w.ann.id, w.bob.id);
    // A fresh session, resolved (and cached) before the herd.
    const token = (await t.anon.ok(LogInDocument, { email: w.bob.email, password: 'correct horse' })).logIn.token;
    await inProcess(token, '{ __typename }', {});
    const { result, count, sql } = await t.app.db.statements.during(() =>
      Promise.all(Array.from({ length: HERD }, () => inProcess(token, PAGE_QUERY, { channelId: ch }))),
    );
    expect(sql.filter(isPageRead)).toHaveLength(1);
    expect(sql.filter(isAccessRead)).toHaveLength(1);
    expect(sql.filter(isUsersRead)).toHaveLength(1);
    // The token cache is the auth layer's, not the read path's, and short (1 s, so a revocation
    // reaches every gateway soon): a herd that lasts several seconds revalidates the token about
    // once a second, one shared lookup for all requests each time, never one per request.
    const tokenReads = sql.filter(isTokenRead);
    expect(tokenReads.length).toBeLessThan(HERD / 20);
    expect(sql.filter((s) => !isPageRead(s) && !isAccessRead(s) && !isUsersRead(s) && !isTokenRead(s))).toEqual([]);
    expect(count - tokenReads.length).toBeLessThanOrEqual(3);
    const first = JSON.stringify(result[0]);
    expect(result[0]!.data!.messages.edges.map((e) => e.node.id)).toEqual([...sent].reverse());
    expect(result.every((r) => JSON.stringify(r) === first)).toBe(true);

    // Warm: the page and the access pass come from the channel's cache (profiles may have aged out).
    const again = await t.app.db.statements.during(() => inProcess(token, PAGE_QUERY, { channelId: ch }));
    expect(again.result).toEqual(result[0]);
    expect(again.sql.filter((s) => isPageRead(s) || isAccessRead(s))).toEqual([]);
  });

  it("a herd of different people opening one channel costs one access statement: the channel's member set", async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'crowd' }))
      .createChannel.id;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'welcome' } });
    const people: Awaited<ReturnType<TestApp['user']>>[] = [];
    for (let i = 0; i < 12; i++) {
      const u = await t.user(`P${i}`);
      await u.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
      await u.client.ok(JoinChannelDocument, { channelId: ch });
      await inProcess(u.token, '{ __typename }', {});
      people.push(u);
    }
    // One after another, so no two checks could share a batch: only the member set can answer them all.
    const { result, sql } = await t.app.db.statements.during(async () => {
      const pages = [];
      for (const u of people) pages.push(await inProcess(u.token, PAGE_QUERY, { channelId: ch }));
      return pages;
    });
    expect(result.every((r) => r.data?.messages.edges[0]?.node.text === 'welcome')).toBe(true);
    expect(sql.filter(isAccessRead)).toHaveLength(1);

    // Someone who joins later is known from the join event; someone who leaves is refused at once,
    // warm cache or not; a workspace member who never joined reads the public channel (asked of the
    // database); a stranger never does.
    const late = await t.user('Late');
    await late.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    await late.client.ok(JoinChannelDocument, { channelId: ch });
    const joined = await t.app.db.statements.during(() => inProcess(late.token, PAGE_QUERY, { channelId: ch }));
    expect(joined.result.data?.messages.edges).toHaveLength(1);
    expect(joined.sql.filter(isAccessRead)).toEqual([]);
    const outsider = await t.user('Outsider');
    await outsider.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    expect((await inProcess(outsider.token, PAGE_QUERY, { channelId: ch })).data?.messages.edges).toHaveLength(1);
    expect((await inProcess(w.eve.token, PAGE_QUERY, { channelId: ch })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
  });

  it("200 distinct channels' newest pages cost one batched profile read", async () => {
    const authors = [w.ann, w.bob, await t.user('Cy'), await t.user('Di')];
    // 200 public channels of one message each, written straight to the tables (600 mutations
    // would dominate this file's run time; sending is covered elsewhere). Author i % 4.
    const base = 9_000_000_000;
    await t.app.db.withSession(async (s) => {
      await s.query(
        `INSERT INTO channels (id, workspace_id, kind, name, created_by_id, last_seq, member_count)
         SELECT $1::bigint + i, $2::bigint, 'PUBLIC'::"ChannelKind", 'wide-' || i, $3::bigint, 1, 0
         FROM generate_series(0, 199) i`,
        [String(base), w.workspace.id, w.ann.id],
      );
      await s.query(
        `INSERT INTO messages (id, channel_id, author_id, text, seq, listed)
         SELECT $1::bigint + 500000 + i, $1::bigint + i, ($2::bigint[])[1 + i % 4], 'w' || i, 1, true
         FROM generate_series(0, 199) i`,
        [String(base), `{${authors.map((a) => a.id).join(',')}}`],
      );
    });
    const channels = Array.from({ length: 200 }, (_, i) => String(base + i));
    forgetProfiles(...authors.map((a) => a.id));
    await inProcess(w.bob.token, '{ __typename }', {});

    const { result, sql } = await t.app.db.statements.during(() =>
      Promise.all(channels.map((channelId) => inProcess(w.bob.token, PAGE_QUERY, { channelId }))),
    );
    expect(sql.filter(isUsersRead)).toHaveLength(1);
    result.forEach((r, i) => {
      expect(r.data!.messages.edges.map((e) => e.node.text)).toEqual([`w${i}`]);
      expect(r.data!.messages.edges[0]!.node.author.id).toBe(authors[i % authors.length]!.id);
    });
  });

  it('never serves a cached page to someone who may not read it: leaving a private channel is NOT_FOUND at once', async () => {
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'secret', private: true })
    ).createChannel.id;
    await w.ann.client.ok(InviteToChannelDocument, { channelId: secret, userIds: [w.bob.id] });
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: secret, text: 'for members' } });
    // Warm for Bob: his access and the page are cached.
    expect((await inProcess(w.bob.token, PAGE_QUERY, { channelId: secret })).data).toBeTruthy();
    const warm = await t.app.db.statements.during(() => inProcess(w.bob.token, PAGE_QUERY, { channelId: secret }));
    expect(warm.sql.filter(isPageRead)).toEqual([]);
    // Eve (another workspace) never sees it, warm cache or not.
    expect((await inProcess(w.eve.token, PAGE_QUERY, { channelId: secret })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    await w.bob.client.ok(LeaveChannelDocument, { channelId: secret });
    expect((await inProcess(w.bob.token, PAGE_QUERY, { channelId: secret })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    expect((await inProcess(w.ann.token, PAGE_QUERY, { channelId: secret })).data).toBeTruthy();
  });

  it('the cached newest page follows every write: send, edit, delete, thread reply', async () => {
    const ch = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'follows' }))
      .createChannel.id;
    await w.bob.client.ok(JoinChannelDocument, { channelId: ch });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: `f${i}` } })).sendMessage.id,
      );
    /** The page from the cache path (no cursor) and from the database (a cursor is never cached). */
    const both = async () => {
      const cached = (await w.bob.client.ok(HistoryDocument, { channelId: ch, first: 20 })).messages;
      const fromDb = (await w.bob.client.ok(HistoryDocument, { channelId: ch, first: 20, before: '1' })).messages;
      expect(cached.edges).toEqual(fromDb.edges);
      return cached.edges.map((e) => `${e.node.text}|${e.node.replyCount}`);
    };
    expect(await both()).toEqual(['f2|0', 'f1|0', 'f0|0']);
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'f3' } });
    expect(await both()).toEqual(['f3|0', 'f2|0', 'f1|0', 'f0|0']);
    await w.ann.client.ok(EditMessageDocument, { id: ids[1]!, text: 'f1 edited' });
    expect(await both()).toEqual(['f3|0', 'f2|0', 'f1 edited|0', 'f0|0']);
    await w.ann.client.ok(DeleteMessageDocument, { id: ids[2]! });
    expect(await both()).toEqual(['f3|0', 'f1 edited|0', 'f0|0']);
    await w.bob.client.ok(SendMessageDocument, { input: { channelId: ch, text: 'reply', threadRootId: ids[0]! } });
    expect(await both()).toEqual(['f3|0', 'f1 edited|0', 'f0|1']);
    const stats = t.app.services.channels.cache.stats();
    expect(stats.hits).toBeGreaterThan(0);
  });
});

describeApi('workspace directory', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;

  beforeAll(async () => {
    t = await startTestApp({ OUTBOX_WORKER: 'off' });
    w = await basicWorkspace(t);
    for (const [i, name] of ['Zoe Quinn', 'anna Smith', 'Bo_b', 'Smithers'].entries()) {
      const email = `dir-${process.pid}-${i}@example.com`;
      const { token } = (await t.anon.ok(SignUpDocument, { email, password: 'correct horse', name })).signUp;
      await t.anon.withToken(token).ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    }
  });
  afterAll(() => t?.stop());

  it('pages the members by name with opaque cursors, and finds them by a prefix of the name or a word', async () => {
    const all: string[] = [];
    let after: string | null | undefined = undefined;
    for (let i = 0; i < 10; i++) {
      const page: WorkspaceMembersQuery['workspaceMembers'] = (
        await w.bob.client.ok(WorkspaceMembersDocument, { workspaceId: w.workspace.id, first: 2, after })
      ).workspaceMembers;
      all.push(...page.edges.map((e) => e.node.name));
      expect(page.pageInfo.hasPreviousPage).toBe(after !== undefined);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(all).toEqual(['Ann', 'anna Smith', 'Bo_b', 'Bob', 'Smithers', 'Zoe Quinn']);
    const find = async (query: string) =>
      (
        await w.bob.client.ok(WorkspaceMembersDocument, { workspaceId: w.workspace.id, query })
      ).workspaceMembers.edges.map((e) => e.node.name);
    expect(await find('smi')).toEqual(['anna Smith', 'Smithers']);
    expect(await find('AN')).toEqual(['Ann', 'anna Smith']);
    expect(await find('qu')).toEqual(['Zoe Quinn']);
    expect(await find('bo_')).toEqual(['Bo_b']); // _ is a character, not a wildcard
    expect(await find('%')).toEqual([]);
  });

  it('is NOT_FOUND outside the workspace and refuses bad cursors and sizes', async () => {
    expect(await w.eve.client.errorCode(WorkspaceMembersDocument, { workspaceId: w.workspace.id })).toBe('NOT_FOUND');
    expect(await w.bob.client.errorCode(WorkspaceMembersDocument, { workspaceId: w.workspace.id, after: 'nope' })).toBe(
      'BAD_USER_INPUT',
    );
    expect(await w.bob.client.errorCode(WorkspaceMembersDocument, { workspaceId: w.workspace.id, first: 0 })).toBe(
      'BAD_USER_INPUT',
    );
  });
});

describeApi('bootstrap working set', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ OUTBOX_WORKER: 'off' });
  });
  afterAll(() => t?.stop());

  it('costs the same few statements for 1 channel or 30: no per-channel reads, the memberships read once', async () => {
    const w = await basicWorkspace(t);
    const cy = await t.user('Cy');
    await cy.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    for (const userIds of [[w.ann.id], [w.ann.id, cy.id]]) {
      const dm = (await w.bob.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds }))
        .openDirectMessage.id;
      await w.ann.client.ok(SendMessageDocument, { input: { channelId: dm, text: 'hi' } });
    }
    /** Bob's bootstrap, its session already resolved and the people's profiles not cached. */
    const counted = async () => {
      await w.bob.client.ok(BootstrapDocument);
      for (const id of [w.ann.id, w.bob.id, cy.id]) t.app.services.users.forgetProfile(BigInt(id));
      const { result, count, sql } = await t.app.db.statements.during(() => w.bob.client.ok(BootstrapDocument));
      return { boot: result.bootstrap, count, sql };
    };
    const few = await counted();
    expect(few.boot.channels).toHaveLength(1);
    expect(few.boot.directMessages).toHaveLength(2);

    const created: string[] = [];
    for (let i = 0; i < 30; i++) {
      created.push(
        (await w.bob.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: `many-${i}` })).createChannel
          .id,
      );
    }
    // Unread state comes from the same read: Ann writes twice in one of them, mentioning Bob once.
    await w.ann.client.ok(JoinChannelDocument, { channelId: created[7]! });
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: created[7]!, text: 'one' } });
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: created[7]!, text: `two <@${w.bob.id}>` } });
    const many = await counted();
    expect(many.boot.channels).toHaveLength(31);
    const busy = many.boot.channels.find((c) => c.id === created[7]);
    expect([busy?.unreadCount, busy?.mentionCount, busy?.isMember]).toEqual([2, 1, true]);
    expect(many.boot.workspaces[0]!.myRole).toBe('MEMBER');

    expect(many.count).toBe(few.count);
    // me, the workspaces (memberships and workspaces), the channels (memberships and channels),
    // the DMs' last messages, the people.
    expect(many.count).toBeLessThanOrEqual(7);
    const reads = (table: string) => many.sql.filter((q) => new RegExp(`FROM "public"\\."${table}"`).test(q)).length;
    expect(reads('channel_members')).toBe(1);
    expect(reads('workspace_members')).toBe(1);
  });

  it('names the people of your DMs once each and previews each DM by its last message', async () => {
    const w = await basicWorkspace(t);
    const cy = await t.user('Cy');
    await cy.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    const dm = (await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.bob.id] }))
      .openDirectMessage.id;
    const group = (
      await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.bob.id, cy.id] })
    ).openDirectMessage.id;
    await w.bob.client.ok(SendMessageDocument, { input: { channelId: dm, text: 'first' } });
    const last = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: dm, text: 'latest' } })).sendMessage
      .id;
    const bobSocket = connect(t.url, w.bob.token);
    await over(bobSocket.client, SetPresenceDocument, { status: 'DND' });
    const b = (await w.ann.client.ok(BootstrapDocument)).bootstrap;
    expect(b.people.map((p) => p.name).sort()).toEqual(['Ann', 'Bob', 'Cy']);
    // Their presence too, person by person: Bob set DND, Cy has never connected.
    expect(b.presence.map((p) => p.userId)).toEqual(b.people.map((p) => p.id));
    const status = new Map(b.presence.map((p) => [p.userId, p.status]));
    expect(status.get(w.bob.id)).toBe('DND');
    expect(status.get(cy.id)).toBe('OFFLINE');
    await bobSocket.dispose();
    const byId = new Map(b.directMessages.map((c) => [c.id, c]));
    expect(byId.get(dm)!.lastMessage).toEqual({ id: last, text: 'latest' });
    expect(byId.get(group)!.lastMessage).toBeNull();
    // Eve has no DM: her working set names nobody.
    expect((await w.eve.client.ok(BootstrapDocument)).bootstrap.people).toEqual([]);
    expect((await w.eve.client.ok(BootstrapDocument)).bootstrap.presence).toEqual([]);
  });
});
