import type { PresenceStatusName } from '../../domain/events/events.js';

export type ManualStatus = 'AUTO' | 'AWAY' | 'DND';

export interface PresenceInfo {
  userId: string;
  status: PresenceStatusName;
  lastActiveAt: string | null;
}

export interface PresenceOptions {
  /** No activity for this long turns AUTO users AWAY. */
  idleMs: number;
  /** After the last connection closes, wait this long before going OFFLINE (a reload does not flicker). */
  offlineGraceMs: number;
  now?: () => number;
}

/**
 * The presence port. Never written to PostgreSQL: in memory for one process, in each user's Redis
 * shard (keys with expiry) for many.
 */
export interface Presence {
  readonly kind: string;
  /** A connection of this user opened (connId is unique per process). */
  connect(userId: string, connId: string): Promise<void>;
  disconnect(userId: string, connId: string): Promise<void>;
  /** Any request from the user counts as activity (ends automatic AWAY). Fire and forget. */
  activity(userId: string): void;
  setStatus(userId: string, manual: ManualStatus): Promise<PresenceInfo>;
  get(userIds: string[]): Promise<PresenceInfo[]>;
  /** Users among these with at least one live connection (for @here). */
  onlineAmong(userIds: string[]): Promise<string[]>;
  /**
   * A connection is looking at a target (`viewTarget.channel(id)` / `viewTarget.thread(rootId)`);
   * returns the undo. Fire and forget. Notifications skip users viewing what a message is in.
   */
  view(userId: string, connId: string, target: string): () => void;
  /** Users among these looking at the target on any connection, in any process. */
  viewingAmong(userIds: string[], target: string): Promise<string[]>;
  close(): void;
}

/** Names of what a connection can look at (see Presence.view). */
export const viewTarget = {
  channel: (id: string) => `c:${id}`,
  thread: (rootId: string) => `t:${rootId}`,
};
