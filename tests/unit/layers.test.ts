import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

/**
 * The layer rules live in eslint.config.js and run in CI with `npm run lint`. This proves they
 * are switched on and say what the README says: an import that goes up a layer is an error, one
 * that goes down is not. (The files are linted as text at paths inside src/, never written.)
 */
const eslint = new ESLint({ overrideConfig: { rules: { '@typescript-eslint/no-unused-vars': 'off' } } });

async function boundaryErrors(path: string, source: string) {
  const [result] = await eslint.lintText(source, { filePath: path });
  return result!.messages.filter((m) => m.ruleId?.startsWith('boundaries/')).map((m) => m.message);
}

const cases: { from: string; imports: string; allowed: boolean }[] = [
  { from: 'src/domain/messages/send.service.ts', imports: '../../realtime/hub.js', allowed: false },
  { from: 'src/domain/messages/send.service.ts', imports: '../../graphql/context.js', allowed: false },
  { from: 'src/domain/messages/send.service.ts', imports: '../events/events.js', allowed: true },
  { from: 'src/domain/messages/send.service.ts', imports: '../../infra/db/tx.js', allowed: true },
  { from: 'src/infra/pubsub/memory.broker.ts', imports: '../../domain/services.js', allowed: false },
  { from: 'src/infra/presence/presence.memory.ts', imports: '../../domain/events/events.js', allowed: true },
  { from: 'src/realtime/streams.ts', imports: '../gateway/ws.js', allowed: false },
  { from: 'src/realtime/streams.ts', imports: '../domain/viewer.js', allowed: true },
  { from: 'src/graphql/loaders.ts', imports: '../infra/db/database.js', allowed: false },
  { from: 'src/graphql/modules/message.ts', imports: '../../gateway/context.js', allowed: false },
  { from: 'src/gateway/ws.ts', imports: '../infra/db/database.js', allowed: false },
  { from: 'src/gateway/ws.ts', imports: '../graphql/context.js', allowed: true },
  { from: 'src/config.ts', imports: './domain/viewer.js', allowed: false },
  { from: 'src/app.ts', imports: './infra/db/database.js', allowed: true },
];

describe('layer boundaries (eslint-plugin-boundaries)', () => {
  it.each(cases)(
    '$from → $imports: allowed=$allowed',
    async ({ from, imports, allowed }) => {
      const errors = await boundaryErrors(from, `import type * as X from '${imports}';\nexport type Y = typeof X;\n`);
      if (allowed) expect(errors).toEqual([]);
      else expect(errors.join('\n')).toMatch(/no policy allowing dependencies/);
    },
    120_000,
  ); // the first case builds the type-checked program (tens of seconds on a busy machine)
});
