import type { Viewer } from '../domain/viewer.js';
import { notFound } from '../domain/errors.js';
import type { Message } from '../generated/prisma/client.js';
import type { ConnectionState } from './connection.js';
import type { ChatEvent, EventOf } from '../domain/events/events.js';
import type { Hub } from './hub.js';
import type { Presence } from '../infra/presence/presence.port.js';
import { EventQueue } from './queue.js';
import { topics } from '../domain/events/topics.js';
import { snowflakeAt } from '../infra/ids/snowflake.js';
import { toWire } from '../domain/events/wire.js';

/** A subscription payload: a live event (shared by every local subscriber) or a replayed message. */
export type ChannelEventPayload =
  EventOf<'MessagePosted'> | EventOf<'MessageEdited' | 'MessageDeleted' | 'ReactionChanged' | 'ThreadUpdated'>;

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
 * What the streams need from the domain, and no more: access checks (the same rules as every
 * query) and the reads a replay is made of. The composition root passes the domain services' functions.
 */
export interface StreamSources {
  /** Throws NOT_FOUND when the viewer may not read the channel. */
  accessChannel(viewer: Viewer, channelId: bigint): Promise<{ channel: { kind: string } }>;
  /** Throws NOT_FOUND when the viewer may not read the message. */
  accessMessage(viewer: Viewer, messageId: bigint): Promise<{ message: Message; channel: { kind: string } }>;
  /** Listed messages right after `after`, newest first (as the history query pages). */
  history(
    viewer: Viewer,
    channelId: bigint,
    opts: { after: bigint; first: number },
  ): Promise<{ nodes: Message[]; hasPreviousPage: boolean }>;
  /** Replies of a thread after `after`, oldest first. */
  thread(
    viewer: Viewer,
    rootId: bigint,
    opts: { after: bigint; first: number },
  ): Promise<{ nodes: Message[]; hasNextPage: boolean }>;
  /** Throws NOT_FOUND unless the viewer may see every one of these users (hidden looks like absent). */
  requireVisibleUsers(viewer: Viewer, userIds: bigint[]): Promise<void>;
}

export interface StreamDeps {
  hub: Hub;
  sources: StreamSources;
  presence: Presence;
  queueLimit: number;
  /**
   * Seams a test can hold to force an interleaving; never set in production. `afterListen` runs
   * once a replaying stream's listener is registered, before its replay query.
   */
  testHooks?: {
    afterListen?(): Promise<void>;
  };
}

function replayedEvent(m: Message): ChannelEventPayload {
  return {
    type: 'MessagePosted',
    channelId: m.channelId.toString(),
    messageId: m.id.toString(),
    authorId: m.authorId.toString(),
    threadRootId: m.threadRootId?.toString() ?? null,
    listed: m.listed,
    seq: m.seq?.toString() ?? null,
    mentionedUserIds: [],
    mentionsChannel: false,
    mentionsHere: false,
    newFollowerIds: [],
    message: toWire(m),
  };
}

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
  const queue = new EventQueue<ChatEvent | { type: 'Gap' }>(deps.queueLimit, () =>
    connection.close(1013, 'slow consumer'),
  );
  const startedAt = new Date();
  async function* run(): AsyncGenerator<ChannelEventPayload> {
    const stopViewing = view();
    queue.onClose(stopViewing);
    let gapQueued = false;
    const unlisten = await deps.hub.listen(
      topics.channel(channelId),
      (e) => queue.push(e),
      () => {
        if (!gapQueued) queue.push({ type: 'Gap' });
        gapQueued = true;
      },
    );
    queue.onClose(unlisten);
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
          gapQueued = false;
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

/** Wraps a generator so that return()/throw() first run `abort` (which unblocks a pending wait). */
export function abortable<T>(gen: AsyncGenerator<T>, abort: () => unknown): AsyncIterableIterator<T> {
  return {
    next: () => gen.next(),
    async return(value?: unknown) {
      await abort();
      return gen.return(value);
    },
    async throw(error?: unknown) {
      await abort();
      return gen.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export function createStreams(deps: StreamDeps) {
  const { sources } = deps;

  return {
    /** The visible channel: messages and changes, replayed after `after`, then live. */
    async channel(viewer: Viewer, connection: ConnectionState, channelId: bigint, after: bigint | null) {
      const { channel } = await sources.accessChannel(viewer, channelId);
      const isPrivate = channel.kind !== 'PUBLIC';
      const id = channelId.toString();
      const me = viewer.userId.toString();
      async function* replay(from: bigint) {
        let cursor = from;
        for (;;) {
          const page = await sources.history(viewer, channelId, { after: cursor, first: REPLAY_PAGE });
          const asc = [...page.nodes].reverse();
          yield* asc;
          if (!page.hasPreviousPage || asc.length === 0) return;
          cursor = asc.at(-1)!.id;
        }
      }
      return replayThenLive(
        deps,
        connection,
        id,
        () => connection.viewChannel(id),
        replay,
        after,
        (e) => {
          switch (e.type) {
            case 'MessagePosted':
              return e.listed ? e : null;
            case 'MessageEdited':
            case 'MessageDeleted':
            case 'ReactionChanged':
            case 'ThreadUpdated':
              return e;
            case 'MembershipChanged':
              return isPrivate && !e.joined && e.userId === me ? 'revoked' : null;
            default:
              return null;
          }
        },
      );
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
          const page = await sources.thread(viewer, rootId, { after: cursor, first: REPLAY_PAGE });
          yield* page.nodes;
          if (!page.hasNextPage || page.nodes.length === 0) return;
          cursor = page.nodes.at(-1)!.id;
        }
      }
      return replayThenLive(
        deps,
        connection,
        root.channelId.toString(),
        () => connection.viewThread(rid),
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
