import { readFileSync } from 'node:fs';
import type { Change } from '@graphql-inspector/core';
import { describe, expect, it } from 'vitest';
import { checkSchemaDiff, coordinate, releaseChangelog, unreleasedEntries } from '../../scripts/schema-diff.js';

const baseline = /* GraphQL */ `
  type Query {
    me: User
    channels: [String!]! @deprecated(reason: "Use bootstrap.")
  }
  type User {
    id: ID!
    name: String!
  }
`;
const withoutChannels = /* GraphQL */ `
  type Query {
    me: User
  }
  type User {
    id: ID!
    name: String!
  }
`;
const changelog = (entries: string) => `# Schema changelog

Policy text, with an example that must not count:

\`\`\`markdown
## Unreleased

- \`Query.channels\` removed: an example only.
\`\`\`

## Unreleased
${entries}
## 2026-12-01

- \`User.email\` removed: an older entry.
`;

const names = (changes: Change[]) => changes.map(coordinate);

describe('schema diff check', () => {
  it('fails on a removed field that has no changelog entry (examples and dated entries do not count)', async () => {
    const r = await checkSchemaDiff(baseline, withoutChannels, changelog(''));
    expect(names(r.unlisted)).toEqual(['Query.channels']);
    expect(r.listed).toEqual([]);
  });

  it('passes when an Unreleased entry names the removed field', async () => {
    const r = await checkSchemaDiff(
      baseline,
      withoutChannels,
      changelog('\n- `Query.channels` removed: deprecated since 2026-11-02; use `Query.bootstrap`.\n'),
    );
    expect(r.unlisted).toEqual([]);
    expect(names(r.listed)).toEqual(['Query.channels']);
  });

  it('an entry covers only its own coordinate; additive changes need none', async () => {
    const current = /* GraphQL */ `
      type Query {
        me: User
        channels: [String!]! @deprecated(reason: "Use bootstrap.")
        bootstrap: String
      }
      type User {
        id: ID!
        name: String
      }
    `;
    const r = await checkSchemaDiff(baseline, current, changelog('- `Query.channels` removed\n'));
    // Making an output field nullable breaks clients; adding Query.bootstrap does not.
    expect(names(r.unlisted)).toEqual(['User.name']);
    expect(names(r.safe)).toEqual(['Query.bootstrap']);
  });

  it('reads entries of the Unreleased section only, and --accept dates them', () => {
    const text = changelog('\n- `Query.channels` removed: use bootstrap.\n- `Role.GUEST` removed\n');
    expect([...unreleasedEntries(text)]).toEqual(['Query.channels', 'Role.GUEST']);
    const released = releaseChangelog(text, '2026-12-06');
    expect([...unreleasedEntries(released)]).toEqual([]);
    expect(released).toContain('## 2026-12-06\n\n- `Query.channels` removed: use bootstrap.\n- `Role.GUEST` removed\n');
    expect(releaseChangelog(changelog(''), '2026-12-06')).toBe(changelog(''));
  });

  it('the committed schema has no unlisted breaking change against the committed baseline', async () => {
    const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
    const r = await checkSchemaDiff(
      read('schema/baseline.graphql'),
      read('schema/schema.graphql'),
      read('docs/schema-changelog.md'),
    );
    expect(
      r.unlisted.map((c) => `${coordinate(c)}: ${c.message}`),
      'run `npm run schema:diff` and see docs/schema-changelog.md',
    ).toEqual([]);
  });
});
