import { describe, expect, it } from 'vitest';
import { hasCriteria, parseSearchQuery, SEARCH_QUERY_LIMITS } from '../../src/domain/search/query-parser.js';
import { isDomainError } from '../../src/domain/errors.js';

const terms = (q: string) => parseSearchQuery(q).terms;

function badInput(q: string): { reason: string; message: string } {
  try {
    parseSearchQuery(q);
  } catch (e) {
    if (isDomainError(e)) {
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.details).toMatchObject({ field: 'query' });
      return { reason: e.reason, message: e.message };
    }
    throw e;
  }
  throw new Error(`expected BAD_USER_INPUT for ${JSON.stringify(q)}`);
}

describe('search query parser', () => {
  it('splits words, phrases and exclusions', () => {
    expect(terms('deploy  failed')).toEqual([
      { kind: 'word', text: 'deploy', negated: false },
      { kind: 'word', text: 'failed', negated: false },
    ]);
    expect(terms('"exact  phrase" -excluded -"not this"')).toEqual([
      { kind: 'phrase', text: 'exact phrase', negated: false },
      { kind: 'word', text: 'excluded', negated: true },
      { kind: 'phrase', text: 'not this', negated: true },
    ]);
    // A hyphen inside a word is part of it; a lone hyphen is nothing; "--x" excludes x.
    expect(terms('e-mail - --x')).toEqual([
      { kind: 'word', text: 'e-mail', negated: false },
      { kind: 'word', text: 'x', negated: true },
    ]);
    // A quote inside a word starts a phrase.
    expect(terms('foo"bar baz"')).toEqual([
      { kind: 'word', text: 'foo', negated: false },
      { kind: 'phrase', text: 'bar baz', negated: false },
    ]);
  });

  it('reads an unbalanced quote as a phrase to the end, and ignores empty quotes', () => {
    expect(terms('release "v2 rollout')).toEqual([
      { kind: 'word', text: 'release', negated: false },
      { kind: 'phrase', text: 'v2 rollout', negated: false },
    ]);
    expect(terms('"" " " x"')).toEqual([{ kind: 'word', text: 'x', negated: false }]);
    expect(terms('"')).toEqual([]);
  });

  it('keeps SQL, tsquery and filter syntax as literal words', () => {
    const q = parseSearchQuery(`'; DROP TABLE messages; -- channel_id:>0 && author_id:[1,2] a:* | !b <-> c \\ $1`);
    expect(q.terms.map((t) => t.text)).toEqual([
      'DROP',
      'TABLE',
      'messages;',
      'channel_id:>0',
      'author_id:[1,2]',
      'a:*',
      '!b',
      'c',
      '$1',
    ]);
    expect(q.terms.every((t) => !t.negated)).toBe(true);
    expect(q.in).toEqual([]);
  });

  it('treats unknown modifiers, URLs and times as words', () => {
    expect(terms('note:this https://example.com/a?b=1 12:30 foo:')).toEqual([
      { kind: 'word', text: 'note:this', negated: false },
      { kind: 'word', text: 'https://example.com/a?b=1', negated: false },
      { kind: 'word', text: '12:30', negated: false },
      { kind: 'word', text: 'foo:', negated: false },
    ]);
  });

  it('parses in:, from:, mentions: with names, ids, emails, me and DMs', () => {
    const q = parseSearchQuery(
      'in:#General in:<#123|random> -in:#noise from:@Ann from:@"Ann Lee" from:me mentions:<@42> mentions:bob@example.com -from:@bot in:@carl',
    );
    expect(q.in).toEqual([
      { kind: 'name', name: 'general' },
      { kind: 'id', id: 123n },
      { kind: 'dm', user: { kind: 'name', name: 'carl', handle: 'carl' } },
    ]);
    expect(q.notIn).toEqual([{ kind: 'name', name: 'noise' }]);
    // A value that could be a handle is also tried as one (lower-cased as written); "Ann Lee" cannot.
    expect(q.from).toEqual([
      { kind: 'name', name: 'ann', handle: 'ann' },
      { kind: 'name', name: 'annlee' },
      { kind: 'me' },
    ]);
    expect(q.notFrom).toEqual([{ kind: 'name', name: 'bot', handle: 'bot' }]);
    expect(parseSearchQuery('from:@ann.lee_2').from).toEqual([{ kind: 'name', name: 'annlee2', handle: 'ann.lee_2' }]);
    expect(q.mentions).toEqual([
      { kind: 'id', id: 42n },
      { kind: 'email', email: 'bob@example.com' },
    ]);
    expect(q.terms).toEqual([]);
    expect(hasCriteria(q)).toBe(true);
  });

  it('parses has:, is: and their negations', () => {
    expect(parseSearchQuery('has:file has:link is:thread')).toMatchObject({
      hasFile: true,
      hasLink: true,
      isThread: true,
    });
    expect(parseSearchQuery('-has:link -is:thread')).toMatchObject({ hasFile: null, hasLink: false, isThread: false });
  });

  it('turns dates into UTC bounds: before is exclusive, after starts the next day, on is one day', () => {
    const q = parseSearchQuery('before:2026-03-10 after:2026-03-01');
    expect(q.before?.toISOString()).toBe('2026-03-10T00:00:00.000Z');
    expect(q.after?.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    const on = parseSearchQuery('on:2024-02-29');
    expect([on.after?.toISOString(), on.before?.toISOString()]).toEqual([
      '2024-02-29T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
    // Several bounds: the narrowest wins.
    const both = parseSearchQuery('after:2026-01-01 after:2026-02-01 before:2026-06-01 before:2026-05-01');
    expect([both.after?.toISOString(), both.before?.toISOString()]).toEqual([
      '2026-02-02T00:00:00.000Z',
      '2026-05-01T00:00:00.000Z',
    ]);
  });

  it('says clearly what is wrong with a modifier value', () => {
    expect(badInput('before:2026-02-30').reason).toBe('search/bad_date');
    expect(badInput('after:yesterday').message).toContain('YYYY-MM-DD');
    expect(badInput('before:1969-12-31').reason).toBe('search/bad_date');
    expect(badInput('has:cake').message).toContain('file or link');
    expect(badInput('is:pinned').reason).toBe('search/bad_is');
    expect(badInput('in:').reason).toBe('search/empty_modifier');
    expect(badInput('in:#Bad/Name').reason).toBe('search/bad_channel');
    expect(badInput('from:@').reason).toBe('search/empty_modifier');
    expect(badInput('from:@...').reason).toBe('search/bad_user');
    expect(badInput('-before:2026-01-01').reason).toBe('search/bad_modifier');
    expect(badInput('-mentions:@ann').reason).toBe('search/bad_modifier');
  });

  it('limits length, terms, word length and values', () => {
    expect(parseSearchQuery('a'.repeat(SEARCH_QUERY_LIMITS.maxWordLength)).terms).toHaveLength(1);
    expect(badInput('x'.repeat(1_000)).reason).toBe('search/query_too_long');
    expect(badInput('y'.repeat(SEARCH_QUERY_LIMITS.maxWordLength + 1)).reason).toBe('search/word_too_long');
    expect(badInput(Array.from({ length: SEARCH_QUERY_LIMITS.maxTerms + 1 }, (_, i) => `w${i}`).join(' ')).reason).toBe(
      'search/too_many_terms',
    );
    expect(
      badInput(Array.from({ length: SEARCH_QUERY_LIMITS.maxValues + 1 }, (_, i) => `in:#c${i}`).join(' ')).reason,
    ).toBe('search/too_many_values');
    // Length counts characters, not UTF-16 units.
    const astral = `${'𐐀'.repeat(49)} `.repeat(SEARCH_QUERY_LIMITS.maxLength / 50);
    expect([...astral].length).toBe(SEARCH_QUERY_LIMITS.maxLength);
    expect(astral.length).toBeGreaterThan(SEARCH_QUERY_LIMITS.maxLength);
    expect(parseSearchQuery(astral).terms).toHaveLength(SEARCH_QUERY_LIMITS.maxLength / 50);
  });

  it('has no criteria for empty, blank or punctuation-only queries', () => {
    for (const q of ['', '   ', '!!! ***', '"   "', '-']) expect(hasCriteria(parseSearchQuery(q))).toBe(false);
    expect(hasCriteria(parseSearchQuery('x'))).toBe(true);
  });

  it('normalizes Unicode (NFKC) and keeps non-Latin words', () => {
    expect(terms('ｆｕｌｌｗｉｄｔｈ Ünïcödé 東京')).toEqual([
      { kind: 'word', text: 'fullwidth', negated: false },
      { kind: 'word', text: 'Ünïcödé', negated: false },
      { kind: 'word', text: '東京', negated: false },
    ]);
  });
});
