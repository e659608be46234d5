import type { ServiceDeps } from '../deps.js';
import { badInput } from '../errors.js';
import type { Viewer } from '../viewer.js';
import type { MessagesService } from '../messages/messages.service.js';

/** Following threads (who gets a thread badge) and reading them. */
export function createThreadsService(deps: ServiceDeps, messages: MessagesService) {
  const { prisma, events } = deps;

  async function accessRoot(viewer: Viewer, rootId: bigint) {
    const { message } = await messages.accessMessage(viewer, rootId);
    if (message.threadRootId)
      throw badInput('thread/not_root', 'rootId is a reply, not a thread root', { field: 'rootId' });
    return message;
  }

  return {
    async follow(viewer: Viewer, rootId: bigint): Promise<boolean> {
      const root = await accessRoot(viewer, rootId);
      const n = await prisma.$executeRaw`
        INSERT INTO thread_followers (root_id, user_id, channel_id, unread_count)
        VALUES (${rootId}, ${viewer.userId}, ${root.channelId}, 0) ON CONFLICT DO NOTHING`;
      if (n) {
        events.publish({
          type: 'ThreadFollowChanged',
          channelId: root.channelId.toString(),
          rootId: rootId.toString(),
          userId: viewer.userId.toString(),
          following: true,
          unreadCount: 0,
        });
      }
      return true;
    },

    async unfollow(viewer: Viewer, rootId: bigint): Promise<boolean> {
      const root = await accessRoot(viewer, rootId);
      const r = await prisma.threadFollower.deleteMany({ where: { rootId, userId: viewer.userId } });
      if (r.count) {
        events.publish({
          type: 'ThreadFollowChanged',
          channelId: root.channelId.toString(),
          rootId: rootId.toString(),
          userId: viewer.userId.toString(),
          following: false,
          unreadCount: 0,
        });
      }
      return true;
    },

    /** Marks every reply of a followed thread read. */
    async markRead(viewer: Viewer, rootId: bigint): Promise<boolean> {
      const root = await accessRoot(viewer, rootId);
      const r = await prisma.threadFollower.updateMany({
        where: { rootId, userId: viewer.userId },
        data: { unreadCount: 0, mentionCount: 0 },
      });
      if (r.count)
        events.publish({
          type: 'ThreadRead',
          channelId: root.channelId.toString(),
          rootId: rootId.toString(),
          userId: viewer.userId.toString(),
        });
      return r.count > 0;
    },

    /** The viewer's followed threads with unread replies and their mention counts (for bootstrap). */
    async unreadThreads(viewer: Viewer) {
      return prisma.threadFollower.findMany({
        where: { userId: viewer.userId, unreadCount: { gt: 0 } },
        orderBy: { rootId: 'asc' },
      });
    },

    async isFollowing(viewer: Viewer, rootId: bigint): Promise<boolean> {
      return (await prisma.threadFollower.count({ where: { rootId, userId: viewer.userId } })) > 0;
    },
  };
}

export type ThreadsService = ReturnType<typeof createThreadsService>;
