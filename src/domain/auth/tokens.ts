import { createHash, randomBytes } from 'node:crypto';

/** Opaque bearer tokens: random, shown once, stored only as SHA-256 hex. */
export function newToken(prefix: 'chs' | 'chb'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
