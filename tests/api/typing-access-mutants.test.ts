/**
 * The typing subscription checks channel access (src/realtime/streams.ts `typing`). The generated
 * access test cannot see this fault: with the check removed, a hidden channel and a missing one
 * both answer with a silent subscription, so they still "look alike". Here a non-member must be
 * refused outright, and must not receive a private channel's typing events.
 * (Planted fault 2 of "Tests that catch what they claim"; see docs/testing.md.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, subscribe } from '../helpers/ws.js';
import { CreateChannelDocument, TypingDocument, TypingInDocument } from '../generated/gql/graphql.js';

describeApi('typing subscription access', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  const sockets: { dispose: () => void }[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
  });
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await t?.stop();
  });

  it('refuses a non-member on a private channel with NOT_FOUND, and delivers nothing', async () => {
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'secret', private: true })
    ).createChannel.id;
    const bobWs = connect(t.url, w.bob.token);
    sockets.push(bobWs);
    const bobTyping = subscribe(bobWs.client, TypingInDocument, { channelId: secret });
    await bobTyping.until(() => bobTyping.completed, 5_000, 'the subscription to be refused');
    expect(JSON.stringify(bobTyping.errors)).toContain('NOT_FOUND');

    // Even while a refused-or-not subscription might linger, Ann's typing must not reach Bob.
    const again = subscribe(bobWs.client, TypingInDocument, { channelId: secret });
    await new Promise((r) => setTimeout(r, 200));
    expect((await w.ann.client.ok(TypingDocument, { channelId: secret })).typing).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.events).toEqual([]);
    again.unsubscribe();
  });
});
