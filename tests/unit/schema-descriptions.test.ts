import { expect, it } from 'vitest';
import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, isIntrospectionType } from 'graphql';
import { schema } from '../../src/graphql/schema.js';

/** Every type, field, argument, input field and enum value of the API, by coordinate, without a description. */
export function undescribed(): string[] {
  const missing: string[] = [];
  const has = (d: string | null | undefined) => !!d && d.trim().length > 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || isIntrospectionType(type)) continue;
    const builtIn = ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name);
    if (builtIn) continue;
    const root = ['Query', 'Mutation', 'Subscription'].includes(type.name);
    if (!root && !has(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const f of Object.values(type.getFields())) {
        if (!has(f.description)) missing.push(`${type.name}.${f.name}`);
        for (const a of f.args) if (!has(a.description)) missing.push(`${type.name}.${f.name}(${a.name}:)`);
      }
    } else if (isInputObjectType(type)) {
      for (const f of Object.values(type.getFields())) if (!has(f.description)) missing.push(`${type.name}.${f.name}`);
    } else if (isEnumType(type)) {
      for (const v of type.getValues()) if (!has(v.description)) missing.push(`${type.name}.${v.name}`);
    }
  }
  return missing;
}

it('every type, field, argument, input field and enum value of the schema has a description', () => {
  expect(undescribed()).toEqual([]);
});
