/**
 * Every client-visible event, as a closed union that survives JSON (ids are strings, times ISO
 * strings). Domain services emit these after their transaction commits; the real-time layer
 * (subscriptions, badges) consumes them. This is the single source for subscription payloads.
 */
export type ChatEvent =
  | {
      type: 'MessagePosted';
      channelId: string;
      messageId: string;
      authorId: string;
      threadRootId: string | null;
      /** Listed in the channel (top-level, or a reply also sent to the channel). */
      listed: boolean;
      seq: string | null;
      mentionedUserIds: string[];
      mentionsChannel: boolean;
      mentionsHere: boolean;
    }
  | { type: 'MessageEdited'; channelId: string; messageId: string; threadRootId: string | null }
  | { type: 'MessageDeleted'; channelId: string; messageId: string; threadRootId: string | null }
  | { type: 'ReactionChanged'; channelId: string; messageId: string; threadRootId: string | null; emoji: string; userId: string; added: boolean }
  | { type: 'ThreadUpdated'; channelId: string; rootId: string; replyCount: number; lastReplyAt: string | null }
  | { type: 'ChannelRead'; channelId: string; userId: string; lastReadMessageId: string }
  | { type: 'MembershipChanged'; channelId: string; userId: string; joined: boolean };

export type ChatEventType = ChatEvent['type'];

/** Where domain services hand events after commit. The real-time layer provides the implementation. */
export interface EventPublisher {
  publish(event: ChatEvent): void;
}

/** An in-process publisher that forwards to listeners; the real-time issue replaces it with the pub/sub engine. */
export function createLocalPublisher() {
  const listeners = new Set<(e: ChatEvent) => void>();
  return {
    publish(event: ChatEvent) {
      // Round-trip through JSON so a BigInt or Date in an event fails where it is published.
      const wire = JSON.parse(JSON.stringify(event)) as ChatEvent;
      for (const l of listeners) l(wire);
    },
    listen(fn: (e: ChatEvent) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  } satisfies EventPublisher & { listen: unknown };
}
