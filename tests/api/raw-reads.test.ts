/**
 * The read path's hot statements (history pages, newest pages, read facts, accessChannel, author
 * profiles) go through Database.rawQuery: node-postgres prepared statements on PostgreSQL, Prisma
 * on PGlite. These tests hold the raw path to what Prisma returned: the same statements through
 * Prisma's `$queryRaw` (and the profile read as Prisma's model query did it) give identical rows,
 * and the API's pages, walked both ways, are what Prisma's model queries say the channel holds.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import {
  AddReactionDocument,
  CreateChannelDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  HistoryDocument,
  type HistoryQuery,
  InviteToChannelDocument,
  JoinChannelDocument,
  JoinWorkspaceDocument,
  LeaveChannelDocument,
  OpenDirectMessageDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';
import type { Prisma } from '../../src/generated/prisma/client.js';
import { accessChannelSql, readFactsSql } from '../../src/domain/channels/channels.access.js';
import { historyPageSql, newestPagesSql } from '../../src/domain/messages/history.service.js';
import { profilesSql } from '../../src/domain/users/users.service.js';
import { createPageJoins, mentionsSql, reactionsSql } from '../../src/domain/messages/page-joins.js';

const MAX_ID = 9223372036854775807n;
type Node = HistoryQuery['messages']['edges'][number]['node'];

describeApi('raw read statements return what Prisma returned', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let cy: Awaited<ReturnType<TestApp['user']>>;
  const channels: Record<'pub' | 'priv' | 'dm' | 'general', string> = { pub: '', priv: '', dm: '', general: '' };

  beforeAll(async () => {
    t = await startTestApp({ OUTBOX_WORKER: 'off' });
    w = await basicWorkspace(t);
    cy = await t.user('Cy');
    await cy.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    channels.general = w.general.id;
    channels.pub = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'eq' })
    ).createChannel.id;
    channels.priv = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'eq-private', private: true })
    ).createChannel.id;
    channels.dm = (
      await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.bob.id] })
    ).openDirectMessage.id;
    await w.bob.client.ok(JoinChannelDocument, { channelId: channels.pub });
    await cy.client.ok(JoinChannelDocument, { channelId: channels.pub });
    await w.ann.client.ok(InviteToChannelDocument, { channelId: channels.priv, userIds: [w.bob.id, cy.id] });

    const people = [w.ann, w.bob, cy];
    const send = async (who: (typeof people)[number], channelId: string, text: string, extra = {}) =>
      (await who.client.ok(SendMessageDocument, { input: { channelId, text, ...extra } })).sendMessage.id;
    const pub: string[] = [];
    for (let i = 0; i < 14; i++) pub.push(await send(people[i % 3]!, channels.pub, `p${i} <@${w.bob.id}>`));
    await w.ann.client.ok(EditMessageDocument, { id: pub[3]!, text: 'p3 edited' });
    await cy.client.ok(EditMessageDocument, { id: pub[8]!, text: 'p8 edited' });
    await w.bob.client.ok(AddReactionDocument, { messageId: pub[1]!, emoji: 'thumbsup' });
    await cy.client.ok(AddReactionDocument, { messageId: pub[1]!, emoji: 'thumbsup' });
    await w.ann.client.ok(AddReactionDocument, { messageId: pub[1]!, emoji: 'tada' });
    await w.bob.client.ok(AddReactionDocument, { messageId: pub[5]!, emoji: 'tada' });
    await w.ann.client.ok(DeleteMessageDocument, { id: pub[5]! });
    await send(w.bob, channels.pub, 'reply only in the thread', { threadRootId: pub[2]! });
    await send(cy, channels.pub, 'reply also in the channel', { threadRootId: pub[2]!, alsoSendToChannel: true });
    // A thread root deleted after a reply stays listed as a tombstone (pub[10] is Bob's).
    await send(w.ann, channels.pub, 'reply to a root deleted later', { threadRootId: pub[10]! });
    await w.bob.client.ok(DeleteMessageDocument, { id: pub[10]! });
    for (let i = 0; i < 5; i++) await send(people[i % 3]!, channels.priv, `s${i}`);
    await cy.client.ok(LeaveChannelDocument, { channelId: channels.priv });
    await send(w.ann, channels.pub, `everyone: <!channel> <!here>, and <@${cy.id}>`);
    await send(w.ann, channels.dm, 'dm 1');
    await send(w.bob, channels.dm, 'dm 2');
  });
  afterAll(() => t?.stop());

  /** The statement through the hot path and through Prisma: identical rows (values, types, order). */
  const same = async (sql: Prisma.Sql, ordered = true) => {
    const raw = await t.app.db.rawQuery(sql);
    const viaPrisma = await t.app.db.prisma.$queryRaw<Record<string, unknown>[]>(sql);
    const key = (r: Record<string, unknown>) =>
      JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    if (ordered) expect(raw).toEqual(viaPrisma);
    else expect(raw.map(key).sort()).toEqual(viaPrisma.map(key).sort());
    // Same JS types field by field (a Date stays a Date, an int8 a bigint, an int4 a number).
    const types = (rows: Record<string, unknown>[]) =>
      rows.map((r) =>
        Object.entries(r).map(([k, v]) => `${k}:${v === null ? 'null' : v instanceof Date ? 'Date' : typeof v}`),
      );
    expect(types(raw).sort()).toEqual(types(viaPrisma).sort());
    return raw;
  };

  it('history pages with cursors, in both directions and every size', async () => {
    const ids = (await t.app.db.prisma.message.findMany({ select: { id: true }, orderBy: { id: 'asc' } })).map(
      (m) => m.id,
    );
    const bounds = [0n, ...ids, MAX_ID];
    let rows = 0;
    for (const channelId of Object.values(channels).map(BigInt)) {
      for (const below of bounds.filter((_, i) => i % 2 === 0)) {
        for (const above of [0n, ...bounds.filter((b) => b < below && b % 3n === 0n)]) {
          for (const newestFirst of [true, false]) {
            for (const limit of [1, 4, 51]) {
              rows += (await same(historyPageSql(channelId, { below, above, limit, newestFirst }))).length;
            }
          }
        }
      }
    }
    expect(rows).toBeGreaterThan(100); // the fixture is read, not an empty channel
  });

  it('newest pages of one or many channels, an unknown one included', async () => {
    const all = [...Object.values(channels).map(BigInt), 1n];
    for (const take of [1, 3, 50]) {
      for (const set of [all, all.slice(0, 1), all.slice(1, 3)]) {
        const rows = await same(newestPagesSql(set, take), false);
        expect(rows.length).toBeGreaterThan(0);
      }
    }
  });

  it('read facts and accessChannel for members, a member who left, outsiders and unknown channels', async () => {
    const users = [w.ann.id, w.bob.id, cy.id, w.eve.id, '1'].map(BigInt);
    const chans = [...Object.values(channels), '1'].map(BigInt);
    const pairs = users.flatMap((u) => chans.map((c) => [u, c] as const));
    const facts = await same(readFactsSql(pairs), false);
    expect(facts).toHaveLength(users.length * (chans.length - 1)); // no row for the unknown channel
    expect(await same(readFactsSql(pairs.slice(0, 1)))).toHaveLength(1);
    // Cy left the private channel: not a member any more, still in the workspace.
    expect(facts.find((f) => f.userId === BigInt(cy.id) && f.channelId === BigInt(channels.priv))).toMatchObject({
      kind: 'PRIVATE',
      member: false,
      inWorkspace: true,
    });
    for (const [u, c] of pairs) await same(accessChannelSql(u, c));
  });

  it("author profiles: every column of Prisma's model read but the password hash", async () => {
    const ids = [w.ann.id, w.bob.id, cy.id, w.eve.id, '1'].map(BigInt);
    const raw = await t.app.db.rawQuery<{ id: bigint } & Record<string, unknown>>(profilesSql(ids));
    const viaModel = await t.app.db.prisma.user.findMany({ where: { id: { in: ids } }, omit: { passwordHash: true } });
    const byId = (rows: { id: unknown }[]) => [...rows].sort((a, z) => String(a.id).localeCompare(String(z.id)));
    expect(byId(raw)).toEqual(byId(viaModel));
    expect(raw).toHaveLength(4);
    expect(raw.every((r) => !('passwordHash' in r))).toBe(true);
  });

  it("a page's reactions and mentions: the rows Prisma's model queries read", async () => {
    const ids = (await t.app.db.prisma.message.findMany({ select: { id: true } })).map((m) => m.id);
    // @here counts for who was online then (nobody in this test): give it two recipients to read back.
    await t.app.db.prisma.messageMention.updateMany({
      where: { kind: 'HERE' },
      data: { recipients: [BigInt(w.bob.id), BigInt(cy.id)] },
    });
    // Reactions made in the same millisecond have no order between them: compare as sets there.
    await same(reactionsSql(ids), false);
    await same(mentionsSql(ids));
    const key = (r: object) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    const reactions = await createPageJoins(t.app.db.rawQuery).reactions(ids);
    const viaModel = await t.app.db.prisma.reaction.findMany({
      where: { messageId: { in: ids } },
      orderBy: [{ messageId: 'asc' }, { createdAt: 'asc' }],
    });
    expect(reactions.map(key).sort()).toEqual(viaModel.map(key).sort());
    expect(reactions.map((r) => r.messageId)).toEqual(viaModel.map((r) => r.messageId));
    expect(reactions.length).toBeGreaterThanOrEqual(3);
    const mentions = await createPageJoins(t.app.db.rawQuery).mentions(ids);
    expect(mentions).toEqual(
      await t.app.db.prisma.messageMention.findMany({ where: { messageId: { in: ids } }, orderBy: { id: 'asc' } }),
    );
    expect(new Set(mentions.map((m) => m.kind))).toEqual(new Set(['USER', 'CHANNEL', 'HERE']));
    expect(mentions.find((m) => m.kind === 'HERE')?.recipients).toEqual([BigInt(w.bob.id), BigInt(cy.id)]);
  });

  it("the API's pages, walked both ways, are the channel as Prisma's model queries read it", async () => {
    for (const [viewer, channelId] of [
      [w.bob, channels.pub],
      [cy, channels.pub],
      [w.ann, channels.priv],
      [w.bob, channels.dm],
    ] as const) {
      const listed = await t.app.db.prisma.message.findMany({
        where: { channelId: BigInt(channelId), listed: true },
        orderBy: { id: 'desc' },
        include: { author: { select: { id: true, name: true } } },
      });
      const expected = listed.map((m) => ({
        id: m.id.toString(),
        text: m.text,
        author: { id: m.authorId.toString(), name: m.author.name },
        createdAt: m.createdAt.toISOString(),
        editedAt: m.editedAt?.toISOString() ?? null,
        deleted: m.deletedAt !== null,
        threadRootId: m.threadRootId?.toString() ?? null,
        alsoSentToChannel: m.alsoSentToChannel,
        replyCount: m.replyCount,
        lastReplyAt: m.lastReplyAt?.toISOString() ?? null,
      }));
      expect(expected.length).toBeGreaterThan(1);
      const shown = (n: Node) => ({
        id: n.id,
        text: n.text,
        author: n.author,
        createdAt: new Date(n.createdAt).toISOString(),
        editedAt: n.editedAt ? new Date(n.editedAt).toISOString() : null,
        deleted: n.deleted,
        threadRootId: n.threadRootId ?? null,
        alsoSentToChannel: n.alsoSentToChannel,
        replyCount: n.replyCount,
        lastReplyAt: n.lastReplyAt ? new Date(n.lastReplyAt).toISOString() : null,
      });
      // The newest page (the cached path) and then older pages by cursor.
      const forward: Node[] = [];
      let after: string | null | undefined;
      for (let i = 0; i < 20; i++) {
        const page = (await viewer.client.ok(HistoryDocument, { channelId, first: 3, after })).messages;
        forward.push(...page.edges.map((e) => e.node));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(forward.map(shown)).toEqual(expected);
      // From the oldest message up to the newest, `last`/`before` (each page still newest first).
      const oldest = expected[expected.length - 1]!.id;
      const backward: Node[][] = [];
      let before = oldest;
      for (let i = 0; i < 20; i++) {
        const page = (await viewer.client.ok(HistoryDocument, { channelId, last: 3, before })).messages;
        backward.push(page.edges.map((e) => e.node));
        if (!page.pageInfo.hasPreviousPage) break;
        before = page.pageInfo.startCursor!;
      }
      expect(backward.reverse().flat().map(shown)).toEqual(expected.slice(0, -1));
    }
    // Who may read is unchanged: the member who left and the outsider get NOT_FOUND.
    expect(await cy.client.errorCode(HistoryDocument, { channelId: channels.priv, first: 3 })).toBe('NOT_FOUND');
    expect(await w.eve.client.errorCode(HistoryDocument, { channelId: channels.pub, first: 3 })).toBe('NOT_FOUND');
    expect(await cy.client.errorCode(HistoryDocument, { channelId: channels.dm, first: 3 })).toBe('NOT_FOUND');
  });
});
