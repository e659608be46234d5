import type { Viewer } from '../domain/viewer.js';
import { notFound } from '../domain/errors.js';
import type { Message } from '../generated/prisma/client.js';
import type { ChatEvent } from '../domain/events/events.js';
import type { ConnectionState } from './connection.js';
import { EventQueue } from './queue.js';
import {
  abortable,
  listenWithGap,
  replayedEvent,
  viewing,
  type ChannelEventPayload,
  type Gap,
  type StreamDeps,
} from './stream-kit.js';

const REPLAY_PAGE = 100;

/**
 * The visible channel, resumed by sequence. Listed messages carry the channel's gap-free sequence,
 * assigned under the channel lock and so in commit order (ids are taken before the lock: two
 * concurrent sends can commit in the other order, and resuming by id could skip the late one).
 *
 * Listen first; find where to resume (the sequence of `after`, or the channel's newest); replay by
 * sequence; then live, delivering messages in sequence order without holes. A live message whose
 * sequence is ahead of the last one delivered first fetches what lies between from the database:
 * those committed before it, and their events were late (publishes from several gateways race)
 * or lost (published into a shard that had just died). A gap signal replays everything after the
 * last delivered sequence. Edits, deletes, reactions and thread updates pass through as they come.
 */
export function channelStream(
  deps: StreamDeps,
  connection: ConnectionState,
  viewer: Viewer,
  channelId: bigint,
  after: bigint | null,
  isPrivate: boolean,
): AsyncIterableIterator<ChannelEventPayload> {
  const { sources } = deps;
  const id = channelId.toString();
  const me = viewer.userId.toString();
  const queue = new EventQueue<ChatEvent | Gap>(deps.queueLimit, () => connection.close(1013, 'slow consumer'));

  async function* run(): AsyncGenerator<ChannelEventPayload> {
    queue.onClose(viewing(deps, connection, viewer, { channel: id }));
    const gap = await listenWithGap(deps, id, queue);
    await deps.testHooks?.afterListen?.();
    let lastSeq =
      after !== null ? await sources.resumeSeq(viewer, channelId, after) : await sources.channelSeq(viewer, channelId);

    /** Delivers the listed messages with sequence in (lastSeq, upto], in order; advances lastSeq. */
    async function* catchUp(upto: bigint | null): AsyncGenerator<ChannelEventPayload> {
      for (;;) {
        const rows: Message[] = await sources.replayBySeq(viewer, channelId, {
          afterSeq: lastSeq,
          uptoSeq: upto,
          first: REPLAY_PAGE,
        });
        for (const m of rows) {
          if (queue.closed) return;
          lastSeq = m.seq!;
          if (m.listed) yield replayedEvent(m);
        }
        if (rows.length < REPLAY_PAGE) return;
      }
    }

    try {
      if (after !== null) yield* catchUp(null);
      for await (const e of queue) {
        switch (e.type) {
          case 'Gap':
            gap.gapTaken();
            yield* catchUp(null);
            continue;
          case 'MessagePosted': {
            if (!e.listed || e.seq === null) continue;
            const seq = BigInt(e.seq);
            if (seq <= lastSeq) continue; // delivered already (by a replay)
            if (seq > lastSeq + 1n) yield* catchUp(seq - 1n);
            lastSeq = seq;
            yield e;
            continue;
          }
          case 'MessageEdited':
          case 'MessageDeleted':
          case 'ReactionChanged':
          case 'ThreadUpdated':
            yield e;
            continue;
          case 'MembershipChanged':
            if (isPrivate && !e.joined && e.userId === me) throw notFound('channel', channelId);
            continue;
          default:
            continue;
        }
      }
    } finally {
      await queue.return();
    }
  }
  return abortable(run(), () => queue.return());
}
