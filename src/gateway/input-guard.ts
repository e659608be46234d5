import { GraphQLError, Kind, type ASTNode, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** How deep a variable value may nest (lists and objects); far more than any real input needs. */
export const MAX_VARIABLE_DEPTH = 64;
/** How many values (leaves and containers) the variables may hold in all. */
export const MAX_VARIABLE_NODES = 100_000;

/** Why a string cannot be stored: PostgreSQL rejects NUL, and lone surrogates are not text. */
function badString(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain the NUL character';
  if (!s.isWellFormed()) return 'must be valid Unicode (it contains a lone surrogate)';
  return null;
}

const refuse = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new GraphQLError(`${field} ${message}`, {
    extensions: { code: 'BAD_USER_INPUT', reason: 'input/bad_string', field, ...extra },
  });

/**
 * The one guard for every string input, over HTTP and WebSocket, before any service runs: string
 * literals in the document and every string inside the variables. NUL or a lone surrogate is
 * refused as BAD_USER_INPUT naming the argument (or variable path). Variables are walked without
 * recursion and bounded in depth and size, so a 10,000-deep value is an error, not a stack overflow.
 */
export function checkInputs(document: DocumentNode, variables: unknown): GraphQLError | null {
  if (!cleanDocuments.has(document)) {
    const refused = checkDocument(document);
    if (refused) return refused;
    cleanDocuments.add(document);
  }
  return checkVariables(variables);
}

/**
 * Documents whose literals passed. Yoga's parse cache hands out the same document object each time
 * its text comes back (HTTP and socket alike), so a document is walked once, its variables every time.
 */
const cleanDocuments = new WeakSet<DocumentNode>();

/**
 * The guard as a yoga/envelop plugin: every operation over HTTP (query, mutation, and
 * subscriptions over SSE) is checked after validation and before execution; a refused one answers
 * its error without running any resolver. The WebSocket calls checkInputs itself in onSubscribe.
 */
export function inputGuard(): Plugin {
  const guard = ({
    args,
    setResultAndStopExecution,
  }: {
    args: { document: DocumentNode; variableValues?: unknown };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }) => {
    const refused = checkInputs(args.document, args.variableValues);
    if (refused) setResultAndStopExecution({ errors: [refused] });
  };
  return { onExecute: guard, onSubscribe: guard };
}

function checkDocument(document: DocumentNode): GraphQLError | null {
  // Iterative walk; `name` is the nearest argument or input field name above the node.
  const stack: { node: ASTNode; name: string }[] = [{ node: document, name: 'argument' }];
  while (stack.length) {
    const { node, name } = stack.pop()!;
    if (node.kind === Kind.STRING) {
      const why = badString(node.value);
      if (why) return refuse(name, why);
      continue;
    }
    const here = node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD ? node.name.value : name;
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        for (const v of value)
          if (v && typeof v === 'object' && 'kind' in v) stack.push({ node: v as ASTNode, name: here });
      } else if (value && typeof value === 'object' && 'kind' in value) {
        stack.push({ node: value as ASTNode, name: here });
      }
    }
  }
  return null;
}

function checkVariables(variables: unknown): GraphQLError | null {
  if (variables == null || typeof variables !== 'object') return null;
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: variables, path: '', depth: 0 }];
  let seen = 0;
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (++seen > MAX_VARIABLE_NODES) return refuse('variables', `must hold at most ${MAX_VARIABLE_NODES} values`);
    if (typeof value === 'string') {
      const why = badString(value);
      if (why) return refuse(path.replace(/^\./, '$'), why);
      continue;
    }
    if (!value || typeof value !== 'object') continue;
    // An uploaded file (multipart request): its bytes are not strings; the files service checks its name.
    if (typeof (value as Blob).stream === 'function' && typeof (value as Blob).arrayBuffer === 'function') continue;
    if (depth >= MAX_VARIABLE_DEPTH)
      return refuse('variables', `must not nest deeper than ${MAX_VARIABLE_DEPTH} levels`, { path: path || '$' });
    if (Array.isArray(value))
      value.forEach((v, i) => stack.push({ value: v, path: `${path}[${i}]`, depth: depth + 1 }));
    else
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        stack.push({ value: v, path: `${path}.${k}`, depth: depth + 1 });
  }
  return null;
}
