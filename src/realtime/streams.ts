import type { Viewer } from '../domain/viewer.js';
import { notFound } from '../domain/errors.js';
import type { Message } from '../generated/prisma/client.js';
import type { ConnectionState } from './connection.js';
import type { ChatEvent, EventOf } from '../domain/events/events.js';
import { EventQueue } from './queue.js';
import { topics } from '../domain/events/topics.js';
import { snowflakeAt } from '../infra/ids/snowflake.js';
import { channelStream } from './channel-stream.js';
import {
  abortable,
  listenWithGap,
  replayedEvent,
  viewing,
  type ChannelEventPayload,
  type Gap,
  type StreamDeps,
} from './stream-kit.js';

export type { ChannelEventPayload, StreamDeps, StreamSources } from './stream-kit.js';

const REPLAY_PAGE = 100;
/** Replayed ids remembered to drop their live duplicates (publishes still in flight after replay). */
const DEDUPE_WINDOW = 1_000;
/**
 * How far back a gap replay reaches behind the newest delivered id. Another gateway may publish
 * to a dead shard until it notices, after this one has moved and received newer messages live;
 * those lost messages are older than the last one delivered, so replaying from it would skip them.
 */
const GAP_LOOKBACK_MS = 15_000;

/**
 * Listens to a channel topic into a bounded queue, replays from the database, then goes live:
 * the queue is listening before the replay query runs, so nothing committed in between is
 * missed, and replayed ids are dropped when they also arrive live. When the pub/sub engine
 * signals a gap (a shard failed over), it replays again from a little before the last message it
 * delivered (GAP_LOOKBACK_MS), skipping what it already sent.
 *
 * Returned as an iterator whose `return()` closes the queue at once: an async generator's own
 * `return()` would wait for the next event, and an idle channel would keep its listener forever.
 */
function replayThenLive(
  deps: StreamDeps,
  connection: ConnectionState,
  channelId: string,
  view: () => () => void,
  replay: (after: bigint) => AsyncGenerator<Message>,
  after: bigint | null,
  accept: (e: ChatEvent) => ChannelEventPayload | null | 'revoked',
): AsyncIterableIterator<ChannelEventPayload> {
  const queue = new EventQueue<ChatEvent | Gap>(deps.queueLimit, () => connection.close(1013, 'slow consumer'));
  const startedAt = new Date();
  async function* run(): AsyncGenerator<ChannelEventPayload> {
    const stopViewing = view();
    queue.onClose(stopViewing);
    const gap = await listenWithGap(deps, channelId, queue);
    await deps.testHooks?.afterListen?.();
    // Ids delivered lately, so a message that comes both from a replay and live is sent once.
    const delivered = new Set<string>();
    let lastId: bigint | null = after;
    const remember = (id: string) => {
      delivered.add(id);
      if (delivered.size > DEDUPE_WINDOW) delivered.delete(delivered.values().next().value!);
      const n = BigInt(id);
      if (lastId === null || n > lastId) lastId = n;
    };
    async function* catchUp(from: bigint): AsyncGenerator<ChannelEventPayload> {
      for await (const m of replay(from)) {
        if (queue.closed) return;
        const id = m.id.toString();
        if (delivered.has(id)) continue;
        remember(id);
        yield replayedEvent(m);
      }
    }
    try {
      if (after !== null) yield* catchUp(after);
      for await (const e of queue) {
        if (e.type === 'Gap') {
          gap.gapTaken();
          // From a little before the newest delivered id (never before the stream's own start):
          // ids already delivered are skipped by the de-dup set.
          const floor = after ?? snowflakeAt(startedAt);
          const lookback = snowflakeAt(new Date(Date.now() - GAP_LOOKBACK_MS));
          const from = lastId === null || lookback < lastId ? lookback : lastId;
          yield* catchUp(from > floor ? from : floor);
          continue;
        }
        if (e.type === 'MessagePosted') {
          if (delivered.has(e.messageId)) continue;
          const out = accept(e);
          if (out && out !== 'revoked') {
            remember(e.messageId);
            yield out;
          }
          continue;
        }
        const out = accept(e);
        if (out === 'revoked') throw notFound('channel', channelId);
        if (out) yield out;
      }
    } finally {
      await queue.return();
    }
  }
  return abortable(run(), () => queue.return());
}

export function createStreams(deps: StreamDeps) {
  const { sources } = deps;

  return {
    /** The visible channel: messages and changes, replayed after `after`, then live. */
    async channel(viewer: Viewer, connection: ConnectionState, channelId: bigint, after: bigint | null) {
      const { channel } = await sources.accessChannel(viewer, channelId);
      return channelStream(deps, connection, viewer, channelId, after, channel.kind !== 'PUBLIC');
    },

    /** An open thread pane: replies (and changes to them and the root), replayed then live. */
    async thread(viewer: Viewer, connection: ConnectionState, rootId: bigint, after: bigint | null) {
      const { message: root, channel } = await sources.accessMessage(viewer, rootId);
      if (root.threadRootId) throw notFound('thread', rootId);
      const isPrivate = channel.kind !== 'PUBLIC';
      const rid = rootId.toString();
      const me = viewer.userId.toString();
      async function* replay(from: bigint) {
        let cursor = from;
        for (;;) {
          const page = await sources.thread(viewer, rootId, { after: cursor.toString(), first: REPLAY_PAGE });
          yield* page.nodes;
          if (!page.hasNextPage || page.nodes.length === 0) return;
          cursor = page.nodes.at(-1)!.id;
        }
      }
      return replayThenLive(
        deps,
        connection,
        root.channelId.toString(),
        () => viewing(deps, connection, viewer, { thread: rid }),
        replay,
        after,
        (e) => {
          switch (e.type) {
            case 'MessagePosted':
              return e.threadRootId === rid ? e : null;
            case 'MessageEdited':
            case 'MessageDeleted':
            case 'ReactionChanged':
              return e.threadRootId === rid || e.messageId === rid ? e : null;
            case 'ThreadUpdated':
              return e.rootId === rid ? e : null;
            case 'MembershipChanged':
              return isPrivate && !e.joined && e.userId === me ? 'revoked' : null;
            default:
              return null;
          }
        },
      );
    },

    /** Typing in a channel (threadRootId null) or one thread, from everyone but the viewer. */
    async typing(viewer: Viewer, connection: ConnectionState, channelId: bigint, threadRootId: bigint | null) {
      await sources.accessChannel(viewer, channelId);
      const me = viewer.userId.toString();
      const thread = threadRootId?.toString() ?? null;
      const queue = new EventQueue<EventOf<'Typing'>>(deps.queueLimit, () => connection.close(1013, 'slow consumer'));
      const unlisten = await deps.hub.listen(topics.channel(channelId), (e) => {
        if (e.type === 'Typing' && e.userId !== me && e.threadRootId === thread) queue.push(e);
        else if (e.type === 'MembershipChanged' && e.userId === me && !e.joined) {
          sources.accessChannel(viewer, channelId).catch((err: Error) => queue.fail(err));
        }
      });
      queue.onClose(unlisten);
      return queue;
    },

    /** Presence changes of the listed users (the ones a client shows), current state first. */
    async presence(viewer: Viewer, connection: ConnectionState, userIds: bigint[]) {
      await sources.requireVisibleUsers(viewer, userIds);
      const ids = userIds.map(String);
      const queue = new EventQueue<EventOf<'PresenceChanged'>>(deps.queueLimit, () =>
        connection.close(1013, 'slow consumer'),
      );
      const resend = (id: string) => async () => {
        for (const p of await deps.presence.get([id])) queue.push({ type: 'PresenceChanged', ...p });
      };
      const unlisteners = await Promise.all(
        ids.map((id) =>
          deps.hub.listen(topics.presence(id), (e) => e.type === 'PresenceChanged' && queue.push(e), resend(id)),
        ),
      );
      queue.onClose(() => unlisteners.forEach((u) => u()));
      for (const p of await deps.presence.get(ids)) queue.push({ type: 'PresenceChanged', ...p });
      return queue;
    },
  };
}

export type Streams = ReturnType<typeof createStreams>;
