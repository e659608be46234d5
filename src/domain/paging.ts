/**
 * Relay Cursor Connections paging, written once for every list: the arguments (first/after,
 * last/before), the cursors, and how a page fetched from one end of the cursor-bounded window
 * becomes a page in the list's order with a complete pageInfo.
 *
 * Cursors are opaque to clients: base64url of a versioned JSON tuple [version, list, ...sort key],
 * where the sort key ends with the row's id, so a cursor names one position of one list. A cursor
 * that does not decode, names another list or has the wrong shape is BAD_USER_INPUT, never a
 * database error. Message lists are the exception the API contract promises: their cursors are
 * message ids (ids are time-ordered and are the whole sort key), so `after: <any message id>`
 * is the documented "older than this message" path.
 */
import { badInput, type DomainError } from './errors.js';
import { pageSize } from './validate.js';
import { parseId } from '../infra/ids/snowflake.js';

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/** A page in the list's order, with the Relay flags (the cursors are made from its nodes). */
export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Turns a list's sort key into a cursor and back; `decode` throws BAD_USER_INPUT. */
export interface CursorCodec<K> {
  encode(key: K): string;
  decode(cursor: string, field: string): K;
}

/**
 * Which end of the cursor-bounded window a page is taken from, and how many: `first` takes from
 * the start, `last` from the end; neither means `first` at the default size; both is refused
 * (the spec discourages it and its answer surprises clients).
 */
export interface Window<K> {
  forward: boolean;
  take: number;
  /** Only items after this key (in the list's order). */
  after: K | null;
  /** Only items before this key (in the list's order). */
  before: K | null;
}

const CURSOR_VERSION = 1;
const MAX_CURSOR_LENGTH = 512;

const badCursor = (field: string) => badInput('input/bad_cursor', `${field} is not a cursor of this list`, { field });

type KeyPart = 'text' | 'id';
type KeyOf<S extends readonly KeyPart[]> = { -readonly [I in keyof S]: S[I] extends 'id' ? bigint : string };

/**
 * An opaque cursor for the list named `list`, whose sort key has the given shape (e.g. ['text', 'id']).
 * `refuse` makes the error for a cursor that is not one (default: BAD_USER_INPUT input/bad_cursor).
 */
export function cursorCodec<const S extends readonly KeyPart[]>(
  list: string,
  shape: S,
  refuse: (field: string) => DomainError = badCursor,
): CursorCodec<KeyOf<S>> {
  return {
    encode(key) {
      const parts = (key as (string | bigint)[]).map((k) => (typeof k === 'bigint' ? k.toString() : k));
      return Buffer.from(JSON.stringify([CURSOR_VERSION, list, ...parts])).toString('base64url');
    },
    decode(cursor, field) {
      if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor))
        throw refuse(field);
      let v: unknown;
      try {
        v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      } catch {
        throw refuse(field);
      }
      if (!Array.isArray(v) || v.length !== shape.length + 2 || v[0] !== CURSOR_VERSION || v[1] !== list)
        throw refuse(field);
      return shape.map((kind, i) => {
        const part: unknown = v[i + 2];
        if (typeof part !== 'string') throw refuse(field);
        if (kind === 'text') return part;
        const id = parseId(part);
        if (id === null) throw refuse(field);
        return id;
      }) as KeyOf<S>;
    },
  };
}

/** A bare id as the cursor: message lists (the API contract), so any message id is a valid bound. */
export const idCursor: CursorCodec<bigint> = {
  encode: (id) => id.toString(),
  decode(cursor, field) {
    const id = parseId(cursor);
    if (id === null) throw badCursor(field);
    return id;
  },
};

/** Validates and decodes Relay arguments (page size 1 to `max`, default `fallback`). */
export function pageWindow<K>(args: ConnectionArgs, max: number, codec: CursorCodec<K>, fallback = 50): Window<K> {
  const hasFirst = args.first !== null && args.first !== undefined;
  const hasLast = args.last !== null && args.last !== undefined;
  if (hasFirst && hasLast) throw badInput('input/first_and_last', 'pass first or last, not both', { field: 'last' });
  return {
    forward: !hasLast,
    take: hasLast ? pageSize(args.last, max, fallback, 'last') : pageSize(args.first, max, fallback),
    after: args.after ? codec.decode(args.after, 'after') : null,
    before: args.before ? codec.decode(args.before, 'before') : null,
  };
}

/**
 * The page from rows read at most `take + 1` from the window's end (in the list's order when
 * forward, reversed when backward). Per the spec: paging forward, hasNextPage says whether more
 * follow and hasPreviousPage whether a cursor bounded the start (the item at `after` precedes);
 * paging backward, the other way round.
 */
export function pageFrom<T>(rows: T[], w: Window<unknown>): Page<T> {
  const nodes = rows.slice(0, w.take);
  return { nodes: w.forward ? nodes : nodes.reverse(), ...pageFlags(rows.length > w.take, w) };
}

/**
 * The Relay flags of a page taken from one end of the window, given whether more items follow it
 * in the direction it was taken (`more`): for lists whose reader pages by itself (search).
 */
export function pageFlags(
  more: boolean,
  w: Pick<Window<unknown>, 'forward' | 'after' | 'before'>,
): Pick<Page<unknown>, 'hasNextPage' | 'hasPreviousPage'> {
  if (w.forward) return { hasNextPage: more, hasPreviousPage: w.after !== null };
  return { hasNextPage: w.before !== null, hasPreviousPage: more };
}
