import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Only domain services emit client-visible events, and only after their transaction commits.
 * This walks the syntax tree of every source file: a call to `publish` / `publishAll` must not sit
 * inside a `withTx(...)` or `$transaction(...)` callback, and outside src/domain only the presence
 * adapters (which write no database state) and the publisher itself may publish.
 */
const root = join(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'generated') return [];
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const PUBLISH = new Set(['publish', 'publishAll']);
const TX = new Set(['withTx', '$transaction']);

function calleeName(call: ts.CallExpression): string | null {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return null;
}

interface Site {
  file: string;
  line: number;
  insideTx: boolean;
}

function publishSites(file: string, text = readFileSync(file, 'utf8')): Site[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const sites: Site[] = [];
  const visit = (node: ts.Node, txDepth: number) => {
    let depth = txDepth;
    if (ts.isCallExpression(node)) {
      const name = calleeName(node);
      if (name && PUBLISH.has(name)) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart());
        sites.push({ file: relative(root, file), line: line + 1, insideTx: txDepth > 0 });
      }
      if (name && TX.has(name)) depth += 1;
    }
    ts.forEachChild(node, (child) => visit(child, depth));
  };
  visit(source, 0);
  return sites;
}

const sites = files(root).flatMap((f) => publishSites(f));

describe('events are published after commit, by the domain', () => {
  it('finds the publish calls (the walk works)', () => {
    expect(sites.filter((s) => s.file.startsWith('domain/')).length).toBeGreaterThan(5);
  });

  it('never publishes inside a transaction callback', () => {
    expect(sites.filter((s) => s.insideTx)).toEqual([]);
  });

  it('publishes only from domain services (and presence, which writes no database state)', () => {
    // Besides the domain: presence, the publisher that forwards events to the engine, the channel
    // feed that forwards them too (after showing them to this process's read cache), and the engine.
    const allowed = (f: string) =>
      f.startsWith('domain/') ||
      f.startsWith('infra/presence/') ||
      f.startsWith('infra/pubsub/') ||
      f === 'realtime/publisher.ts' ||
      f === 'realtime/channel-feed.ts';
    expect(sites.filter((s) => !allowed(s.file))).toEqual([]);
  });

  it('would notice a publish inside withTx or $transaction', () => {
    const probe = join(root, 'domain/probe.ts');
    const bad = publishSites(probe, 'await withTx(prisma, async (tx) => { await tx.x(); events.publish(e); });');
    const bad2 = publishSites(probe, 'await prisma.$transaction(async () => { common.publishAll([e]); });');
    const good = publishSites(probe, 'await withTx(prisma, async (tx) => { await tx.x(); });\nevents.publish(e);');
    expect([bad[0]?.insideTx, bad2[0]?.insideTx, good[0]?.insideTx]).toEqual([true, true, false]);
  });
});
