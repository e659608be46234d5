import {
  Kind,
  OperationTypeNode,
  getNamedType,
  getNullableType,
  isLeafType,
  isListType,
  isObjectType,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

type Project = (source: unknown) => unknown;

/**
 * A compiled projection for subscription payloads made only of "plain" types: object types whose
 * every field is the property of the same name, as the schema exposes it (BadgeUpdate,
 * ChannelBadge, ThreadBadge, Presence). For those, graphql-js execution (context, resolvers,
 * promises) is pure overhead on the hottest path (one badge frame per online member per window):
 * the projection reads the properties the selection names, under their aliases, through the
 * leaf types' own serializers, and gives the result `execute` would give.
 *
 * Returns null (use execute) for anything else: other types, directives, variables in the
 * selection, abstract types.
 */
export function compileProjection(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  plainTypes: ReadonlySet<string>,
  rootFields: ReadonlySet<string>,
): ((event: unknown) => ExecutionResult) | null {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  const root = schema.getSubscriptionType();
  if (!op || op.operation !== OperationTypeNode.SUBSCRIPTION || !root || op.directives?.length) return null;
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );

  /** Flattens a selection set into (responseKey, fieldName, subselection) for one concrete type. */
  function collect(
    type: GraphQLObjectType,
    set: SelectionSetNode,
    out: Map<string, { field: string; sets: SelectionSetNode[] }>,
    seen = new Set<string>(),
  ): boolean {
    for (const sel of set.selections) {
      if (sel.directives?.length) return false;
      if (sel.kind === Kind.FIELD) {
        if (sel.arguments?.length) return false;
        const key = sel.alias?.value ?? sel.name.value;
        const prev = out.get(key);
        if (prev && prev.field !== sel.name.value) return false;
        const entry = prev ?? { field: sel.name.value, sets: [] };
        if (sel.selectionSet) entry.sets.push(sel.selectionSet);
        out.set(key, entry);
      } else {
        const cond =
          sel.kind === Kind.INLINE_FRAGMENT
            ? sel.typeCondition?.name.value
            : fragments.get(sel.name.value)?.typeCondition.name.value;
        if (cond !== undefined && cond !== type.name) return false; // keep it simple: exact type conditions only
        const inner =
          sel.kind === Kind.INLINE_FRAGMENT ? sel.selectionSet : fragments.get(sel.name.value)?.selectionSet;
        if (!inner) return false;
        if (sel.kind === Kind.FRAGMENT_SPREAD) {
          if (seen.has(sel.name.value)) continue;
          seen.add(sel.name.value);
        }
        if (!collect(type, inner, out, seen)) return false;
      }
    }
    return true;
  }

  function compileValue(type: GraphQLOutputType, sets: SelectionSetNode[]): Project | null {
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      const item = compileValue(nullable.ofType, sets);
      if (!item) return null;
      return (v) => (v === null || v === undefined ? null : (v as unknown[]).map(item));
    }
    const named = getNamedType(type);
    if (isLeafType(named)) {
      if (sets.length) return null;
      return (v) => (v === null || v === undefined ? null : named.serialize(v));
    }
    if (!isObjectType(named) || !plainTypes.has(named.name)) return null;
    return compileObject(named, sets);
  }

  function compileObject(type: GraphQLObjectType, sets: SelectionSetNode[]): Project | null {
    const fields = new Map<string, { field: string; sets: SelectionSetNode[] }>();
    for (const set of sets) if (!collect(type, set, fields)) return null;
    const parts: [string, Project][] = [];
    for (const [key, { field, sets: sub }] of fields) {
      if (field === '__typename') {
        parts.push([key, () => type.name]);
        continue;
      }
      const def = type.getFields()[field];
      if (!def) return null;
      const value = compileValue(def.type, sub);
      if (!value) return null;
      parts.push([key, (src) => value((src as Record<string, unknown>)[field])]);
    }
    return (src) => {
      if (src === null || src === undefined) return null;
      const out: Record<string, unknown> = {};
      for (const [key, get] of parts) out[key] = get(src);
      return out;
    };
  }

  // The root: one field whose value is the event itself.
  const rootFieldsSel = new Map<string, { field: string; sets: SelectionSetNode[] }>();
  if (!collect(root, op.selectionSet, rootFieldsSel) || rootFieldsSel.size !== 1) return null;
  const [key, { field, sets }] = [...rootFieldsSel][0]!;
  if (!rootFields.has(field)) return null;
  const def = root.getFields()[field];
  if (!def) return null;
  const project = compileValue(def.type, sets);
  if (!project) return null;
  return (event) => ({ data: { [key]: project(event) } });
}
