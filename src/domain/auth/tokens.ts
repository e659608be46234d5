import { createHash, randomBytes } from 'node:crypto';

/**
 * Opaque bearer tokens: random, shown once, stored only as SHA-256 hex. The prefix says what
 * the token is: `chs` a user session, `chb` a bot token, `chp` a partner API key.
 */
export function newToken(prefix: 'chs' | 'chb' | 'chp'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
