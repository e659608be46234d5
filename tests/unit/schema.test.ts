import { readFileSync } from 'node:fs';
import { parse, print, visit } from 'graphql';
import { expect, it } from 'vitest';
import { printedSchema } from '../../src/graphql/schema.js';

it('schema/schema.graphql matches the Pothos schema (run `npm run schema:print` after changing it)', () => {
  const committed = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
  expect(printedSchema()).toBe(committed);
});

it('keeps the names of the API contract', () => {
  // Compared without descriptions: a described argument list prints one argument per line.
  const sdl = print(
    visit(parse(printedSchema()), {
      enter: (node) => ('description' in node ? { ...node, description: undefined } : undefined),
    }),
  );
  for (const field of [
    'me: User!',
    'bootstrap: Bootstrap!',
    'channel(id: ID!): Channel',
    'messages(',
    'thread(',
    'users(ids: [ID!]!): [User]!',
    'channelMembers(',
    'file(id: ID!): FileObject',
  ]) {
    expect(sdl).toContain(field);
  }
  for (const m of [
    'signUp(',
    'logIn(',
    'createWorkspace(',
    'joinWorkspace(',
    'createChannel(',
    'joinChannel(',
    'leaveChannel(',
    'inviteToChannel(',
    'openDirectMessage(',
    'sendMessage(input: SendMessageInput!): Message!',
    'editMessage(',
    'deleteMessage(',
    'addReaction(',
    'removeReaction(',
    'markRead(',
    'setNotificationLevel(',
    'createBot(',
  ]) {
    expect(sdl).toContain(m);
  }
});
