import { execute, parse } from 'graphql';
import { expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.js';
import { compileProjection } from '../../src/gateway/projector.js';

const PLAIN = new Set(['BadgeUpdate', 'ChannelBadge', 'ThreadBadge']);
const ROOTS = new Set(['badges']);
const event = {
  channels: [
    { channelId: '11', unreadCount: 3, mentionCount: 1 },
    { channelId: '12', unreadCount: 0, mentionCount: 0 },
  ],
  threads: [{ threadRootId: '21', channelId: '11', unreadCount: 2 }],
};

const documents = [
  'subscription { badges { channels { channelId unreadCount mentionCount } threads { threadRootId channelId unreadCount } } }',
  'subscription B { b: badges { __typename c: channels { __typename id: channelId n: unreadCount } } }',
  'subscription { badges { ...F threads { unreadCount } } } fragment F on BadgeUpdate { channels { ... on ChannelBadge { mentionCount channelId } } threads { threadRootId } }',
  'subscription { badges { channels { channelId channelId } } }',
];

it('projects badge payloads exactly as graphql-js executes them', async () => {
  for (const text of documents) {
    const document = parse(text);
    const project = compileProjection(schema, document, undefined, PLAIN, ROOTS);
    expect(project, text).not.toBeNull();
    // The schema's badges field resolves the event itself; run it as the renderer would.
    const executed = await execute({ schema, document, rootValue: event, contextValue: {} });
    expect(JSON.stringify(project!(event)), text).toBe(JSON.stringify(executed));
  }
});

it('declines what it cannot project, so execution takes over', () => {
  for (const text of [
    'subscription { badges { channels @include(if: true) { channelId } } }',
    'subscription { channel(channelId: "1") { __typename } }',
    'subscription { typing(channelId: "1") { userId user { name } } }',
    'query { me { id } }',
  ]) {
    expect(compileProjection(schema, parse(text), undefined, PLAIN, ROOTS), text).toBeNull();
  }
});
