import { badInput } from './errors.js';
import { parseId } from '../infra/ids/snowflake.js';

/** Parses a client id; a malformed id is bad input, never a database error. */
export function idArg(value: string, field: string): bigint {
  const id = parseId(value);
  if (id === null) throw badInput('input/bad_id', `${field} is not a valid id`, { field });
  return id;
}

export function idArgs(values: readonly string[], field: string, max = 100): bigint[] {
  if (values.length > max) throw badInput('input/too_many', `${field} takes at most ${max} ids`, { field });
  return [...new Set(values.map((v) => idArg(v, field)))];
}

export function pageSize(first: number | null | undefined, max: number, fallback = 50, field = 'first'): number {
  if (first === null || first === undefined) return Math.min(fallback, max);
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw badInput('input/bad_page_size', `${field} must be between 1 and ${max}`, { field });
  }
  return first;
}

/** Trims and checks a short name-like string (workspace, channel, user names). */
export function nameArg(value: string, field: string, max: number): string {
  const v = value.trim();
  if (v.length === 0) throw badInput('input/empty', `${field} must not be empty`, { field });
  if ([...v].length > max) throw badInput('input/too_long', `${field} must be at most ${max} characters`, { field });
  return v;
}

/** Length in Unicode code points, which is what users count as characters. */
export const charLength = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
