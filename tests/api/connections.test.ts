/**
 * The Relay Cursor Connections rules, checked on every connection of the API by one table-driven
 * checker: each list is walked forward with first/after to its end and backward with last/before
 * to its start, over HTTP through the typed documents. The expected lists are worked out from what
 * the test created (names, ids, send order), not read back from the API under test.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  basicWorkspace,
  describeApi,
  startTestApp,
  type Client,
  type GqlResponse,
  type TestApp,
} from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import {
  ChannelMembersPageDocument,
  ChannelsPageDocument,
  CreateChannelDocument,
  JoinWorkspaceDocument,
  LeaveChannelDocument,
  MessagesPageDocument,
  SearchPageDocument,
  SendMessageDocument,
  ThreadPageDocument,
  WorkspaceMembersPageDocument,
} from '../generated/gql/graphql.js';

interface PageVars {
  first?: number;
  after?: string;
  last?: number;
  before?: string;
}

interface Conn {
  edges: { cursor: string; id: string }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor?: string | null; endCursor?: string | null };
}

interface ConnectionSpec {
  name: string;
  /** Reads one page of the list under test. */
  page: (vars: PageVars) => Promise<GqlResponse<Conn>>;
  /** Reads one page of an empty instance of the same list. */
  emptyPage: (vars: PageVars) => Promise<GqlResponse<Conn>>;
  /** The whole list in its documented order (node ids). */
  expected: () => string[];
  /** Compare as sets (the order is a ranking the test cannot predict); still no duplicates. */
  unordered?: boolean;
  /** Supports last/before (every list does). */
  backward: boolean;
  /** A cursor of another list: must be refused like garbage. */
  foreignCursor: () => string;
}

const PAGE = 3;
const byId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/** Maps a typed response to the shape the checker reads. */
function conn<R>(
  r: GqlResponse<R>,
  pick: (data: R) => { edges: { cursor: string; node: unknown }[]; pageInfo: Conn['pageInfo'] },
) {
  const picked = r.data ? pick(r.data) : null;
  return {
    ...r,
    data: picked
      ? {
          edges: picked.edges.map((e) => ({ cursor: e.cursor, id: nodeId(e.node) })),
          pageInfo: picked.pageInfo,
        }
      : null,
  } as GqlResponse<Conn>;
}
const nodeId = (node: unknown) => {
  const n = node as { id?: string; message?: { id: string } };
  return n.id ?? n.message!.id;
};

async function ok(p: Promise<GqlResponse<Conn>>): Promise<Conn> {
  const r = await p;
  if (r.errors?.length || !r.data) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.data;
}

async function codeOf(p: Promise<GqlResponse<Conn>>): Promise<unknown> {
  const r = await p;
  expect(r.errors?.length, `expected an error, got ${JSON.stringify(r.data)}`).toBe(1);
  return r.errors![0]!.extensions?.['code'];
}

/** Checks one page's own consistency: size bound and start/end cursors naming its first/last edges. */
function checkPage(p: Conn, max: number) {
  expect(p.edges.length).toBeLessThanOrEqual(max);
  expect(p.pageInfo.startCursor ?? null).toBe(p.edges[0]?.cursor ?? null);
  expect(p.pageInfo.endCursor ?? null).toBe(p.edges.at(-1)?.cursor ?? null);
  for (const e of p.edges) expect(typeof e.cursor === 'string' && e.cursor.length > 0).toBe(true);
}

describeApi('Relay connections: every list follows the spec', () => {
  let t: TestApp;
  const specs: ConnectionSpec[] = [];
  let channelsCursor = '';
  let directoryCursor = '';
  let newestSearchCursor = '';

  beforeAll(async () => {
    t = await startTestApp({ OUTBOX_POLL_MS: '50' });
    const w = await basicWorkspace(t);
    const ann = w.ann.client;
    const ws = w.workspace.id;

    // The directory: names with case-insensitive ties (ordered by id) and a spread of initials.
    const names = new Map<string, string>([
      [w.ann.id, 'ann'],
      [w.bob.id, 'bob'],
    ]);
    for (const name of ['amy', 'Amy', 'Zoe', 'carl', 'Dora', 'bob']) {
      const u = await t.user(name);
      await u.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
      names.set(u.id, name.toLowerCase());
    }
    const directory = [...names.keys()].sort((a, b) =>
      names.get(a)! < names.get(b)! ? -1 : names.get(a)! > names.get(b)! ? 1 : byId(a, b),
    );

    // Public channels by name (created out of order); a private one that browsing never shows.
    const publicChannels = new Map<string, string>([[w.general.id, 'general']]);
    const create = async (name: string) => {
      const c = (await ann.ok(CreateChannelDocument, { workspaceId: ws, name })).createChannel;
      publicChannels.set(c.id, name);
      return c;
    };
    for (const name of ['delta', 'alpha', 'echo', 'charlie', 'bravo', 'foxtrot', 'golf']) await create(name);
    await ann.ok(CreateChannelDocument, { workspaceId: ws, name: 'hidden', private: true });
    // A channel with no members (the last one left): public, so still readable. One without messages.
    const empty = await create('empty');
    await ann.ok(LeaveChannelDocument, { channelId: empty.id });
    const quiet = await create('quiet');

    // History (newest first) and a thread (oldest first).
    const room = await create('room');
    const channelOrder = [...publicChannels.keys()].sort((a, b) =>
      publicChannels.get(a)! < publicChannels.get(b)! ? -1 : 1,
    );
    const sent: string[] = [];
    for (let i = 0; i < 8; i++)
      sent.push(
        (await ann.ok(SendMessageDocument, { input: { channelId: room.id, text: `m${i} quokka` } })).sendMessage.id,
      );
    const root = sent[0]!;
    const replies: string[] = [];
    for (let i = 0; i < 7; i++)
      replies.push(
        (await ann.ok(SendMessageDocument, { input: { channelId: room.id, text: `r${i}`, threadRootId: root } }))
          .sendMessage.id,
      );
    const lonely = sent[1]!;
    const searchPage = (client: Client, query: string, sort: 'NEWEST' | 'RELEVANCE', v: PageVars) =>
      client.request(SearchPageDocument, { query, sort, ...v }).then((r) => conn(r, (d) => d.search));
    await eventually(
      () => ok(searchPage(ann, 'quokka', 'NEWEST', { first: 100 })),
      (p) => p.edges.length === sent.length,
    );

    const someChannels = await ok(
      ann.request(ChannelsPageDocument, { workspaceId: ws, first: 1 }).then((r) => conn(r, (d) => d.channels)),
    );
    channelsCursor = someChannels.edges[0]!.cursor;
    const dirFirst = await ok(
      ann
        .request(WorkspaceMembersPageDocument, { workspaceId: ws, first: 1 })
        .then((r) => conn(r, (d) => d.workspaceMembers)),
    );
    directoryCursor = dirFirst.edges[0]!.cursor;
    newestSearchCursor = (await ok(searchPage(ann, 'quokka', 'NEWEST', { first: 1 }))).edges[0]!.cursor;

    const bob = w.bob.client;
    specs.push(
      {
        name: 'channels (public channels by name)',
        page: (v) =>
          bob.request(ChannelsPageDocument, { workspaceId: ws, ...v }).then((r) => conn(r, (d) => d.channels)),
        emptyPage: (v) =>
          bob
            .request(ChannelsPageDocument, { workspaceId: ws, query: 'zzz', ...v })
            .then((r) => conn(r, (d) => d.channels)),
        expected: () => channelOrder,
        backward: true,
        foreignCursor: () => directoryCursor,
      },
      {
        name: 'channelMembers (by user id)',
        page: (v) =>
          bob
            .request(ChannelMembersPageDocument, { channelId: w.general.id, ...v })
            .then((r) => conn(r, (d) => d.channelMembers)),
        emptyPage: (v) =>
          bob
            .request(ChannelMembersPageDocument, { channelId: empty.id, ...v })
            .then((r) => conn(r, (d) => d.channelMembers)),
        expected: () => [...names.keys()].sort(byId),
        backward: true,
        foreignCursor: () => channelsCursor,
      },
      {
        name: 'workspaceMembers (the directory, by name then id)',
        page: (v) =>
          bob
            .request(WorkspaceMembersPageDocument, { workspaceId: ws, ...v })
            .then((r) => conn(r, (d) => d.workspaceMembers)),
        emptyPage: (v) =>
          bob
            .request(WorkspaceMembersPageDocument, { workspaceId: ws, query: 'zzz', ...v })
            .then((r) => conn(r, (d) => d.workspaceMembers)),
        expected: () => directory,
        backward: true,
        foreignCursor: () => channelsCursor,
      },
      {
        name: 'messages (history, newest first)',
        page: (v) =>
          bob.request(MessagesPageDocument, { channelId: room.id, ...v }).then((r) => conn(r, (d) => d.messages)),
        emptyPage: (v) =>
          bob.request(MessagesPageDocument, { channelId: quiet.id, ...v }).then((r) => conn(r, (d) => d.messages)),
        expected: () => [...sent].reverse(),
        backward: true,
        foreignCursor: () => channelsCursor,
      },
      {
        name: 'thread (replies, oldest first)',
        page: (v) => bob.request(ThreadPageDocument, { rootId: root, ...v }).then((r) => conn(r, (d) => d.thread)),
        emptyPage: (v) =>
          bob.request(ThreadPageDocument, { rootId: lonely, ...v }).then((r) => conn(r, (d) => d.thread)),
        expected: () => replies,
        backward: true,
        foreignCursor: () => channelsCursor,
      },
      {
        name: 'search (sort NEWEST)',
        page: (v) => searchPage(bob, 'quokka', 'NEWEST', v),
        emptyPage: (v) => searchPage(bob, 'wombat', 'NEWEST', v),
        expected: () => [...sent].reverse(),
        backward: true,
        foreignCursor: () => channelsCursor,
      },
      {
        name: 'search (sort RELEVANCE)',
        page: (v) => searchPage(bob, 'quokka', 'RELEVANCE', v),
        emptyPage: (v) => searchPage(bob, 'wombat', 'RELEVANCE', v),
        expected: () => [...sent].reverse(),
        unordered: true,
        backward: true,
        // The NEWEST cursors of the same search: another sort is another list.
        foreignCursor: () => newestSearchCursor,
      },
    );
  }, 120_000);
  afterAll(() => t?.stop());

  const expectList = (spec: ConnectionSpec, ids: string[]) => {
    expect(new Set(ids).size, 'no duplicates').toBe(ids.length);
    if (spec.unordered) expect([...ids].sort(byId)).toEqual([...spec.expected()].sort(byId));
    else expect(ids).toEqual(spec.expected());
  };

  it('has the lists it checks (the table is not empty)', () => {
    expect(specs.map((s) => s.name)).toHaveLength(7);
    for (const s of specs) expect(s.expected().length).toBeGreaterThan(PAGE);
  });

  /** Walks the whole list forward with first/after, checking every page; returns the ids in order. */
  const walkForward = async (spec: ConnectionSpec) => {
    const ids: string[] = [];
    let after: string | undefined;
    for (let n = 0; ; n++) {
      expect(n, `${spec.name}: too many pages`).toBeLessThan(20);
      const p = await ok(spec.page({ first: PAGE, after }));
      checkPage(p, PAGE);
      if (n === 0) expect(p.pageInfo.hasPreviousPage, `${spec.name}: first page`).toBe(false);
      else expect(p.pageInfo.hasPreviousPage, `${spec.name}: a page after a cursor`).toBe(true);
      ids.push(...p.edges.map((e) => e.id));
      if (!p.pageInfo.hasNextPage) break;
      expect(p.edges.length, `${spec.name}: a page before the end is full`).toBe(PAGE);
      after = p.pageInfo.endCursor!;
    }
    return ids;
  };

  /** Walks the whole list backward with last/before, checking every page; returns the ids in order. */
  const walkBackward = async (spec: ConnectionSpec) => {
    const ids: string[] = [];
    let before: string | undefined;
    for (let n = 0; ; n++) {
      expect(n, `${spec.name}: too many pages`).toBeLessThan(20);
      const p = await ok(spec.page({ last: PAGE, before }));
      checkPage(p, PAGE);
      if (n === 0) expect(p.pageInfo.hasNextPage, `${spec.name}: last page`).toBe(false);
      else expect(p.pageInfo.hasNextPage, `${spec.name}: a page before a cursor`).toBe(true);
      ids.unshift(...p.edges.map((e) => e.id));
      if (!p.pageInfo.hasPreviousPage) break;
      expect(p.edges.length, `${spec.name}: a page after the start is full`).toBe(PAGE);
      before = p.pageInfo.startCursor!;
    }
    return ids;
  };

  it('first/after walks forward to the end: the whole list in order, flags per spec', async () => {
    for (const spec of specs) expectList(spec, await walkForward(spec));
  });

  it('last/before walks backward to the start: the whole list in order, flags per spec', async () => {
    for (const spec of specs.filter((s) => s.backward)) {
      const backward = await walkBackward(spec);
      expectList(spec, backward);
      // One order both ways, also where the test cannot predict it (a ranking).
      expect(backward, `${spec.name}: the backward walk is the forward walk`).toEqual(await walkForward(spec));
    }
  });

  it('a cursor resumes exactly after (or before) its own edge, from any edge of a page', async () => {
    for (const spec of specs) {
      // A ranking's order is the one its forward walk shows (checked as a set above).
      const list = spec.unordered ? await walkForward(spec) : spec.expected();
      const whole = await ok(spec.page({ first: 100 }));
      expect(whole.edges.map((e) => e.id)).toEqual(list);
      expect(whole.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
      for (const i of [0, 1, list.length - 2]) {
        const cursor = whole.edges[i]!.cursor;
        const next = await ok(spec.page({ first: PAGE, after: cursor }));
        expect(
          next.edges.map((e) => e.id),
          `${spec.name}: after edge ${i}`,
        ).toEqual(list.slice(i + 1, i + 1 + PAGE));
        expect(next.pageInfo.hasNextPage).toBe(i + 1 + PAGE < list.length);
        if (!spec.backward) continue;
        const prev = await ok(spec.page({ last: PAGE, before: cursor }));
        expect(
          prev.edges.map((e) => e.id),
          `${spec.name}: before edge ${i}`,
        ).toEqual(list.slice(Math.max(0, i - PAGE), i));
        expect(prev.pageInfo.hasPreviousPage).toBe(i - PAGE > 0);
      }
      // A page's own end and start cursors resume exactly at its neighbours.
      const first = await ok(spec.page({ first: PAGE }));
      const second = await ok(spec.page({ first: PAGE, after: first.pageInfo.endCursor! }));
      expect(second.edges[0]!.id).toBe(list[PAGE]);
      if (spec.backward) {
        const back = await ok(spec.page({ last: PAGE, before: second.pageInfo.startCursor! }));
        expect(back.edges.map((e) => e.id)).toEqual(first.edges.map((e) => e.id));
        expect(back.edges.map((e) => e.cursor)).toEqual(first.edges.map((e) => e.cursor));
      }
    }
  });

  it('an empty list has no edges, null cursors and false flags', async () => {
    for (const spec of specs) {
      const ends = spec.backward ? [{ first: PAGE }, { last: PAGE }] : [{ first: PAGE }];
      for (const v of ends) {
        const p = await ok(spec.emptyPage(v));
        expect(p, `${spec.name} ${JSON.stringify(v)}`).toEqual({
          edges: [],
          pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
        });
      }
    }
  });

  it('refuses bad cursors, first with last, and pages over 100 with BAD_USER_INPUT', async () => {
    for (const spec of specs) {
      const bad: PageVars[] = [
        { first: PAGE, after: 'garbage!' },
        { first: PAGE, after: 'eyJub3QiOiJhIGN1cnNvciJ9' },
        { first: PAGE, after: spec.foreignCursor() },
        { first: 101 },
        { first: 0 },
      ];
      if (spec.backward)
        bad.push(
          { last: PAGE, before: 'garbage!' },
          { last: PAGE, before: spec.foreignCursor() },
          { first: PAGE, last: PAGE },
          { last: 101 },
        );
      for (const v of bad)
        expect(await codeOf(spec.page(v)), `${spec.name} ${JSON.stringify(v)}`).toBe('BAD_USER_INPUT');
    }
  });
});
