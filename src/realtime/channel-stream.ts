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
 * How long a stream holds a message that arrived ahead of its sequence, waiting for the missing
 * ones to arrive live, before it reads them from the database. Concurrent sends commit in
 * sequence order but publish in any order (several senders, several gateways), so a hole is
 * usually a few milliseconds of reordering: every viewer of a busy channel reading the database
 * for it cost a query and an execution per viewer per hole (measured: ~90 of 500 viewers per
 * message with 8 concurrent senders). A publish that was really lost (a shard died) costs this
 * much latency, then the read.
 */
const REORDER_WAIT_MS = 50;

/** The reorder window ran out (queued by its timer; `n` names the hole it was set for). */
interface HoleTimeout {
  type: 'HoleTimeout';
  n: number;
}

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
  const queue = new EventQueue<ChatEvent | Gap | HoleTimeout>(deps.queueLimit, () =>
    connection.close(1013, 'slow consumer'),
  );
  /** The last sequence delivered (set once the stream knows where it resumes). */
  let lastSeq = 0n;
  let sink: Sink<ChannelEventPayload> | null = null;
  /**
   * A hole being waited out: the missing sequences (lastSeq, upto] that arrived live meanwhile,
   * and every other event since the hole, in arrival order (delivered after the hole is filled).
   */
  let hole: {
    n: number;
    upto: bigint;
    late: Map<bigint, ChannelEventPayload>;
    backlog: ChatEvent[];
    timer: NodeJS.Timeout;
  } | null = null;
  let holes = 0;
  queue.onClose(() => {
    if (hole) clearTimeout(hole.timer);
  });

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
    if (sink === null || hole !== null || e.type === 'Gap' || e.type === 'HoleTimeout') return false;
    const s = step(e);
    if (s === 'slow') return false;
    if (s === 'deliver') sink(e as ChannelEventPayload);
    return true;
  };

  async function* run(): AsyncGenerator<ChannelEventPayload> {
    queue.onClose(viewing(deps, connection, viewer, { channel: id }));
    const gap = await listenWithGap(deps, id, queue);
    await deps.testHooks?.afterListen?.();
    if (after !== null) lastSeq = await sources.resumeSeq(viewer, channelId, after);
    else {
      // From now: the channel's newest sequence, except that a message whose event arrived after
      // the listen (it waits in the queue) is delivered even if it committed just before this read.
      lastSeq = await sources.channelSeq(viewer, channelId);
      for (const e of queue.pending()) {
        if (e.type !== 'MessagePosted' || !e.listed || e.seq === null) continue;
        const seq = BigInt(e.seq) - 1n;
        if (seq < lastSeq) lastSeq = seq;
      }
    }

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

    /** Delivers the hole's missing sequences (live where they came, else from the database), then its backlog. */
    async function* fill(): AsyncGenerator<ChannelEventPayload> {
      const h = hole!;
      hole = null;
      clearTimeout(h.timer);
      while (lastSeq < h.upto) {
        const live = h.late.get(lastSeq + 1n);
        if (!live) {
          yield* catchUp(h.upto);
          break;
        }
        lastSeq += 1n;
        yield live;
      }
      for (const e of h.backlog) yield* handle(e);
    }

    async function* handle(e: ChatEvent | Gap | HoleTimeout): AsyncGenerator<ChannelEventPayload> {
      if (e.type === 'Gap') {
        gap.gapTaken();
        const h = hole;
        hole = null;
        if (h) clearTimeout(h.timer);
        yield* catchUp(null); // covers any hole; the backlog's messages are then behind lastSeq
        if (h) for (const b of h.backlog) yield* handle(b);
        return;
      }
      if (e.type === 'HoleTimeout') {
        if (hole?.n === e.n) yield* fill();
        return;
      }
      if (hole) {
        if (e.type === 'MessagePosted' && e.listed && e.seq !== null) {
          const seq = BigInt(e.seq);
          if (seq > lastSeq && seq <= hole.upto) {
            hole.late.set(seq, e);
            if (BigInt(hole.late.size) === hole.upto - lastSeq) yield* fill();
            return;
          }
        }
        hole.backlog.push(e);
        return;
      }
      const s = step(e);
      if (s === 'deliver') yield e as ChannelEventPayload;
      if (s !== 'slow') return;
      if (e.type !== 'MessagePosted') throw notFound('channel', channelId);
      // Ahead of the last delivered: hold it (and what follows) while the missing ones arrive.
      const n = ++holes;
      hole = {
        n,
        upto: BigInt(e.seq!) - 1n,
        late: new Map(),
        backlog: [e],
        timer: setTimeout(() => queue.push({ type: 'HoleTimeout', n }), REORDER_WAIT_MS),
      };
    }

    try {
      if (after !== null) yield* catchUp(null);
      for await (const e of queue) yield* handle(e);
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
