// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';
import prettier from 'eslint-config-prettier';

/**
 * The layers of src/, and who may import whom (checked by eslint-plugin-boundaries):
 *
 *   main, cli → app → gateway → graphql → realtime → domain → infra
 *
 * `events` (src/domain/events: the event union, topics, the wire form) is the shared kernel that
 * every layer may use; infra never imports the domain otherwise (its ports are its own). `config`
 * and `logger` are leaves. The generated Prisma client is data types for everyone below gateway.
 */
const elements = [
  { type: 'main', pattern: 'src/main.ts', mode: 'file' },
  { type: 'main', pattern: 'src/cli/**', partialMatch: false },
  { type: 'app', pattern: 'src/app.ts', mode: 'file' },
  { type: 'shared', pattern: 'src/config.ts', mode: 'file' },
  { type: 'shared', pattern: 'src/logger.ts', mode: 'file' },
  { type: 'gateway', pattern: 'src/gateway/**', partialMatch: false },
  { type: 'graphql', pattern: 'src/graphql/**', partialMatch: false },
  { type: 'realtime', pattern: 'src/realtime/**', partialMatch: false },
  { type: 'events', pattern: 'src/domain/events/**', partialMatch: false },
  { type: 'domain', pattern: 'src/domain/**', partialMatch: false },
  { type: 'infra', pattern: 'src/infra/**', partialMatch: false },
  { type: 'generated', pattern: 'src/generated/**', partialMatch: false },
];

/** @param {string} from @param {string[]} to */
const allow = (from, to) => ({
  from: { element: { type: from } },
  allow: { to: { element: { types: { anyOf: to } } } },
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'data/**',
      'src/generated/**',
      'tests/generated/**',
      'reports/**',
      'test-artifacts/**',
      '.stryker-tmp/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': elements,
      'boundaries/include': ['src/**/*.ts'],
      'import/resolver': { typescript: { alwaysTryTypes: true, project: './tsconfig.json' }, node: true },
    },
    rules: {
      'boundaries/no-unknown-files': 'error',
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: [
            allow('main', [
              'main',
              'app',
              'shared',
              'gateway',
              'graphql',
              'realtime',
              'events',
              'domain',
              'infra',
              'generated',
            ]),
            allow('app', ['shared', 'gateway', 'graphql', 'realtime', 'events', 'domain', 'infra', 'generated']),
            allow('shared', ['shared']),
            allow('gateway', ['gateway', 'graphql', 'realtime', 'events', 'domain', 'shared', 'generated']),
            allow('graphql', ['graphql', 'realtime', 'events', 'domain', 'generated']),
            allow('realtime', ['realtime', 'events', 'domain', 'infra', 'shared', 'generated']),
            allow('domain', ['domain', 'events', 'infra', 'shared', 'generated']),
            allow('events', ['events', 'generated']),
            allow('infra', ['infra', 'events', 'shared', 'generated']),
          ],
        },
      ],
    },
  },
  {
    // Tests, benchmarks and scripts drive the whole app and may log to the console.
    files: ['tests/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '*.config.ts', 'codegen.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Plain Node scripts (no TypeScript types to tell ESLint what is global).
    files: ['scripts/**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
  prettier,
);
