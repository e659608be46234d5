import type { ServiceDeps } from '../deps.js';
import { badInput } from '../errors.js';
import { Prisma, type Message } from '../../generated/prisma/client.js';
import type { Viewer } from '../viewer.js';
import { idCursor, pageFrom, pageWindow, type ConnectionArgs, type Page } from '../paging.js';
import type { ChannelsService } from '../channels/channels.service.js';
import { COLUMNS, type MessageCommon } from './message-common.js';
import { createBatcher } from '../coalesce.js';

export type { Page } from '../paging.js';

const MAX_ID = 9223372036854775807n;

/** About what a cached page costs in memory (UTF-16 text plus the row's other fields). */
const pageBytes = (page: Page<Message>) =>
  page.nodes.reduce((sum, m) => sum + 2 * m.text.length + (m.clientNonce?.length ?? 0) * 2 + 400, 200);

/**
 * The newest `take + 1` listed messages of each channel, in one statement (a lateral walk of each
 * channel's partial index), in no particular order. One fixed text for any number of channels.
 * Exported so bench/send-path.bench.ts and the equivalence test run the very same SQL.
 */
export function newestPagesSql(channelIds: readonly bigint[], take: number): Prisma.Sql {
  return Prisma.sql`
          SELECT m.* FROM unnest(${channelIds}::bigint[]) AS c(id) CROSS JOIN LATERAL (
            SELECT ${COLUMNS} FROM messages
            WHERE channel_id = c.id AND listed AND id < ${MAX_ID} AND id > 0
            ORDER BY id DESC LIMIT ${take + 1}) m`;
}

/**
 * Up to `limit` listed messages of a channel strictly between the ids `above` and `below`, newest
 * first (`newestFirst`) or oldest first: the statement of a history page with a cursor. Two fixed
 * texts (one per direction). Exported like newestPagesSql.
 */
export function historyPageSql(
  channelId: bigint,
  w: { below: bigint; above: bigint; limit: number; newestFirst: boolean },
): Prisma.Sql {
  return w.newestFirst
    ? Prisma.sql`
          SELECT ${COLUMNS} FROM messages
          WHERE channel_id = ${channelId} AND listed AND id < ${w.below} AND id > ${w.above}
          ORDER BY id DESC LIMIT ${w.limit}`
    : Prisma.sql`
          SELECT ${COLUMNS} FROM messages
          WHERE channel_id = ${channelId} AND listed AND id < ${w.below} AND id > ${w.above}
          ORDER BY id ASC LIMIT ${w.limit}`;
}

/**
 * Reading messages: channel history and thread replies, over the partial index of listed rows. The
 * history page reads (newest pages, cursor pages) go through `rawQuery`: prepared statements past
 * Prisma's query path on PostgreSQL, measured by bench/send-path.bench.ts.
 */
export function createHistoryService(deps: ServiceDeps, channels: ChannelsService, common: MessageCommon) {
  const { prisma, rawQuery, limits } = deps;

  /**
   * Identical history reads in flight share one query (a popular channel's newest page is read by
   * everyone opening it at once). Only reads that already passed their own access check get here.
   */
  const inFlight = new Map<string, Promise<Message[]>>();
  function coalesced(key: string, read: () => Promise<Message[]>): Promise<Message[]> {
    let p = inFlight.get(key);
    if (!p) {
      p = read().finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  }

  /**
   * Channel history as a Relay connection over a list ordered newest first: `first`/`after` page
   * forward in that order (older messages: `after: pageInfo.endCursor`), `last`/`before` page
   * backward (newer messages, the ones nearest the cursor; for catching up). Cursors are message
   * ids. Reads only the partial index of listed rows.
   */
  /**
   * Newest pages of many channels in one statement (a lateral walk of each channel's partial
   * index): concurrent first screens of different channels share it, and so, afterwards, does
   * the batched read of their authors.
   */
  const newestPages = createBatcher<readonly [bigint, number], Page<Message>>(
    async (keys) => {
      const bySize = new Map<number, bigint[]>();
      for (const [c, take] of keys) bySize.set(take, [...(bySize.get(take) ?? []), c]);
      const pages = new Map<string, Message[]>();
      for (const [take, ids] of bySize) {
        const rows = await rawQuery<Message>(newestPagesSql(ids, take));
        for (const r of rows) {
          const k = `${r.channelId}:${take}`;
          const list = pages.get(k);
          if (list) list.push(r);
          else pages.set(k, [r]);
        }
      }
      return keys.map(([c, take]) => {
        const rows = (pages.get(`${c}:${take}`) ?? []).sort((a, z) => (z.id > a.id ? 1 : z.id < a.id ? -1 : 0));
        return { nodes: rows.slice(0, take), hasNextPage: rows.length > take, hasPreviousPage: false };
      });
    },
    ([c, take]) => `${c}:${take}`,
  );

  async function history(viewer: Viewer, channelId: bigint, args: ConnectionArgs): Promise<Page<Message>> {
    const w = pageWindow(args, limits.maxPageSize, idCursor);
    await channels.requireReadable(viewer, channelId);
    if (w.forward && w.after === null && w.before === null) {
      // The first screen of a channel: from the channel's cache, or one batched read.
      return channels.cache.page(channelId, w.take, () => newestPages([channelId, w.take]), pageBytes);
    }
    // The list is newest first, so its "after" bound is an upper id bound, its "before" a lower one.
    const below = w.after ?? MAX_ID;
    const above = w.before ?? 0n;
    const key = `${channelId}:${w.forward ? 'f' : 'l'}:${below}:${above}:${w.take}`;
    const rows = await coalesced(key, () =>
      rawQuery<Message>(historyPageSql(channelId, { below, above, limit: w.take + 1, newestFirst: w.forward })),
    );
    return pageFrom(rows, w);
  }

  /**
   * Replies of a thread as a Relay connection over a list ordered oldest first: `first`/`after`
   * page forward (newer replies), `last`/`before` backward (older ones, nearest the cursor).
   */
  async function thread(
    viewer: Viewer,
    rootId: bigint,
    args: ConnectionArgs,
  ): Promise<Page<Message> & { root: Message }> {
    const w = pageWindow(args, limits.maxPageSize, idCursor);
    const { message: root } = await common.accessMessage(viewer, rootId);
    if (root.threadRootId)
      throw badInput('message/not_root', 'rootId is a reply, not a thread root', { field: 'rootId' });
    const above = w.after ?? 0n;
    const below = w.before ?? MAX_ID;
    const rows = w.forward
      ? await prisma.$queryRaw<Message[]>`
        SELECT ${COLUMNS} FROM messages
        WHERE thread_root_id = ${rootId} AND deleted_at IS NULL AND id > ${above} AND id < ${below}
        ORDER BY id ASC LIMIT ${w.take + 1}`
      : await prisma.$queryRaw<Message[]>`
        SELECT ${COLUMNS} FROM messages
        WHERE thread_root_id = ${rootId} AND deleted_at IS NULL AND id > ${above} AND id < ${below}
        ORDER BY id DESC LIMIT ${w.take + 1}`;
    return { root, ...pageFrom(rows, w) };
  }

  /**
   * Where a stream resumes: the channel sequence of the message `after` (the client's last seen
   * message), or, for an id that is not a message of this channel, the highest sequence at or below
   * it. Sequences are gap-free and in commit order; ids are not (they are taken before the channel
   * lock), so resuming by id could skip a message that committed late.
   */
  async function resumeSeq(viewer: Viewer, channelId: bigint, after: bigint): Promise<bigint> {
    await channels.accessChannel(viewer, channelId);
    const [row] = await prisma.$queryRaw<{ seq: bigint | null }[]>`
      SELECT COALESCE(
        (SELECT seq FROM messages WHERE id = ${after} AND channel_id = ${channelId}),
        (SELECT max(seq) FROM messages WHERE channel_id = ${channelId} AND seq IS NOT NULL AND id <= ${after}),
        0) AS seq`;
    return row?.seq ?? 0n;
  }

  /** The channel's newest sequence now (a stream without `after` starts from here). */
  async function channelSeq(viewer: Viewer, channelId: bigint): Promise<bigint> {
    const { channel } = await channels.accessChannel(viewer, channelId);
    const [row] = await prisma.$queryRaw<
      { seq: bigint }[]
    >`SELECT last_seq AS seq FROM channels WHERE id = ${channel.id}`;
    return row?.seq ?? 0n;
  }

  /**
   * The channel's messages by sequence, after `afterSeq` (and up to `uptoSeq`), oldest first, for
   * replays. Every sequenced row is returned, so a stream can advance past deleted ones; only
   * listed rows are shown to clients.
   */
  async function replayBySeq(
    viewer: Viewer,
    channelId: bigint,
    opts: { afterSeq: bigint; uptoSeq?: bigint | null; first: number },
  ): Promise<Message[]> {
    await channels.accessChannel(viewer, channelId);
    return prisma.$queryRaw<Message[]>`
      SELECT ${COLUMNS} FROM messages
      WHERE channel_id = ${channelId} AND seq IS NOT NULL AND seq > ${opts.afterSeq}
        AND seq <= ${opts.uptoSeq ?? 9223372036854775807n}
      ORDER BY seq ASC LIMIT ${opts.first}`;
  }

  return { history, thread, resumeSeq, channelSeq, replayBySeq };
}
