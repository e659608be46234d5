import type { ServiceDeps } from '../deps.js';
import type { Viewer } from '../viewer.js';
import { requireHuman, requireScope } from '../viewer.js';
import { Prisma, type User } from '../../generated/prisma/client.js';
import { badInput, conflict, notFound } from '../errors.js';
import { LRUCache } from 'lru-cache';
import { createBatcher } from '../coalesce.js';
import { charLength, idArg, nameArg } from '../validate.js';
import { normalizeEmoji } from '../messages/emoji.js';
import { isUniqueViolation } from '../../infra/db/tx.js';

/**
 * Profiles (name, avatar...) are read on every page for its authors: a process-wide cache keeps
 * them this long at most (PROFILE_CACHE_TTL_MS). A profile change is seen at once in the process that made it and, through
 * the profiles topic (ProfileFeed), in every other process as soon as the event reaches it; the TTL
 * only bounds how long a copy can live if that event was lost.
 */
const PROFILE_TTL_MS = 5_000;
const PROFILE_CACHE_MAX = 50_000;

/** Handles: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit. */
export const HANDLE_MIN = 2;
export const HANDLE_MAX = 32;
const HANDLE = /^[a-z0-9][a-z0-9._-]*$/;
/** Words mentions give a meaning of their own (@here, @channel, @everyone). */
const RESERVED_HANDLES = new Set(['here', 'channel', 'everyone', 'me']);
const STATUS_TEXT_MAX = 100;
const DISPLAY_NAME_MAX = 80;

/** A user as shown to others: never the password hash. */
export type Profile = Omit<User, 'passwordHash'>;

/**
 * Profiles by id, in one statement (one fixed text for any number of ids): every column of `users`
 * but the password hash, named and typed as Prisma returns them (a test compares the two, so a new
 * column shows up there). Exported so bench/send-path.bench.ts and that test run the same SQL.
 */
export function profilesSql(ids: readonly bigint[]): Prisma.Sql {
  return Prisma.sql`
    SELECT id, email, name, is_bot AS "isBot", created_at AS "createdAt", handle, status_text AS "statusText",
           status_emoji AS "statusEmoji", time_zone AS "timeZone", avatar_file_id AS "avatarFileId"
    FROM users WHERE id = ANY(${ids}::bigint[])`;
}

/**
 * Where a process hears that profiles changed (the composition root wires the profiles topic of the
 * hub): `onChange` with each changed user, `onGap` when some changes may have been lost.
 */
export interface ProfileFeed {
  watch(onChange: (userId: bigint) => void, onGap: () => void): Promise<() => void>;
}

export interface UpdateProfileInput {
  displayName?: string | null;
  handle?: string | null;
  statusText?: string | null;
  statusEmoji?: string | null;
  /** An IANA name; '' clears it. */
  timeZone?: string | null;
  /** A READY image the viewer uploaded; '' clears it. */
  avatarFileId?: string | null;
}

/** Checks a handle and returns it lower-cased (without a leading '@'). */
export function checkHandle(input: string): string {
  const h = input.trim().replace(/^@/, '').toLowerCase();
  if (h.length < HANDLE_MIN || h.length > HANDLE_MAX || !HANDLE.test(h)) {
    throw badInput(
      'user/bad_handle',
      `handle must be ${HANDLE_MIN} to ${HANDLE_MAX} lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`,
      { field: 'handle' },
    );
  }
  if (RESERVED_HANDLES.has(h)) throw badInput('user/reserved_handle', `@${h} is reserved`, { field: 'handle' });
  return h;
}

/** Checks an IANA time zone name and returns its canonical spelling (utc → UTC). */
export function checkTimeZone(input: string): string {
  const tz = input.trim();
  let canonical: string | null = null;
  if (/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz) && tz.length <= 64) {
    try {
      canonical = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    } catch {
      canonical = null;
    }
  }
  if (!canonical)
    throw badInput('user/bad_time_zone', 'timeZone must be an IANA time zone name, e.g. Europe/Paris', {
      field: 'timeZone',
    });
  return canonical;
}

export function createUsersService(deps: ServiceDeps) {
  const { prisma } = deps;
  const ttl = deps.profileCacheTtlMs ?? PROFILE_TTL_MS;
  const profileCache = new LRUCache<string, Profile>({ max: PROFILE_CACHE_MAX, ttl: Math.max(1, ttl) });
  /** Bumped by every change heard: a read that started before one does not store its answer. */
  let version = 0;
  const forget = (id: bigint) => {
    version++;
    profileCache.delete(id.toString());
  };
  const forgetAll = () => {
    version++;
    profileCache.clear();
  };
  // Other processes' changes (and gaps in hearing them). Until the topic is live, the TTL bounds staleness.
  deps.profileFeed?.watch(forget, forgetAll).catch(() => {});

  /**
   * Concurrent profile reads of every request share one statement: the authors of a page, so
   * through rawQuery (a prepared statement past Prisma's query path on PostgreSQL).
   */
  const loadProfile = createBatcher<bigint, Profile | null>(async (ids) => {
    const rows = await deps.rawQuery<Profile>(profilesSql(ids));
    const byId = new Map(rows.map((u) => [u.id, u]));
    return ids.map((id) => byId.get(id) ?? null);
  }, String);

  return {
    /**
     * Profiles by id (null where unknown), from the process-wide short-lived cache or one batched
     * read shared by concurrent requests. No visibility check: for authors of messages the viewer
     * may already read.
     */
    async profiles(ids: readonly bigint[]): Promise<(Profile | null)[]> {
      return Promise.all(
        ids.map(async (id) => {
          const hit = profileCache.get(id.toString());
          if (hit) return hit;
          const before = version;
          const user = await loadProfile(id);
          if (user && version === before) profileCache.set(id.toString(), user);
          return user;
        }),
      );
    },

    /** Forgets a cached profile (after it changed). */
    forgetProfile: forget,

    /**
     * Changes the viewer's own profile: only the fields given (null or absent: unchanged). The
     * handle is unique per deployment (CONFLICT when taken); the avatar is a READY image the viewer
     * uploaded. Publishes ProfileChanged after commit, so every process forgets its cached copy.
     */
    async updateProfile(viewer: Viewer, input: UpdateProfileInput): Promise<User> {
      requireHuman(viewer, 'update a profile');
      const data: Partial<Pick<User, 'name' | 'handle' | 'statusText' | 'statusEmoji' | 'timeZone' | 'avatarFileId'>> =
        {};
      if (input.displayName !== null && input.displayName !== undefined)
        data.name = nameArg(input.displayName, 'displayName', DISPLAY_NAME_MAX);
      if (input.handle !== null && input.handle !== undefined) data.handle = checkHandle(input.handle);
      if (input.statusText !== null && input.statusText !== undefined) {
        const text = input.statusText.trim();
        if (charLength(text) > STATUS_TEXT_MAX)
          throw badInput('input/too_long', `statusText must be at most ${STATUS_TEXT_MAX} characters`, {
            field: 'statusText',
          });
        data.statusText = text;
      }
      if (input.statusEmoji !== null && input.statusEmoji !== undefined) {
        const raw = input.statusEmoji.trim();
        const emoji = raw === '' ? '' : normalizeEmoji(raw);
        if (emoji === null)
          throw badInput('user/bad_emoji', 'statusEmoji must be one emoji or a :shortcode:', { field: 'statusEmoji' });
        data.statusEmoji = emoji;
      }
      if (input.timeZone !== null && input.timeZone !== undefined)
        data.timeZone = input.timeZone.trim() === '' ? null : checkTimeZone(input.timeZone);
      if (input.avatarFileId !== null && input.avatarFileId !== undefined) {
        if (input.avatarFileId === '') data.avatarFileId = null;
        else {
          const fileId = idArg(input.avatarFileId, 'avatarFileId');
          const file = await prisma.file.findUnique({ where: { id: fileId } });
          // Someone else's file answers like an unknown one.
          if (!file || file.uploaderId !== viewer.userId || file.deletedAt) throw notFound('file', fileId);
          if (file.status !== 'READY' || !file.mimeType.startsWith('image/'))
            throw badInput('user/bad_avatar', 'avatarFileId must be a READY image file', { field: 'avatarFileId' });
          data.avatarFileId = fileId;
        }
      }
      let user: User;
      try {
        user = await prisma.user.update({ where: { id: viewer.userId }, data });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict('user/handle_taken', `@${data.handle} is taken`);
        throw err;
      }
      forget(user.id);
      deps.events.publish({ type: 'ProfileChanged', userId: user.id.toString() });
      return user;
    },

    /**
     * Users the viewer may see: themselves and anyone sharing a workspace with them. Unknown or
     * hidden ids come back as null in their position.
     */
    visibleUsers,

    /**
     * The users, when the viewer may see every one of them; otherwise NOT_FOUND, without naming
     * which, so a hidden user answers exactly like an unknown id (presence watches and queries).
     */
    async requireVisible(viewer: Viewer, ids: bigint[]): Promise<User[]> {
      const users = await visibleUsers(viewer, ids);
      if (users.some((u) => u === null)) throw notFound('user');
      return users as User[];
    },

    /** The viewer's own user, never with the password hash (nothing past sign-in needs it). */
    async me(viewer: Viewer): Promise<User> {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: viewer.userId }, omit: { passwordHash: true } });
      return user as User;
    },
  };

  async function visibleUsers(viewer: Viewer, ids: bigint[]): Promise<(User | null)[]> {
    requireScope(viewer, 'USERS_READ');
    if (ids.length === 0) return [];
    const rows = await prisma.$queryRaw<{ id: bigint }[]>`
        SELECT DISTINCT wm.user_id AS id FROM workspace_members wm
        WHERE wm.user_id = ANY(${ids}::bigint[]) AND wm.workspace_id IN (
          SELECT workspace_id FROM workspace_members WHERE user_id = ${viewer.userId})`;
    const visible = new Set(rows.map((r) => r.id));
    visible.add(viewer.userId);
    const users = await prisma.user.findMany({
      where: { id: { in: ids.filter((i) => visible.has(i)) } },
      omit: { passwordHash: true },
    });
    const byId = new Map(users.map((u) => [u.id, u]));
    return ids.map((i) => (byId.get(i) as User | undefined) ?? null);
  }
}
