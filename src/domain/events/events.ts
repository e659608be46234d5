import { topics, type Topic } from './topics.js';

/**
 * Every client-visible event, as a closed union that survives JSON (ids are strings, times ISO
 * strings). Domain services emit these after their transaction commits; the real-time layer
 * (subscriptions, badges, presence) consumes them. This is the single source for subscription
 * payloads. `topicsFor` says where each one is published.
 */
export type NotificationLevelName = 'ALL' | 'MENTIONS' | 'NONE';
export type PresenceStatusName = 'ONLINE' | 'AWAY' | 'DND' | 'OFFLINE';

/** A message as it travels in an event (so gateways render it without reading it back). */
export interface WireMessage {
  id: string;
  channelId: string;
  authorId: string;
  text: string;
  seq: string | null;
  threadRootId: string | null;
  alsoSentToChannel: boolean;
  listed: boolean;
  replyCount: number;
  lastReplyAt: string | null;
  clientNonce: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

/** One emoji's reactions on a message, as they travel in an event. */
export interface WireReaction {
  emoji: string;
  count: number;
  userIds: string[];
}

export type ChatEvent =
  | {
      type: 'MessagePosted';
      channelId: string;
      messageId: string;
      authorId: string;
      threadRootId: string | null;
      /** Listed in the channel (top-level, or a reply also sent to the channel). */
      listed: boolean;
      /** The channel's sequence number of this message when listed. */
      seq: string | null;
      mentionedUserIds: string[];
      mentionsChannel: boolean;
      mentionsHere: boolean;
      /** For replies: users who started following the thread with this reply. */
      newFollowerIds: string[];
      /** The message itself. */
      message: WireMessage;
    }
  | { type: 'MessageEdited'; channelId: string; messageId: string; threadRootId: string | null }
  | { type: 'MessageDeleted'; channelId: string; messageId: string; threadRootId: string | null }
  | {
      type: 'ReactionChanged';
      /** The message as it is now, and its reactions after the change (who reacted, per emoji): viewers
       * render `reactions { count reactedByMe }` from the event, without a database read each. */
      message: WireMessage;
      reactions: WireReaction[];
      channelId: string;
      messageId: string;
      threadRootId: string | null;
      emoji: string;
      userId: string;
      added: boolean;
    }
  | { type: 'ThreadUpdated'; channelId: string; rootId: string; replyCount: number; lastReplyAt: string | null }
  | { type: 'Typing'; channelId: string; threadRootId: string | null; userId: string; expiresAt: string }
  | { type: 'MembershipChanged'; channelId: string; userId: string; joined: boolean }
  | {
      type: 'ChannelRead';
      channelId: string;
      userId: string;
      lastReadMessageId: string;
      lastReadSeq: string;
      mentionCount: number;
    }
  | {
      type: 'MemberSettingsChanged';
      channelId: string;
      userId: string;
      notificationLevel: NotificationLevelName;
      muted: boolean;
    }
  | {
      type: 'ThreadFollowChanged';
      channelId: string;
      rootId: string;
      userId: string;
      following: boolean;
      unreadCount: number;
    }
  | { type: 'ThreadRead'; channelId: string; rootId: string; userId: string }
  | { type: 'PresenceChanged'; userId: string; status: PresenceStatusName; lastActiveAt: string | null }
  /**
   * Credentials (sessions, bot tokens, partner keys) were revoked: every gateway drops them from
   * its token cache. Not for clients; it travels the same ring so one rule carries every event.
   */
  | { type: 'CredentialsRevoked'; tokenHashes: string[] }
  /** A user's profile (name, handle, status, time zone, avatar) changed: every process forgets its cached copy. */
  | { type: 'ProfileChanged'; userId: string };

export type ChatEventType = ChatEvent['type'];
export type EventOf<T extends ChatEventType> = Extract<ChatEvent, { type: T }>;
/** Events published on a channel's topic. */
export type ChannelTopicEvent = EventOf<
  | 'MessagePosted'
  | 'MessageEdited'
  | 'MessageDeleted'
  | 'ReactionChanged'
  | 'ThreadUpdated'
  | 'Typing'
  | 'MembershipChanged'
>;

/** Where an event is published. */
export function topicsFor(event: ChatEvent): Topic[] {
  switch (event.type) {
    case 'MessagePosted':
    case 'MessageEdited':
    case 'MessageDeleted':
    case 'ReactionChanged':
    case 'ThreadUpdated':
    case 'Typing':
      return [topics.channel(event.channelId)];
    case 'MembershipChanged':
      return [topics.channel(event.channelId), topics.user(event.userId)];
    case 'ChannelRead':
    case 'MemberSettingsChanged':
    case 'ThreadFollowChanged':
    case 'ThreadRead':
      return [topics.user(event.userId)];
    case 'PresenceChanged':
      return [topics.presence(event.userId)];
    case 'CredentialsRevoked':
      return [topics.revocations()];
    case 'ProfileChanged':
      return [topics.profiles()];
    default: {
      const never: never = event;
      throw new Error(`no topic for ${(never as ChatEvent).type}`);
    }
  }
}

/** Where domain services hand events after commit. Never throws, never blocks the caller. */
export interface EventPublisher {
  publish(event: ChatEvent): void;
}
