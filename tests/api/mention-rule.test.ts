import { afterAll, beforeAll, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import {
  countsAsMention,
  mentionCountSql,
  recountSql,
  type MemberSettings,
} from '../../src/domain/messages/mention-rule.js';
import { describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect } from '../helpers/ws.js';
import {
  CreateChannelDocument,
  CreateWorkspaceDocument,
  JoinChannelDocument,
  JoinWorkspaceDocument,
  MarkReadDocument,
  SendMessageDocument,
  SetNotificationLevelDocument,
} from '../generated/gql/graphql.js';

/**
 * The mention rule exists once (src/domain/messages/mention-rule.ts) in three forms: the send's
 * SQL, the markRead recount's SQL, and the badge sessions' in-memory check. These tests hold the
 * three to the same answers over the whole table of settings and message kinds.
 */
const LEVELS = ['ALL', 'MENTIONS', 'NONE'] as const;
const AUTHOR = 1n;

interface Row extends MemberSettings {
  online: boolean;
}

/** Every member setting, online and offline, plus the author. */
function table(): Row[] {
  const rows: Row[] = [{ userId: String(AUTHOR), level: 'ALL', muted: false, online: true }];
  let id = 10n;
  for (const level of LEVELS)
    for (const muted of [false, true])
      for (const online of [false, true]) rows.push({ userId: String(id++), level, muted, online });
  return rows;
}

/** Message kinds: none, direct to some, @channel, @here, and combinations. */
function messages(rows: Row[]) {
  const direct = rows.filter((_, i) => i % 3 === 1).map((r) => r.userId);
  return [
    { name: 'plain', userIds: [] as string[], channel: false, here: false },
    { name: 'direct', userIds: direct, channel: false, here: false },
    { name: '@channel', userIds: [], channel: true, here: false },
    { name: '@here', userIds: [], channel: false, here: true },
    { name: 'direct + @here', userIds: direct, channel: false, here: true },
    { name: 'direct + @channel + @here', userIds: direct, channel: true, here: true },
  ];
}

let t: TestApp;

describeApi('the mention rule', () => {
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.stop());

  it('counts the same in the send SQL, the recount SQL and in memory, for every setting and message kind', async () => {
    const prisma = t.app.db.prisma;
    const rows = table();
    const values = Prisma.join(
      rows.map((r) => Prisma.sql`(${BigInt(r.userId)}::bigint, ${r.level}::text, ${r.muted}::boolean)`),
    );
    for (const m of messages(rows)) {
      const online = rows.filter((r) => r.online).map((r) => BigInt(r.userId));
      const facts = {
        authorId: String(AUTHOR),
        userIds: m.userIds,
        channel: m.channel,
        here: m.here,
        wasOnline: (u: string) => rows.find((r) => r.userId === u)!.online,
      };
      const inMemory = rows.filter((r) => countsAsMention(r, facts)).map((r) => r.userId);

      const sent = await prisma.$queryRaw<{ user_id: bigint }[]>`
        SELECT user_id FROM (VALUES ${values}) AS channel_members(user_id, notification_level, muted)
        WHERE ${mentionCountSql({
          authorId: AUTHOR,
          userIds: m.userIds.map(BigInt),
          channel: m.channel,
          hereOnline: m.here ? online : [],
        })}
        ORDER BY user_id`;
      expect(
        sent.map((r) => String(r.user_id)),
        m.name,
      ).toEqual(inMemory);

      // The stored form of the same message (one row per mention, @here with its recipients).
      const stored = [
        ...m.userIds.map((u) => Prisma.sql`('USER', ${BigInt(u)}::bigint, ARRAY[]::bigint[])`),
        ...(m.channel ? [Prisma.sql`('CHANNEL', NULL::bigint, ARRAY[]::bigint[])`] : []),
        ...(m.here ? [Prisma.sql`('HERE', NULL::bigint, ${online}::bigint[])`] : []),
      ];
      const recounted: string[] = [];
      for (const r of rows) {
        if (r.userId === String(AUTHOR) || stored.length === 0) continue;
        const [hit] = await prisma.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM (VALUES ${Prisma.join(stored)}) AS mm(kind, user_id, recipients)
          WHERE ${recountSql({ userId: BigInt(r.userId), level: r.level, muted: r.muted })}`;
        if (hit!.n > 0n) recounted.push(r.userId);
      }
      expect(recounted, m.name).toEqual(inMemory);
    }
  });

  it('markRead moving back recounts exactly what the sends counted (direct, @channel, @here, mute, NONE)', async () => {
    const author = await t.user('Author');
    const ws = (await author.client.ok(CreateWorkspaceDocument, { name: 'Rules' })).createWorkspace;
    const channel = (await author.client.ok(CreateChannelDocument, { workspaceId: ws.id, name: 'rules' }))
      .createChannel;
    const members: { id: string; client: Awaited<ReturnType<TestApp['user']>>['client']; online: boolean }[] = [];
    const sockets: ReturnType<typeof connect>[] = [];
    for (const level of LEVELS)
      for (const muted of [false, true])
        for (const online of [false, true]) {
          const u = await t.user(`M${members.length}`);
          await u.client.ok(JoinWorkspaceDocument, { inviteCode: ws.inviteCode });
          await u.client.ok(JoinChannelDocument, { channelId: channel.id });
          await u.client.ok(SetNotificationLevelDocument, { channelId: channel.id, level, muted });
          if (online) sockets.push(connect(t.url, u.token));
          members.push({ id: u.id, client: u.client, online });
        }
    try {
      // Wait until the online ones are online (presence is set when the socket is acknowledged).
      const presence = t.app.realtime.presence;
      for (let i = 0; i < 100; i++) {
        const on = await presence.onlineAmong(members.filter((m) => m.online).map((m) => m.id));
        if (on.length === members.filter((m) => m.online).length) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const first = (await author.client.ok(SendMessageDocument, { input: { channelId: channel.id, text: 'start' } }))
        .sendMessage;
      for (const m of members) await m.client.ok(MarkReadDocument, { channelId: channel.id, messageId: first.id });
      const direct = members.filter((_, i) => i % 2 === 0).map((m) => `<@${m.id}>`);
      for (const text of ['plain', direct.join(' '), '<!channel>', '<!here>', `${direct.join(' ')} <!here>`])
        await author.client.ok(SendMessageDocument, { input: { channelId: channel.id, text } });

      const counted = async () =>
        (
          await t.app.db.prisma.channelMember.findMany({
            where: { channelId: BigInt(channel.id), userId: { in: members.map((m) => BigInt(m.id)) } },
            orderBy: { userId: 'asc' },
          })
        ).map((r) => [String(r.userId), r.mentionCount]);
      const atSend = await counted();
      expect(atSend.some(([, n]) => Number(n) > 0)).toBe(true);
      for (const m of members) await m.client.ok(MarkReadDocument, { channelId: channel.id, messageId: first.id });
      expect(await counted()).toEqual(atSend);
    } finally {
      for (const s of sockets) await s.dispose();
    }
  });
});
