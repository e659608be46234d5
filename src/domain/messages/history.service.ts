import type { ServiceDeps } from '../deps.js';
import { badInput } from '../errors.js';
import type { Message } from '../../generated/prisma/client.js';
import type { Viewer } from '../viewer.js';
import { pageSize } from '../validate.js';
import type { ChannelsService } from '../channels/channels.service.js';
import { COLUMNS, type MessageCommon } from './message-common.js';

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Reading messages: channel history and thread replies, over the partial index of listed rows. */
export function createHistoryService(deps: ServiceDeps, channels: ChannelsService, common: MessageCommon) {
  const { prisma, limits } = deps;

  /**
   * Channel history, newest first. `before` pages into the past; `after` returns the `first`
   * messages right after that id (for catching up). Reads only the partial index of listed rows.
   */
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

  async function history(
    viewer: Viewer,
    channelId: bigint,
    opts: { before?: bigint | null; after?: bigint | null; first?: number | null },
  ): Promise<Page<Message>> {
    await channels.accessChannel(viewer, channelId);
    const take = pageSize(opts.first, limits.maxPageSize);
    const before = opts.before ?? null;
    const after = opts.after ?? null;
    const key = `${channelId}:${before}:${after}:${take}`;
    if (after !== null && before === null) {
      const rows = await coalesced(
        key,
        () => prisma.$queryRaw<Message[]>`
        SELECT ${COLUMNS} FROM messages
        WHERE channel_id = ${channelId} AND listed AND id > ${after}
        ORDER BY id ASC LIMIT ${take + 1}`,
      );
      const page = rows.slice(0, take).reverse();
      return { nodes: page, hasPreviousPage: rows.length > take, hasNextPage: true };
    }
    const rows = await coalesced(
      key,
      () => prisma.$queryRaw<Message[]>`
      SELECT ${COLUMNS} FROM messages
      WHERE channel_id = ${channelId} AND listed
        AND id < ${before ?? 9223372036854775807n} AND id > ${after ?? 0n}
      ORDER BY id DESC LIMIT ${take + 1}`,
    );
    return { nodes: rows.slice(0, take), hasNextPage: rows.length > take, hasPreviousPage: before !== null };
  }

  /** Replies of a thread, oldest first; `after` pages forward. */
  async function thread(
    viewer: Viewer,
    rootId: bigint,
    opts: { after?: bigint | null; first?: number | null },
  ): Promise<Page<Message> & { root: Message }> {
    const { message: root } = await common.accessMessage(viewer, rootId);
    if (root.threadRootId)
      throw badInput('message/not_root', 'rootId is a reply, not a thread root', { field: 'rootId' });
    const take = pageSize(opts.first, limits.maxPageSize);
    const rows = await prisma.$queryRaw<Message[]>`
      SELECT ${COLUMNS} FROM messages
      WHERE thread_root_id = ${rootId} AND deleted_at IS NULL AND id > ${opts.after ?? 0n}
      ORDER BY id ASC LIMIT ${take + 1}`;
    return { root, nodes: rows.slice(0, take), hasNextPage: rows.length > take, hasPreviousPage: opts.after != null };
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
