/**
 * Search end to end, over HTTP through the typed documents: messages are sent through the API,
 * indexed by the inline outbox worker (OUTBOX_POLL_MS=50 here) and found with Query.search. Tests
 * wait for indexing by polling with a deadline, never by sleeping a fixed time.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type Client, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import {
  CreateChannelDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  InviteToChannelDocument,
  JoinChannelDocument,
  JoinWorkspaceDocument,
  LeaveChannelDocument,
  OpenDirectMessageDocument,
  SearchCountDocument,
  SearchDocument,
  SearchPageDocument,
  SendMessageDocument,
  type SearchFilter,
  type SearchPageQuery,
  type SearchQueryVariables,
} from '../generated/gql/graphql.js';

describeApi('search', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;

  beforeAll(async () => {
    t = await startTestApp({ OUTBOX_POLL_MS: '50' });
    w = await basicWorkspace(t);
  });
  afterAll(() => t?.stop());

  const send = (client: Client, channelId: string, text: string, extra: Record<string, unknown> = {}) =>
    client.ok(SendMessageDocument, { input: { channelId, text, ...extra } }).then((r) => r.sendMessage);
  const search = async (client: Client, query: string, vars: Partial<SearchQueryVariables> = {}) =>
    (await client.ok(SearchDocument, { query, first: 50, ...vars })).search;
  const texts = async (client: Client, query: string, vars: Partial<SearchQueryVariables> = {}) =>
    (await search(client, query, { sort: 'NEWEST', ...vars })).edges.map((e) => e.node.message.text);
  const count = async (client: Client, query: string, filter?: SearchFilter) =>
    (await client.ok(SearchCountDocument, { query, filter })).search.totalCount;
  /** Waits until `query` has `n` results for `client` (the inline worker indexes asynchronously). */
  const indexed = (client: Client, query: string, n: number) =>
    eventually(
      () => count(client, query),
      (c) => c === n,
    ).then((c) => expect(c).toBe(n));
  const errorOf = async (client: Client, vars: SearchQueryVariables) => {
    const r = await client.request(SearchDocument, vars);
    expect(r.errors?.length).toBe(1);
    return r.errors![0]!;
  };

  // How soon a message is searchable is measured by bench:search (lag from the send's ack), not
  // here: a stopwatch in a test fails on a busy machine for no defect.
  it('finds a new message, by word, prefix, stem and phrase, with a highlighted snippet', async () => {
    const m = await send(
      w.ann.client,
      w.general.id,
      'The quarterly deployment of the Zephyr service is <done> & dusted',
    );
    const found = await eventually(
      () => search(w.bob.client, 'zephyr'),
      (s) => s.edges.length === 1,
      5_000,
      10,
    );
    expect(found.edges.map((e) => e.node.message.id)).toEqual([m.id]);

    const node = found.edges[0]!.node;
    expect(node.channel).toMatchObject({ id: w.general.id, name: 'general', private: false });
    expect(node.message.author).toEqual({ id: w.ann.id, name: 'Ann' });
    expect(node.threadRootId).toBeNull();
    expect(node.snippet).toBe(
      'The quarterly deployment of the <mark>Zephyr</mark> service is &lt;done&gt; &amp; dusted',
    );
    expect(node.snippetParts).toContainEqual({ text: 'Zephyr', highlighted: true });
    expect(node.snippetParts.map((p) => p.text).join('')).toBe(m.text);

    expect(await texts(w.bob.client, 'zeph')).toEqual([m.text]); // prefix of a word
    expect(await texts(w.bob.client, 'deploying')).toEqual([m.text]); // stemmed
    expect(await texts(w.bob.client, 'QUARTERLY zephyr')).toEqual([m.text]);
    expect(await texts(w.bob.client, '"zephyr service"')).toEqual([m.text]);
    expect(await texts(w.bob.client, '"service zephyr"')).toEqual([]);
    expect(await texts(w.bob.client, 'zephyr -dusted')).toEqual([]);
    expect(await texts(w.bob.client, 'zephyr unicorn')).toEqual([]);
  });

  it('filters by person, channel, mention, date, link, file and thread: as modifiers and as typed filters', async () => {
    const ops = (await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'ops' }))
      .createChannel;
    await w.bob.client.ok(JoinChannelDocument, { channelId: ops.id });
    const file = await t.app.db.prisma.file.create({
      data: {
        id: BigInt(Date.now()) << 22n,
        workspaceId: BigInt(w.workspace.id),
        channelId: BigInt(w.general.id),
        uploaderId: BigInt(w.ann.id),
        name: 'plan.pdf',
        mimeType: 'application/pdf',
        size: 10n,
        storageKey: 'test/plan.pdf',
        status: 'READY',
      },
    });
    const alpha = await send(w.ann.client, w.general.id, 'heliotrope alpha, see https://example.com/x');
    const beta = await send(w.bob.client, ops.id, `heliotrope beta for <@${w.ann.id}>`);
    const gamma = await send(w.ann.client, ops.id, 'heliotrope gamma');
    const delta = await send(w.bob.client, ops.id, 'heliotrope delta', { threadRootId: gamma.id });
    const epsilon = await send(w.ann.client, w.general.id, 'heliotrope epsilon', { fileIds: [file.id.toString()] });
    const dm = (await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.bob.id] }))
      .openDirectMessage;
    const zeta = await send(w.ann.client, dm.id, 'heliotrope zeta in private');
    await indexed(w.ann.client, 'heliotrope', 6);

    const ids = async (client: Client, query: string, filter?: SearchFilter) =>
      (await search(client, query, { sort: 'NEWEST', filter })).edges.map((e) => e.node.message.id);
    const ann = w.ann.client;
    expect(await ids(ann, 'heliotrope from:@bob')).toEqual([delta.id, beta.id]);
    expect(await ids(ann, 'heliotrope from:@BOB')).toEqual([delta.id, beta.id]);
    expect(await ids(ann, `heliotrope from:${w.bob.email}`)).toEqual([delta.id, beta.id]);
    expect(await ids(ann, `heliotrope from:<@${w.bob.id}>`)).toEqual([delta.id, beta.id]);
    expect(await ids(ann, 'heliotrope from:me')).toEqual([zeta.id, epsilon.id, gamma.id, alpha.id]);
    expect(await ids(ann, 'heliotrope -from:me')).toEqual([delta.id, beta.id]);
    expect(await ids(ann, 'heliotrope from:@nobody')).toEqual([]);
    expect(await ids(ann, 'heliotrope in:#ops')).toEqual([delta.id, gamma.id, beta.id]);
    expect(await ids(ann, 'heliotrope in:#OPS in:#general')).toEqual([
      epsilon.id,
      delta.id,
      gamma.id,
      beta.id,
      alpha.id,
    ]);
    expect(await ids(ann, 'heliotrope -in:#ops')).toEqual([zeta.id, epsilon.id, alpha.id]);
    expect(await ids(ann, 'heliotrope in:@bob')).toEqual([zeta.id]);
    expect(await ids(ann, 'heliotrope in:#nowhere')).toEqual([]);
    expect(await ids(ann, 'heliotrope mentions:@ann')).toEqual([beta.id]);
    expect(await ids(ann, 'heliotrope mentions:me')).toEqual([beta.id]);
    expect(await ids(ann, 'heliotrope has:link')).toEqual([alpha.id]);
    expect(await ids(ann, 'heliotrope has:file')).toEqual([epsilon.id]);
    expect(await ids(ann, 'heliotrope is:thread')).toEqual([delta.id, gamma.id]);
    expect(await ids(ann, 'heliotrope -is:thread has:file')).toEqual([epsilon.id]);
    const reply = (await search(ann, 'heliotrope delta')).edges[0]!.node;
    expect(reply.threadRootId).toBe(gamma.id);
    expect(reply.message.threadRootId).toBe(gamma.id);

    // Dates are UTC days: before: excludes the day, after: starts the day after, on: is the day.
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(await ids(ann, `heliotrope from:@bob before:${tomorrow}`)).toEqual([delta.id, beta.id]);
    expect(await ids(ann, `heliotrope from:@bob on:${today}`)).toEqual([delta.id, beta.id]);
    expect(await ids(ann, `heliotrope after:${today}`)).toEqual([]);
    expect(await ids(ann, 'heliotrope before:2020-01-01')).toEqual([]);

    // The same through typed filters, also combined with modifiers (AND).
    expect(await ids(ann, 'heliotrope', { channelIds: [ops.id], fromUserIds: [w.bob.id] })).toEqual([
      delta.id,
      beta.id,
    ]);
    expect(await ids(ann, 'heliotrope', { mentionsUserIds: [w.ann.id] })).toEqual([beta.id]);
    expect(await ids(ann, 'heliotrope', { hasFile: true })).toEqual([epsilon.id]);
    expect(await ids(ann, 'heliotrope', { hasLink: true })).toEqual([alpha.id]);
    expect(await ids(ann, 'heliotrope', { isThread: true, fromUserIds: [w.bob.id] })).toEqual([delta.id]);
    expect(await ids(ann, 'heliotrope', { workspaceId: w.workspace.id, channelIds: [dm.id] })).toEqual([zeta.id]);
    expect(await ids(ann, 'heliotrope', { after: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(
      await ids(ann, 'heliotrope', { before: new Date(Date.now() + 60_000).toISOString(), fromUserIds: [w.bob.id] }),
    ).toEqual([delta.id, beta.id]);
    expect(await ids(ann, 'heliotrope in:#ops', { hasFile: true })).toEqual([]);
    expect(await ids(ann, 'heliotrope has:file', { hasFile: false })).toEqual([]);
    // A filter alone (empty query) is a search too.
    expect(await ids(ann, '', { hasFile: true })).toEqual([epsilon.id]);
    expect(await ids(ann, 'from:@bob in:#ops is:thread')).toEqual([delta.id]);
  });

  it('never shows a private message to a non-member: not by query, filter, highlight or count', async () => {
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'secret-ops', private: true })
    ).createChannel;
    const carl = await t.user('Carl');
    await carl.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    const dm = (await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [carl.id] }))
      .openDirectMessage;
    await send(w.ann.client, secret.id, 'obsidian launch codes for the private plan');
    await send(w.ann.client, dm.id, 'obsidian whisper between ann and carl');
    const pub = await send(w.ann.client, w.general.id, 'obsidian public note');
    await indexed(w.ann.client, 'obsidian', 3);
    await indexed(carl.client, 'obsidian', 2);

    for (const outsider of [w.bob, w.eve]) {
      const visible = outsider === w.bob ? [pub.id] : [];
      const idsOf = async (query: string, filter?: SearchFilter) =>
        (await search(outsider.client, query, { filter })).edges.map((e) => e.node.message.id);
      expect(await idsOf('obsidian')).toEqual(visible);
      expect(await count(outsider.client, 'obsidian')).toBe(visible.length);
      for (const q of [
        'codes',
        'launc',
        '"launch codes"',
        'whisper',
        'obsidian in:#secret-ops',
        'in:#secret-ops',
        'obsidian from:@ann -in:#general',
        'obsidian in:@carl',
      ]) {
        expect(await idsOf(q)).toEqual([]);
        expect(await count(outsider.client, q)).toBe(0);
      }
      // Asking for the channel by id looks exactly like asking for one that does not exist.
      const hidden = await outsider.client.request(SearchDocument, {
        query: 'obsidian',
        filter: { channelIds: [secret.id] },
      });
      const missing = await outsider.client.request(SearchDocument, {
        query: 'obsidian',
        filter: { channelIds: ['123456789012'] },
      });
      expect(hidden).toEqual(missing);
      expect(await count(outsider.client, 'obsidian', { channelIds: [secret.id, dm.id] })).toBe(0);
      // Paging backward (from the end of the list) reads the same readable list, in both sorts.
      for (const sort of ['NEWEST', 'RELEVANCE'] as const) {
        const back = (await outsider.client.ok(SearchPageDocument, { query: 'obsidian', sort, last: 100 })).search;
        expect(back.edges.map((e) => e.node.message.id)).toEqual(visible);
      }
      // Nothing of the private text anywhere in any response body (snippets included).
      for (const q of ['obsidian', 'obsidian codes', 'plan', 'private', 'from:@ann']) {
        const body = await (
          await outsider.client.raw({
            query: `query { search(query: ${JSON.stringify(q)}, first: 100) { totalCount edges { node { snippet message { text } } } } }`,
          })
        ).text();
        expect(body).not.toMatch(/codes|whisper/);
      }
    }

    // Access is decided at query time: joining shows the history, leaving hides it again.
    await w.ann.client.ok(InviteToChannelDocument, { channelId: secret.id, userIds: [w.bob.id] });
    expect(await count(w.bob.client, 'obsidian codes')).toBe(1);
    await w.bob.client.ok(LeaveChannelDocument, { channelId: secret.id });
    expect(await count(w.bob.client, 'obsidian codes')).toBe(0);
  });

  it('shows edits and deletes in results', async () => {
    const m = await send(w.bob.client, w.general.id, 'marmalade recipe from grandma');
    await indexed(w.ann.client, 'marmalade', 1);
    await w.bob.client.ok(EditMessageDocument, { id: m.id, text: 'quince jam recipe from grandma' });
    await indexed(w.ann.client, 'marmalade', 0);
    await indexed(w.ann.client, 'quince', 1);
    const edited = (await search(w.ann.client, 'quince')).edges[0]!.node;
    expect(edited.message.text).toBe('quince jam recipe from grandma');
    expect(edited.message.editedAt).not.toBeNull();
    expect(edited.snippet).toContain('<mark>quince</mark>');

    const root = await send(w.bob.client, w.general.id, 'tamarind thread root');
    const reply = await send(w.ann.client, w.general.id, 'tamarind reply', { threadRootId: root.id });
    await indexed(w.ann.client, 'tamarind is:thread', 2);
    await w.ann.client.ok(DeleteMessageDocument, { id: reply.id });
    await w.bob.client.ok(DeleteMessageDocument, { id: m.id });
    await indexed(w.ann.client, 'quince', 0);
    await indexed(w.ann.client, 'tamarind', 1);
    // The root has no replies left: it is no longer a thread.
    await indexed(w.ann.client, 'tamarind is:thread', 0);
    const lag = await t.app.outbox.lag();
    expect(lag.pending).toBe(0);
  });

  it('pages through results: full pages, each match once, honest counts', async () => {
    const sent: string[] = [];
    for (let i = 0; i < 25; i++) sent.push((await send(w.ann.client, w.general.id, `quokka sighting number ${i}`)).id);
    await indexed(w.bob.client, 'quokka', 25);
    for (const sort of ['NEWEST', 'RELEVANCE'] as const) {
      const seen: string[] = [];
      const sizes: number[] = [];
      let after: string | null = null;
      for (let page = 0; page < 5; page++) {
        const r: Awaited<ReturnType<typeof search>> = await search(w.bob.client, 'quokka', { sort, first: 10, after });
        seen.push(...r.edges.map((e) => e.node.message.id));
        sizes.push(r.edges.length);
        expect(r.pageInfo.hasPreviousPage).toBe(after !== null);
        if (!r.pageInfo.hasNextPage) break;
        after = r.pageInfo.endCursor!;
      }
      expect(sizes).toEqual([10, 10, 5]);
      expect(new Set(seen).size).toBe(25);
      expect([...seen].sort()).toEqual([...sent].sort());
      if (sort === 'NEWEST') expect(seen).toEqual([...sent].reverse());
      // Backward from the end (last/before): the same list, pages still in the sort's order.
      const back: string[] = [];
      let before: string | null | undefined = undefined;
      for (let page = 0; page < 5; page++) {
        const r: SearchPageQuery['search'] = (
          await w.bob.client.ok(SearchPageDocument, { query: 'quokka', sort, last: 10, before })
        ).search;
        back.unshift(...r.edges.map((e) => e.node.message.id));
        expect(r.pageInfo.hasNextPage).toBe(before !== undefined);
        if (!r.pageInfo.hasPreviousPage) break;
        before = r.pageInfo.startCursor;
      }
      expect(back).toEqual(seen);
    }
    const c = (await w.bob.client.ok(SearchCountDocument, { query: 'quokka' })).search;
    expect(c).toEqual({ totalCount: 25, totalCountIsExact: true });
  });

  it('answers bad input with a clear BAD_USER_INPUT, treats syntax as text, and never leaks backend errors', async () => {
    const c = w.ann.client;
    const bad = async (vars: SearchQueryVariables, reason?: string) => {
      const e = await errorOf(c, vars);
      expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', ...(reason ? { reason } : {}) });
      expect(e.message).not.toMatch(/tsquery|syntax error|SQL|prisma|typesense|relation|column/i);
      return e;
    };
    await bad({ query: '' }, 'search/empty_query');
    await bad({ query: '   ' }, 'search/empty_query');
    await bad({ query: '!!! ***' }, 'search/empty_query');
    await bad({ query: 'x'.repeat(1_000) }, 'search/query_too_long');
    await bad({ query: 'y '.repeat(500) }, 'search/query_too_long');
    expect((await bad({ query: 'before:2026-13-01' }, 'search/bad_date')).message).toContain('YYYY-MM-DD');
    expect((await bad({ query: 'cake has:cake' }, 'search/bad_has')).message).toContain('file or link');
    await bad({ query: '-only -exclusions' }, 'search/only_exclusions');
    await bad({ query: 'x', after: 'garbage' }, 'search/bad_cursor');
    await bad({ query: 'x', first: 0 });
    await bad({ query: 'x', first: 1_000 });
    await bad({ query: 'x', filter: { channelIds: ['abc'] } });
    await bad({ query: 'x', filter: { fromUserIds: ['-1'] } });

    // A NEWEST cursor is no cursor for RELEVANCE.
    await send(c, w.general.id, 'ocelot one');
    await send(c, w.general.id, 'ocelot two');
    await indexed(c, 'ocelot', 2);
    const first = await search(c, 'ocelot', { sort: 'NEWEST', first: 1 });
    await bad({ query: 'ocelot', sort: 'RELEVANCE', after: first.pageInfo.endCursor }, 'search/bad_cursor');
    await bad(
      {
        query: 'ocelot',
        sort: 'NEWEST',
        after: Buffer.from('{"t":"pg","s":"n","id":"1; DROP"}').toString('base64url'),
      },
      'search/bad_cursor',
    );

    // A cursor belongs to its search: not another query's, filter's or sort's, either way.
    const newest = first.pageInfo.endCursor;
    await bad({ query: 'ocelot one', sort: 'NEWEST', after: newest }, 'search/bad_cursor');
    await bad({ query: 'ocelot', sort: 'NEWEST', filter: { hasLink: false }, after: newest }, 'search/bad_cursor');
    const backward = async (vars: Record<string, unknown>, reason: string) => {
      const r = await c.request(SearchPageDocument, { query: 'ocelot', ...vars });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason });
    };
    await backward({ sort: 'RELEVANCE', last: 1, before: newest }, 'search/bad_cursor');
    await backward({ sort: 'NEWEST', last: 1, before: 'garbage' }, 'search/bad_cursor');
    await backward({ sort: 'NEWEST', first: 1, last: 1 }, 'input/first_and_last');
    await backward({ sort: 'NEWEST', last: 0 }, 'input/bad_page_size');
    await backward({ sort: 'NEWEST', last: 101 }, 'input/bad_page_size');
    const older = await c.ok(SearchPageDocument, { query: 'ocelot', sort: 'NEWEST', last: 1, before: newest });
    expect(older.search.edges).toEqual([]);
    expect(older.search.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    const newer = await c.ok(SearchPageDocument, { query: 'ocelot', sort: 'NEWEST', first: 1, after: newest });
    expect(newer.search.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    // Literal searches: no error, and only literal matches.
    const before = await t.app.db.prisma.message.count();
    for (const q of [
      '"unbalanced quote',
      'foo:bar',
      "'; DROP TABLE messages; --",
      "robert'); DELETE FROM search_documents; --",
      'channel_id:>0 || author_id:>0',
      '`) || channel_id:[1] && (`',
      'a:* | b:* & !c <-> d',
      '\\ $1 %_ ::tsquery',
      'OR AND NOT',
    ]) {
      const r = await c.request(SearchDocument, { query: q, first: 5 });
      expect(r.errors, q).toBeUndefined();
      expect(r.data?.search.edges, q).toEqual([]);
    }
    expect(await t.app.db.prisma.message.count()).toBe(before);
    await send(c, w.general.id, 'channel_id:>0 is how the "unbalanced quote" looked');
    await indexed(c, '"unbalanced quote', 1);
    await indexed(c, 'channel_id:>0', 1);

    // Without a token: UNAUTHENTICATED, as for every query.
    expect(await t.anon.errorCode(SearchDocument, { query: 'ocelot' })).toBe('UNAUTHENTICATED');
  });
  it('reindexes from the database: a lost index comes back whole, without deleted messages or strays', async () => {
    const prisma = t.app.db.prisma;
    const before = { quokka: await count(w.bob.client, 'quokka'), obsidian: await count(w.ann.client, 'obsidian') };
    expect(before.quokka).toBe(25);
    // Lose the index, and leave a stray document for a message that no longer exists.
    await prisma.$executeRaw`DELETE FROM search_documents`;
    await prisma.$executeRaw`
      INSERT INTO search_documents (message_id, channel_id, workspace_id, author_id, body, tsv, created_at)
      VALUES (42, ${BigInt(w.general.id)}, ${BigInt(w.workspace.id)}, ${BigInt(w.ann.id)}, 'stray quokka', to_tsvector('simple', 'stray quokka'), now())`;
    expect(await count(w.bob.client, 'quokka')).toBe(1);

    const progress: number[] = [];
    const r = await t.app.services.search.reindex({ batchSize: 7, onProgress: (p) => progress.push(p.done) });
    const live = await prisma.message.count({ where: { deletedAt: null } });
    expect(r.indexed).toBe(live);
    expect(progress.at(-1)).toBe(live);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.length).toBe(Math.ceil(live / 7));
    expect(await count(w.bob.client, 'quokka')).toBe(25);
    expect(await count(w.ann.client, 'obsidian')).toBe(before.obsidian);
    expect(await count(w.bob.client, 'obsidian')).toBe(1); // still only the public one
    expect(await count(w.ann.client, 'marmalade')).toBe(0); // edited away, then deleted
    expect(await count(w.ann.client, 'quince')).toBe(0);
    expect(await count(w.ann.client, 'heliotrope is:thread')).toBe(2);
  });
});
