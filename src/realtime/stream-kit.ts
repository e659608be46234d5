import type { Viewer } from '../domain/viewer.js';
import type { Message } from '../generated/prisma/client.js';
import type { EventOf } from '../domain/events/events.js';
import type { Hub } from './hub.js';
import type { ChatEvent } from '../domain/events/events.js';
import type { EventQueue } from './queue.js';
import { topics } from '../domain/events/topics.js';
import { viewTarget, type Presence } from '../infra/presence/presence.port.js';
import { toWire } from '../domain/events/wire.js';

/** What the channel, thread, typing and presence streams share: their inputs, payloads and helpers. */

/** A subscription payload: a live event (shared by every local subscriber) or a replayed message. */
export type ChannelEventPayload =
  EventOf<'MessagePosted'> | EventOf<'MessageEdited' | 'MessageDeleted' | 'ReactionChanged' | 'ThreadUpdated'>;

/**
 * What the streams need from the domain, and no more: access checks (the same rules as every
 * query) and the reads a replay is made of. The composition root passes the domain services' functions.
 */
export interface StreamSources {
  /** Throws NOT_FOUND when the viewer may not read the channel. */
  accessChannel(viewer: Viewer, channelId: bigint): Promise<{ channel: { kind: string } }>;
  /** Throws NOT_FOUND when the viewer may not read the message. */
  accessMessage(viewer: Viewer, messageId: bigint): Promise<{ message: Message; channel: { kind: string } }>;
  /** Replies of a thread after `after`, oldest first. */
  thread(
    viewer: Viewer,
    rootId: bigint,
    opts: { after: string; first: number },
  ): Promise<{ nodes: Message[]; hasNextPage: boolean }>;
  /** The channel sequence a stream resumes after (the sequence of message `after`). */
  resumeSeq(viewer: Viewer, channelId: bigint, after: bigint): Promise<bigint>;
  /** The channel's newest sequence now. */
  channelSeq(viewer: Viewer, channelId: bigint): Promise<bigint>;
  /** Sequenced messages after `afterSeq` (up to `uptoSeq`), oldest first. */
  replayBySeq(
    viewer: Viewer,
    channelId: bigint,
    opts: { afterSeq: bigint; uptoSeq?: bigint | null; first: number },
  ): Promise<Message[]>;
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

export function replayedEvent(m: Message): ChannelEventPayload {
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

/**
 * Marks what a connection looks at, locally (badge sessions skip it) and in presence (notifications
 * skip users viewing it on any connection, in any process); returns the undo.
 */
export function viewing(
  deps: Pick<StreamDeps, 'presence'>,
  connection: { id: string; viewChannel(id: string): () => void; viewThread(id: string): () => void },
  viewer: Viewer,
  what: { channel: string } | { thread: string },
): () => void {
  const userId = viewer.userId.toString();
  const [local, target] =
    'channel' in what
      ? [connection.viewChannel(what.channel), viewTarget.channel(what.channel)]
      : [connection.viewThread(what.thread), viewTarget.thread(what.thread)];
  const shared = deps.presence.view(userId, connection.id, target);
  return () => {
    local();
    shared();
  };
}

/** A gap in a topic's delivery (its shard failed over): the stream replays from the database. */
export interface Gap {
  type: 'Gap';
}

/**
 * Listens to a channel's topic into `queue`, with at most one gap marker waiting in it at a time
 * (a burst of gap signals replays once); unlistens when the queue closes. Returns `gapTaken`,
 * which the stream calls when it takes the marker off the queue.
 */
export async function listenWithGap(
  deps: Pick<StreamDeps, 'hub'>,
  channelId: string,
  queue: Pick<EventQueue<ChatEvent | Gap>, 'push' | 'onClose'>,
): Promise<{ gapTaken(): void }> {
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
  return { gapTaken: () => (gapQueued = false) };
}
