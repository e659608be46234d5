import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkInputs, MAX_VARIABLE_DEPTH } from '../../src/gateway/input-guard.js';

const doc = parse('mutation M($t: String!) { sendMessage(input: { channelId: "1", text: $t }) { id } }');

describe('the input guard', () => {
  it('passes ordinary strings, emoji and other astral characters', () => {
    expect(checkInputs(doc, { t: 'hello 👋 — ünïcödé' })).toBeNull();
    expect(checkInputs(parse('{ search(query: "déjà vu 🚀") { totalCount } }'), {})).toBeNull();
  });

  it('refuses NUL and lone surrogates in variables, naming the path', () => {
    const nul = checkInputs(doc, { t: 'a\u0000b' });
    expect(nul?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$t' });
    expect(nul?.message).toMatch(/NUL/);
    const lone = checkInputs(doc, { input: { text: 'x\uD800y', list: ['ok'] } });
    expect(lone?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: '$input.text' });
    expect(checkInputs(doc, { l: ['ok', 'bad\uDC00'] })?.extensions?.['field']).toBe('$l[1]');
  });

  it('refuses NUL written inline, naming the argument (a lone surrogate cannot even be parsed)', () => {
    const inline = checkInputs(parse('mutation { createWorkspace(name: "a\\u0000b") { id } }'), {});
    expect(inline?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    // (graphql-js refuses lone surrogates in a document as a syntax error; NUL escapes parse)
    expect(() => parse('{ a(b: "x\\uD800") }')).toThrow(/Unicode/);
    const nested = checkInputs(
      parse('mutation { sendMessage(input: { channelId: "1", text: "a\\u0000" }) { id } }'),
      {},
    );
    expect(nested?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'text' });
  });

  it('bounds the depth of variables without recursing (10,000 deep is an error, not a stack overflow)', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const err = checkInputs(doc, { t: deep });
    expect(err?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variables' });
    let ok: unknown = 'x';
    for (let i = 0; i < MAX_VARIABLE_DEPTH - 2; i++) ok = { a: ok };
    expect(checkInputs(doc, { t: ok })).toBeNull();
  });
});
