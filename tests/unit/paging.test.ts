/** The cursor codec and the page window of domain/paging.ts (the API behaviour is tests/api/connections.test.ts). */
import { describe, expect, it } from 'vitest';
import { cursorCodec, idCursor, pageFrom, pageWindow } from '../../src/domain/paging.js';
import { isDomainError } from '../../src/domain/errors.js';

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (isDomainError(err)) return `${err.code} ${err.reason}`;
    throw err;
  }
  throw new Error('expected a refusal');
};
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('cursors', () => {
  const names = cursorCodec('names', ['text', 'id']);

  it('round-trips a sort key through an opaque, URL-safe string', () => {
    const c = names.encode(['zoë "quoted"', 9223372036854775807n]);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(names.decode(c, 'after')).toEqual(['zoë "quoted"', 9223372036854775807n]);
  });

  it('refuses what it did not make for this list and version, as bad input', () => {
    const good = b64([1, 'names', 'ann', '12']);
    expect(names.decode(good, 'after')).toEqual(['ann', 12n]);
    for (const bad of [
      '',
      'not base64!',
      b64([2, 'names', 'ann', '12']), // another version
      b64([1, 'other', 'ann', '12']), // another list
      b64([1, 'names', 'ann']), // too short
      b64([1, 'names', 'ann', '12', 'x']), // too long
      b64([1, 'names', 'ann', 12]), // id not a string
      b64([1, 'names', 'ann', '9223372036854775808']), // past a bigint
      b64([1, 'names', 'ann', '-1']),
      b64({ t: 'names' }),
      'x'.repeat(600),
    ]) {
      expect(
        reasonOf(() => names.decode(bad, 'before')),
        bad,
      ).toBe('BAD_USER_INPUT input/bad_cursor');
    }
  });

  it('message cursors are bare ids', () => {
    expect(idCursor.encode(42n)).toBe('42');
    expect(idCursor.decode('42', 'after')).toBe(42n);
    expect(reasonOf(() => idCursor.decode(b64([1, 'names', 'a', '1']), 'after'))).toBe(
      'BAD_USER_INPUT input/bad_cursor',
    );
  });
});

describe('page window', () => {
  it('takes first from the start, last from the end, never both, 1 to max', () => {
    expect(pageWindow({}, 100, idCursor)).toEqual({ forward: true, take: 50, after: null, before: null });
    expect(pageWindow({ last: 3, before: '7' }, 100, idCursor)).toEqual({
      forward: false,
      take: 3,
      after: null,
      before: 7n,
    });
    expect(reasonOf(() => pageWindow({ first: 1, last: 1 }, 100, idCursor))).toBe(
      'BAD_USER_INPUT input/first_and_last',
    );
    expect(reasonOf(() => pageWindow({ first: 101 }, 100, idCursor))).toBe('BAD_USER_INPUT input/bad_page_size');
    expect(reasonOf(() => pageWindow({ last: 0 }, 100, idCursor))).toBe('BAD_USER_INPUT input/bad_page_size');
  });

  it('turns rows read from either end into a page in list order with the spec flags', () => {
    const fwd = pageWindow({ first: 2, after: '1' }, 100, idCursor);
    expect(pageFrom([2, 3, 4], fwd)).toEqual({ nodes: [2, 3], hasNextPage: true, hasPreviousPage: true });
    expect(pageFrom([2], pageWindow({ first: 2 }, 100, idCursor))).toEqual({
      nodes: [2],
      hasNextPage: false,
      hasPreviousPage: false,
    });
    // Backward reads come newest-end first and are put back in list order.
    expect(pageFrom([9, 8, 7], pageWindow({ last: 2 }, 100, idCursor))).toEqual({
      nodes: [8, 9],
      hasNextPage: false,
      hasPreviousPage: true,
    });
    expect(pageFrom([9], pageWindow({ last: 2, before: '10' }, 100, idCursor))).toEqual({
      nodes: [9],
      hasNextPage: true,
      hasPreviousPage: false,
    });
  });
});
