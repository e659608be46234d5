import type { Viewer } from '../domain/viewer.js';
import { notFound } from '../domain/errors.js';
import type { Message } from '../generated/prisma/client.js';
import type { ChatEvent } from '../domain/events/events.js';
import type { ConnectionState } from './connection.js';
import { attachSink, EventQueue, type Sink, type SinkSource } from './queue.js';
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
  /** The last sequence delivered (set once the stream knows where it resumes). */
  let lastSeq = 0n;
  let sink: Sink<ChannelEventPayload> | null = null;

  /**
   * One live event while nothing is pending: 'deliver' (lastSeq advanced), 'skip', or 'slow' when
   * it needs the database first (a hole in the sequence, or this viewer lost a private channel).
   */
  function step(e: ChatEvent): 'deliver' | 'skip' | 'slow' {
    switch (e.type) {
      case 'MessagePosted': {
        if (!e.listed || e.seq === null) return 'skip';
        const seq = BigInt(e.seq);
        if (seq <= lastSeq) return 'skip'; // delivered already (by a replay)
        if (seq > lastSeq + 1n) return 'slow';
        lastSeq = seq;
        return 'deliver';
      }
      case 'MessageEdited':
      case 'MessageDeleted':
      case 'ReactionChanged':
      case 'ThreadUpdated':
        return 'deliver';
      case 'MembershipChanged':
        return isPrivate && !e.joined && e.userId === me ? 'slow' : 'skip';
      default:
        return 'skip';
    }
  }

  // The direct path: while the loop below is parked on the queue, a live event that needs no
  // database goes from the hub's callback straight to the attached sink (the subscriber's frame
  // writer). Everything else wakes the loop, which handles holes, gaps and revocation in order.
  queue.bypass = (e) => {
    if (sink === null || e.type === 'Gap') return false;
    const s = step(e);
    if (s === 'slow') return false;
    if (s === 'deliver') sink(e as ChannelEventPayload);
    return true;
  };

  async function* run(): AsyncGenerator<ChannelEventPayload> {
    queue.onClose(viewing(deps, connection, viewer, { channel: id }));
    const gap = await listenWithGap(deps, id, queue);
    await deps.testHooks?.afterListen?.();
    lastSeq =
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
        if (e.type === 'Gap') {
          gap.gapTaken();
          yield* catchUp(null);
          continue;
        }
        const s = step(e);
        if (s === 'deliver') yield e as ChannelEventPayload;
        if (s !== 'slow') continue;
        if (e.type !== 'MessagePosted') throw notFound('channel', channelId);
        // Ahead of the last delivered: fetch what lies between, then this one.
        const seq = BigInt(e.seq!);
        yield* catchUp(seq - 1n);
        lastSeq = seq;
        yield e;
      }
    } finally {
      await queue.return();
    }
  }
  const stream = abortable(run(), () => queue.return()) as AsyncIterableIterator<ChannelEventPayload> &
    SinkSource<ChannelEventPayload>;
  stream[attachSink] = (s) => {
    sink = s;
  };
  return stream;
}
