import { GraphQLError, Kind, visit, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

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
  return {
    onValidate({ params, setResult }) {
      const errors = pageSizeErrors(params.documentAST as DocumentNode, maxPageSize);
      if (errors.length) setResult(errors);
    },
    onResultProcess({ result }) {
      for (const r of Array.isArray(result) ? result : [result]) {
        if (!r || typeof r !== 'object' || !('errors' in r) || !Array.isArray(r.errors)) continue;
        r.errors = (r.errors as GraphQLError[]).map((e) => {
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
        });
      }
    },
  };
}
