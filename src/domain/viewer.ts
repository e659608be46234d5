import { unauthenticated, forbidden } from './errors.js';

export const BOT_SCOPES = ['CHANNELS_READ', 'CHANNELS_WRITE', 'CHAT_WRITE', 'REACTIONS_WRITE', 'USERS_READ'] as const;
export type BotScope = (typeof BOT_SCOPES)[number];

/** Rate tiers a partner key may have (the rate limits' `partner` and `premium` subjects). */
export const API_KEY_TIERS = ['STANDARD', 'PREMIUM'] as const;
export type ApiKeyTier = (typeof API_KEY_TIERS)[number];

/**
 * Who is calling. Bots act as their bot user, limited to their scopes and their workspace. A
 * partner key is the same kind of caller (its own app user in one workspace, limited to its
 * scopes), so every workspace and scope rule that holds a bot holds a partner; `partner` tells
 * the two apart for rate tiers and messages.
 */
export type Viewer = (
  | { kind: 'user'; userId: bigint }
  | {
      kind: 'bot';
      userId: bigint;
      workspaceId: bigint;
      scopes: ReadonlySet<BotScope>;
      /** Set when the credential is a partner API key (not a bot token). */
      partner?: { keyId: bigint; tier: ApiKeyTier };
    }
) & {
  /** When the credential stops being valid (long-lived connections are closed then). */
  expiresAt?: Date | null;
};

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw unauthenticated();
  return viewer;
}

/** What the caller's credential is called in messages. */
const credentialName = (viewer: Viewer) =>
  viewer.kind === 'bot' && viewer.partner ? 'This API key' : 'This bot token';

/** Users may do everything their roles allow; bots and partner keys only what their scopes name. */
export function requireScope(viewer: Viewer, scope: BotScope): void {
  if (viewer.kind === 'bot' && !viewer.scopes.has(scope)) {
    throw forbidden('bot/missing_scope', `${credentialName(viewer)} lacks the ${scope} scope`, { scope });
  }
}

export function requireHuman(viewer: Viewer, action: string): void {
  if (viewer.kind === 'bot')
    throw forbidden('bot/not_allowed', `${viewer.partner ? 'API keys' : 'Bots'} cannot ${action}`);
}
