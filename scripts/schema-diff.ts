import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

/**
 * The schema diff check (docs/schema-changelog.md): compares the committed schema
 * (schema/schema.graphql) with the committed baseline (schema/baseline.graphql) using
 * @graphql-inspector/core and fails when a breaking change is not named by an entry in the
 * changelog's "Unreleased" section.
 *
 *   npm run schema:diff               check (CI); exit 1 on an unlisted breaking change
 *   npm run schema:diff -- --accept   after the check passes: the baseline becomes the current
 *                                     schema and the Unreleased entries move under today's date
 *
 * A committed baseline rather than "the schema of the previous commit" (`git show`): it works
 * on a shallow clone, a tarball or a squash-merge alike, and the pair baseline + changelog is
 * reviewed in the same change.
 */

export const UNRELEASED = '## Unreleased';

export interface SchemaDiffResult {
  /** Breaking changes no changelog entry names: the check fails when this is not empty. */
  unlisted: Change[];
  /** Breaking changes an entry names. */
  listed: Change[];
  dangerous: Change[];
  safe: Change[];
}

/** The coordinate a change is about (`Type.field`, `Type.field.arg`, `Enum.VALUE`, `Type`). */
export function coordinate(change: Change): string {
  return change.path ?? String(change.type);
}

/**
 * The coordinates named by the entries of the changelog's "## Unreleased" section: each entry is
 * a list item starting with the coordinate in backticks, e.g.
 * "- `Query.channels` removed: use `Query.bootstrap`". Fenced code blocks (examples) are skipped.
 */
export function unreleasedEntries(changelog: string): Set<string> {
  const names = new Set<string>();
  let inside = false;
  let fenced = false;
  for (const line of changelog.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    else if (fenced) continue;
    else if (line.startsWith('## ')) inside = line.trim() === UNRELEASED;
    else if (inside) {
      const m = /^[-*]\s+`([^`]+)`/.exec(line.trim());
      if (m) names.add(m[1]!.trim());
    }
  }
  return names;
}

export async function checkSchemaDiff(
  baselineSdl: string,
  currentSdl: string,
  changelog: string,
): Promise<SchemaDiffResult> {
  const changes = await diff(buildSchema(baselineSdl), buildSchema(currentSdl));
  const entries = unreleasedEntries(changelog);
  const result: SchemaDiffResult = { unlisted: [], listed: [], dangerous: [], safe: [] };
  for (const c of changes) {
    switch (c.criticality.level) {
      case CriticalityLevel.Breaking:
        (entries.has(coordinate(c)) ? result.listed : result.unlisted).push(c);
        break;
      case CriticalityLevel.Dangerous:
        result.dangerous.push(c);
        break;
      default:
        result.safe.push(c);
    }
  }
  return result;
}

/** The changelog with the Unreleased entries moved under a dated heading and an empty Unreleased section. */
export function releaseChangelog(changelog: string, date: string): string {
  const lines = changelog.split('\n');
  // The last "## Unreleased" line: the policy above it may show one inside an example.
  const at = lines.findLastIndex((l) => l.trim() === UNRELEASED);
  if (at < 0) throw new Error(`the changelog has no "${UNRELEASED}" section`);
  let end = lines.findIndex((l, i) => i > at && l.startsWith('## '));
  if (end < 0) end = lines.length;
  const body = lines.slice(at + 1, end).filter((l) => l.trim() !== '');
  if (body.length === 0) return changelog;
  return [...lines.slice(0, at), UNRELEASED, '', `## ${date}`, '', ...body, '', ...lines.slice(end)].join('\n');
}

function describe(c: Change): string {
  return `  ${coordinate(c)}: ${c.message}`;
}

async function main(): Promise<number> {
  const file = (p: string) => new URL(`../${p}`, import.meta.url);
  const baseline = readFileSync(file('schema/baseline.graphql'), 'utf8');
  const current = readFileSync(file('schema/schema.graphql'), 'utf8');
  const changelog = readFileSync(file('docs/schema-changelog.md'), 'utf8');
  const r = await checkSchemaDiff(baseline, current, changelog);

  if (r.listed.length) console.log(`breaking changes with a changelog entry:\n${r.listed.map(describe).join('\n')}`);
  if (r.dangerous.length) console.log(`dangerous changes (allowed):\n${r.dangerous.map(describe).join('\n')}`);
  if (r.unlisted.length) {
    console.error(
      `schema:diff: ${r.unlisted.length} breaking change(s) against schema/baseline.graphql without an entry ` +
        `under "${UNRELEASED}" in docs/schema-changelog.md:\n${r.unlisted.map(describe).join('\n')}\n` +
        'Prefer an additive change (deprecate with @deprecated(reason:) and keep the old field). If the break is ' +
        'intended, add one entry per coordinate, e.g. "- `' +
        coordinate(r.unlisted[0]!) +
        '` <what changed and what clients should do>", then run `npm run schema:diff -- --accept`.',
    );
    return 1;
  }
  if (process.argv.includes('--accept')) {
    writeFileSync(file('schema/baseline.graphql'), current);
    const date = new Date().toISOString().slice(0, 10);
    writeFileSync(file('docs/schema-changelog.md'), releaseChangelog(changelog, date));
    console.log('schema/baseline.graphql updated; Unreleased entries dated. Commit both files.');
    return 0;
  }
  const behind = r.safe.length + r.dangerous.length + r.listed.length;
  console.log(
    `schema:diff: no unlisted breaking change` +
      (behind ? ` (${behind} change(s) since the baseline; \`npm run schema:diff -- --accept\` records them)` : ''),
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
