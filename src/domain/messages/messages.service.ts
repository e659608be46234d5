import type { ServiceDeps } from '../deps.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { WorkspacesService } from '../workspaces/workspaces.service.js';
import { createMessageCommon } from './message-common.js';
import { createSendService } from './send.service.js';
import { createEditService } from './edit.service.js';
import { createHistoryService } from './history.service.js';
import { createUnfurlService } from './unfurls.js';

export type { Message } from '../../generated/prisma/client.js';
export type { SendMessageInput } from './send.service.js';
export type { Page } from './history.service.js';

/** Messages: send (send.service), edit and delete (edit.service), history and threads (history.service), unfurl removal (unfurls). */
export function createMessagesService(deps: ServiceDeps, channels: ChannelsService, workspaces: WorkspacesService) {
  const common = createMessageCommon(deps, channels);
  return {
    accessMessage: common.accessMessage,
    ...createSendService(deps, channels, common),
    ...createEditService(deps, workspaces, common),
    ...createHistoryService(deps, channels, common),
    ...createUnfurlService(deps, common),
    /** Shared with the reactions service (same access rule and publisher). */
    common,
  };
}

export type MessagesService = ReturnType<typeof createMessagesService>;
