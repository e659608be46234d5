import type { ServiceDeps } from '../deps.js';
import type { Viewer } from '../viewer.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { MessagesService } from '../messages/messages.service.js';
import { badInput } from '../errors.js';

export const TYPING_THROTTLE_MS = 3_000;
/** How long a client shows "X is typing" without a new event. */
export const TYPING_TTL_MS = 6_000;

/**
 * Typing indicators: ephemeral, never stored. At most one event per user per channel (or thread)
 * per 3 s; the rest are dropped here, before they reach the pub/sub engine.
 */
export function createTypingService(
  deps: ServiceDeps,
  channels: ChannelsService,
  messages: MessagesService,
  now: () => number = Date.now,
) {
  const lastSent = new Map<string, number>();
  let lastSweep = now();

  function sweep(t: number) {
    if (t - lastSweep < TYPING_THROTTLE_MS) return;
    lastSweep = t;
    for (const [k, at] of lastSent) if (t - at >= TYPING_THROTTLE_MS) lastSent.delete(k);
  }

  return {
    /** Returns true when an event went out, false when throttled. */
    async typing(viewer: Viewer, channelId: bigint, threadRootId: bigint | null): Promise<boolean> {
      await channels.accessMembership(viewer, channelId);
      if (threadRootId !== null) {
        const { message } = await messages.accessMessage(viewer, threadRootId);
        if (message.channelId !== channelId || message.threadRootId)
          throw badInput('typing/bad_thread', 'threadRootId is not a thread root in this channel', {
            field: 'threadRootId',
          });
      }
      const t = now();
      sweep(t);
      const key = `${viewer.userId}:${channelId}:${threadRootId ?? ''}`;
      const prev = lastSent.get(key);
      if (prev !== undefined && t - prev < TYPING_THROTTLE_MS) return false;
      lastSent.set(key, t);
      deps.events.publish({
        type: 'Typing',
        channelId: channelId.toString(),
        threadRootId: threadRootId?.toString() ?? null,
        userId: viewer.userId.toString(),
        expiresAt: new Date(t + TYPING_TTL_MS).toISOString(),
      });
      return true;
    },
    /** Throttle entries held (for leak checks). */
    size: () => lastSent.size,
  };
}
