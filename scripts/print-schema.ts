import { writeFileSync } from 'node:fs';
import { printedSchema } from '../src/graphql/schema.js';

// Writes schema/schema.graphql from the Pothos schema (lexicographically sorted). Commit the result;
// tests/schema.test.ts fails when the committed file drifts from the code.
const path = new URL('../schema/schema.graphql', import.meta.url);
writeFileSync(path, printedSchema());
console.log(`wrote ${path.pathname}`);
