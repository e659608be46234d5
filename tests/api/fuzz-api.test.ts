/**
 * Argument fuzzing generated from the schema the server serves: for every Query and Mutation root
 * field that takes arguments, fast-check draws variables from the argument types (hostile strings,
 * huge and fractional numbers, ids of every wrong shape as well as real ones, invalid enum values,
 * long and deep lists, wrong types, nulls) and sends them over real HTTP. The properties: never a
 * 5xx, never INTERNAL_SERVER_ERROR, and when a mutation answers an error the database is unchanged
 * (row counts of every table). Seeds are fixed: a failure reproduces with the printed seed/path.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  getNamedType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { schema } from '../../src/graphql/schema.js';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { CreateChannelDocument, SendMessageDocument } from '../generated/gql/graphql.js';

/** Runs per field; fields × runs × 2 DB projects stays within a few thousand requests. */
const RUNS_PER_FIELD = Number(process.env.FUZZ_RUNS ?? 5);
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFFy',
  '\uFEFF\u202E\u200B',
  'x'.repeat(50_000),
  '💥'.repeat(2_000),
  "'; DROP TABLE users; --",
  '%_\\',
  '<@1> <!here> <!channel>',
  '<@99999999999999999999999>',
  'null',
  '1e309',
  '-0',
  '"\\u0000"',
  'a'.repeat(256) + '@example.com',
  'x@example.com',
  '(((((((((((((',
  'AND OR NOT "unterminated',
];

const HOSTILE_IDS = [
  '0',
  '-1',
  '',
  ' 1',
  'abc',
  '1.5',
  '1e3',
  '0x1F',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '99999999999999999999999999999999',
  '\u0000',
  '١٢٣',
];

const HUGE_NUMBERS = [0, -1, 1.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324];

function deepList(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Any JSON value: what a confused or hostile client may put where a typed value belongs. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 8 }),
  fc.constant({}),
  fc.constant([]),
  fc.constant({ nested: { deeper: [1, 'x', null] } }),
  fc.constantFrom(deepList(30), deepList(63)),
);

describeApi('schema-generated argument fuzzing over HTTP', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let realIds: string[] = [];
  let tables: string[] = [];

  beforeAll(async () => {
    // No background outbox consumer: between two counts only the request under test writes.
    t = await startTestApp({ OUTBOX_WORKER: 'off' });
    w = await basicWorkspace(t);
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'secret', private: true })
    ).createChannel;
    const m1 = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'hello' } }))
      .sendMessage;
    const m2 = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: secret.id, text: 'hush' } }))
      .sendMessage;
    realIds = [w.workspace.id, w.general.id, secret.id, m1.id, m2.id, w.ann.id, w.bob.id, w.eve.id];
    const rows = await t.app.db.prisma.$queryRawUnsafe<{ tablename: string }[]>(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`,
    );
    tables = rows.map((r) => r.tablename);
  });
  afterAll(() => t?.stop());

  /** Row counts of every table in one statement. */
  async function rowCounts(): Promise<Record<string, number>> {
    const sql = `SELECT ${tables.map((n, i) => `(SELECT count(*)::int FROM "${n}") AS c${i}`).join(', ')}`;
    const [row] = await t.app.db.prisma.$queryRawUnsafe<Record<string, number>[]>(sql);
    return Object.fromEntries(tables.map((n, i) => [n, Number(row![`c${i}`])]));
  }

  /** Values for an input type: mostly well-typed but hostile, sometimes of the wrong type. */
  function valueArb(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
    const nonNull = isNonNullType(type);
    const inner = getNullableType(type);
    let arb: fc.Arbitrary<unknown>;
    if (isListType(inner)) {
      const item = valueArb(inner.ofType, depth + 1);
      arb = fc.oneof(
        { weight: 4, arbitrary: fc.array(item, { maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constantFrom(...realIds).map((id) => Array.from({ length: 2_000 }, () => id)) },
        { weight: 1, arbitrary: fc.constantFrom(deepList(40), [[['x']]]) },
      );
    } else if (isInputObjectType(inner)) {
      const fields = Object.values(inner.getFields());
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of fields) model[f.name] = depth > 4 ? fc.constant(null) : valueArb(f.type, depth + 1);
      arb = fc.record(model, { requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name) });
    } else if (isEnumType(inner)) {
      arb = fc.oneof(fc.constantFrom(...inner.getValues().map((v) => v.name)), fc.constantFrom('NOT_A_VALUE', 'all'));
    } else {
      switch (inner.name) {
        case 'ID':
          arb = fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...realIds) },
            { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_IDS) },
            { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
            { weight: 1, arbitrary: fc.integer() },
          );
          break;
        case 'Int':
        case 'Float':
          arb = fc.oneof(fc.integer({ min: -5, max: 200 }), fc.constantFrom(...HUGE_NUMBERS), fc.integer());
          break;
        case 'Boolean':
          arb = fc.boolean();
          break;
        case 'DateTime':
          arb = fc.oneof(
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.constantFrom('not a date', '+275760-09-13T00:00:00.000Z', '0000-00-00', '2020-13-45T99:99:99Z', ''),
          );
          break;
        default: // String and any other scalar
          arb = fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
            { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
            { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
          );
      }
    }
    return fc.oneof(
      { weight: 8, arbitrary: arb },
      { weight: 1, arbitrary: wrongType },
      { weight: nonNull ? 1 : 2, arbitrary: fc.constant(null) },
    );
  }

  function variablesArb(field: GraphQLField<unknown, unknown>) {
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const a of field.args) model[a.name] = valueArb(a.type);
    return fc.record(model, { requiredKeys: field.args.filter((a) => isNonNullType(a.type)).map((a) => a.name) });
  }

  function documentFor(root: 'query' | 'mutation', field: GraphQLField<unknown, unknown>) {
    const defs = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
    const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
    const sel = isLeafType(getNamedType(field.type)) ? '' : '{ __typename }';
    return `${root} Fuzz(${defs}) { ${field.name}(${args}) ${sel} }`;
  }

  const roots = [
    ['query', schema.getQueryType()!],
    ['mutation', schema.getMutationType()!],
  ] as const;
  const fields = roots.flatMap(([root, type]) =>
    Object.values(type.getFields())
      .filter((f) => f.args.length > 0)
      .map((f) => ({ root, field: f })),
  );

  it('covers every query and mutation that takes arguments', () => {
    expect(fields.length).toBeGreaterThanOrEqual(35);
    expect(fields.some((f) => f.field.name === 'sendMessage')).toBe(true);
    expect(fields.some((f) => f.field.name === 'search')).toBe(true);
  });

  it('never answers 5xx or INTERNAL_SERVER_ERROR; an error from a mutation leaves every table as it was', async () => {
    let requests = 0;
    const codes = new Map<string, number>();
    for (const [i, { root, field }] of fields.entries()) {
      const query = documentFor(root, field);
      // Bob: a member of the workspace, not of the private channel; his token survives every mutation here.
      const client = w.bob.client;
      await fc.assert(
        fc.asyncProperty(variablesArb(field), async (variables) => {
          const before = root === 'mutation' ? await rowCounts() : null;
          const res = await client.raw({ query, variables }, { 'x-graphql-yoga-csrf': '1' });
          requests++;
          const text = await res.text();
          expect(res.status, `${field.name}: ${text.slice(0, 300)}`).toBeLessThan(500);
          const body = JSON.parse(text) as {
            data?: Record<string, unknown> | null;
            errors?: { message: string; extensions?: { code?: string } }[];
          };
          for (const e of body.errors ?? []) {
            const code = e.extensions?.code ?? 'none';
            codes.set(code, (codes.get(code) ?? 0) + 1);
            expect(code, `${field.name}: ${e.message}`).not.toBe('INTERNAL_SERVER_ERROR');
          }
          if (before && body.errors?.length && body.data?.[field.name] == null) {
            expect(await rowCounts(), `${field.name} failed but wrote: ${text.slice(0, 200)}`).toEqual(before);
          }
        }),
        { seed: SEED + i, numRuns: RUNS_PER_FIELD, endOnFailure: true },
      );
    }
    expect(requests).toBe(fields.length * RUNS_PER_FIELD);
    // The fuzzer reached past the guards: some answers were refusals of several kinds.
    expect(codes.get('BAD_USER_INPUT') ?? 0).toBeGreaterThan(0);
  });
});
