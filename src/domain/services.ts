import type { ServiceDeps } from './deps.js';
import { createAuthService } from './auth/auth.service.js';
import { createBotsService } from './bots/bots.service.js';
import { createApiKeysService } from './bots/api-keys.service.js';
import { createIncomingWebhooksService } from './webhooks/incoming.service.js';
import { createOutgoingWebhooksService } from './webhooks/outgoing.service.js';
import { createWorkspacesService } from './workspaces/workspaces.service.js';
import { createChannelsService } from './channels/channels.service.js';
import { createMessagesService } from './messages/messages.service.js';
import { createUsersService } from './users/users.service.js';
import { createFilesService } from './files/files.service.js';
import { createSearchService } from './search/search.service.js';
import { createThreadsService } from './threads/threads.service.js';
import { createTypingService } from './typing/typing.service.js';
import { createBadgesService } from './badges/badges.service.js';
import { createReactionsService } from './reactions/reactions.service.js';
import { createReadStateService } from './read-state/read-state.service.js';
import { createPreferencesService } from './notifications/preferences.service.js';

/** Wires the domain services together; called once by the composition root. */
export function createServices(deps: ServiceDeps) {
  const auth = createAuthService(deps);
  const workspaces = createWorkspacesService(deps);
  const bots = createBotsService(deps, workspaces, auth);
  const apiKeys = createApiKeysService(deps, workspaces, auth);
  const channels = createChannelsService(deps, workspaces);
  const messages = createMessagesService(deps, channels, workspaces);
  const incomingWebhooks = createIncomingWebhooksService(deps, workspaces, channels, messages);
  const eventSubscriptions = createOutgoingWebhooksService(deps, bots, {
    sender: deps.webhooks?.sender ?? null,
    maxFailures: deps.webhooks?.maxFailures ?? 10,
  });
  const reactions = createReactionsService(deps, messages.common);
  const readState = createReadStateService(deps, channels);
  const users = createUsersService(deps);
  const files = createFilesService(deps, channels);
  const threads = createThreadsService(deps, messages);
  const typing = createTypingService(deps, channels, messages);
  const badges = createBadgesService(deps);
  const search = createSearchService(deps);
  const notifyPrefs = createPreferencesService(deps, channels);
  return {
    auth,
    workspaces,
    bots,
    apiKeys,
    incomingWebhooks,
    eventSubscriptions,
    channels,
    messages,
    reactions,
    readState,
    users,
    files,
    threads,
    typing,
    badges,
    search,
    notifyPrefs,
  };
}

export type Services = ReturnType<typeof createServices>;
