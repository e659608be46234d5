import { unauthenticated, forbidden } from './errors.js';

export const BOT_SCOPES = ['CHANNELS_READ', 'CHANNELS_WRITE', 'CHAT_WRITE', 'REACTIONS_WRITE', 'USERS_READ'] as const;
export type BotScope = (typeof BOT_SCOPES)[number];

/** Who is calling. Bots act as their bot user, limited to their scopes and their workspace. */
export type Viewer = (
  { kind: 'user'; userId: bigint } | { kind: 'bot'; userId: bigint; workspaceId: bigint; scopes: ReadonlySet<BotScope> }
) & {
  /** When the credential stops being valid (long-lived connections are closed then). */
  expiresAt?: Date | null;
};

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw unauthenticated();
  return viewer;
}

/** Users may do everything their roles allow; bots only what their scopes name. */
export function requireScope(viewer: Viewer, scope: BotScope): void {
  if (viewer.kind === 'bot' && !viewer.scopes.has(scope)) {
    throw forbidden('bot/missing_scope', `This bot token lacks the ${scope} scope`);
  }
}

export function requireHuman(viewer: Viewer, action: string): void {
  if (viewer.kind === 'bot') throw forbidden('bot/not_allowed', `Bots cannot ${action}`);
}
