import {
  GraphQLError,
  Kind,
  getOperationAST,
  validate,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import type { Viewer } from '../domain/viewer.js';

const COST = /^Syntax Error: Query Cost limit of (\d+) exceeded, found ([\d.]+?)\.?$/;

/** `first`/`last` literals above the page size, named with their field's path. */
export function pageSizeErrors(document: DocumentNode, maxPageSize: number): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const path: string[] = [];
  visit(document, {
    Field: {
      enter: (node) => void path.push(node.alias?.value ?? node.name.value),
      leave: () => void path.pop(),
    },
    Argument(node) {
      const name = node.name.value;
      if ((name !== 'first' && name !== 'last') || node.value.kind !== Kind.INT) return;
      const n = Number(node.value.value);
      if (n >= 1 && n <= maxPageSize) return;
      const field = path.join('.');
      errors.push(
        new GraphQLError(
          `${name} must be between 1 and ${maxPageSize} (got ${node.value.value} on ${field}): a page holds at most ${maxPageSize} items; follow pageInfo.endCursor for more`,
          { nodes: [node], extensions: { code: 'BAD_USER_INPUT', field: `${field}.${name}`, http: { status: 400 } } },
        ),
      );
    },
  });
  return errors;
}

/**
 * Limits that explain themselves: a page size above the maximum is refused before the cost
 * estimate (which multiplies by `first`) can call it a syntax error; a cost refusal says what
 * the limit is and how to stay under it. Both BAD_USER_INPUT.
 */
export function explainLimits(maxPageSize: number, maxCost: number): Plugin {
  // Documents come out of yoga's parse cache, the same object each time its text comes back: one
  // that passed is not walked again (documents are never modified).
  const passed = new WeakSet<DocumentNode>();
  return {
    onValidate({ params, setResult }) {
      const document = params.documentAST as DocumentNode;
      if (passed.has(document)) return;
      const errors = pageSizeErrors(document, maxPageSize);
      if (errors.length) setResult(errors);
      else passed.add(document);
    },
    onResultProcess({ result }) {
      for (const r of Array.isArray(result) ? result : [result]) {
        if (!r || typeof r !== 'object' || !('errors' in r) || !Array.isArray(r.errors)) continue;
        r.errors = (r.errors as GraphQLError[]).map((e) => explainCostError(e, maxPageSize, maxCost));
      }
    },
  };
}

/**
 * graphql-armor's cost refusal ("Syntax Error: Query Cost limit of … exceeded") rewritten as a
 * BAD_USER_INPUT that names the estimate and the limit; any other error is returned as it is.
 * HTTP rewrites results (explainLimits), the socket its validation errors (ws.ts).
 */
export function explainCostError(e: GraphQLError, maxPageSize: number, maxCost: number): GraphQLError {
  const m = COST.exec(e.message);
  if (!m) return e;
  return new GraphQLError(
    `This query's estimated cost is ${Math.ceil(Number(m[2]))}, above the limit of ${m[1] ?? maxCost}: select fewer fields or ask for smaller pages (first/last multiply the cost of what they select; a page holds at most ${maxPageSize} items)`,
    {
      extensions: {
        code: 'BAD_USER_INPUT',
        cost: { estimated: Math.ceil(Number(m[2])), limit: Number(m[1]) },
        http: { status: 400 },
      },
    },
  );
}

/**
 * The estimated cost of a document by the rule the cost limit enforces (graphql-armor's, same
 * options), so the number reported is the number the limit is checked against. Remembered per
 * parsed document (yoga and the socket reuse parsed documents from their caches).
 */
export function createCostEstimator(maxCost: number) {
  const costs = new WeakMap<DocumentNode, Map<string, number>>();
  return (schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): number => {
    let byOperation = costs.get(document);
    if (!byOperation) costs.set(document, (byOperation = new Map<string, number>()));
    const key = operationName ?? '';
    let cost = byOperation.get(key);
    if (cost === undefined) {
      // The executed operation only (with the fragments it may use), as the limit checks each one.
      const operation = getOperationAST(document, operationName);
      const single: DocumentNode = {
        ...document,
        definitions: document.definitions.filter((d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION),
      };
      let found = 0;
      validate(schema, single, [
        costLimitRule({
          maxCost,
          propagateOnRejection: false,
          onAccept: [(_ctx: unknown, { n }: { n: number }) => void (found = n)],
          onReject: [],
        }),
      ]);
      cost = Math.ceil(found);
      byOperation.set(key, cost);
    }
    return cost;
  };
}

/** Who is told what their operations cost: bots and partner keys (programs budgeting their calls). */
export const costReportedTo = (viewer: Viewer | null | undefined) => viewer?.kind === 'bot';

/** `extensions.cost` of a result: the operation's estimated cost and the limit it is held to. */
export function withCost<R extends { extensions?: Record<string, unknown> }>(
  result: R,
  requested: number,
  limit: number,
): R {
  result.extensions = { ...result.extensions, cost: { requested, limit } };
  return result;
}

/**
 * Reports `extensions.cost: { requested, limit }` on every query and mutation result of bot and
 * partner callers (HTTP; the socket adds it in ws.ts with the same estimator). Users get none.
 */
export function reportCost(maxCost: number, estimate = createCostEstimator(maxCost)): Plugin {
  return {
    onExecute({ args }) {
      const { contextValue, schema, document, operationName } = args as ExecutionArgs;
      if (!costReportedTo((contextValue as { viewer?: Viewer | null }).viewer)) return;
      const requested = estimate(schema, document, operationName);
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return; // incremental delivery: not reported
          setResult(withCost({ ...result }, requested, maxCost));
        },
      };
    },
  };
}
