/**
 * Link unfurls (src/domain/messages/unfurls.ts, src/infra/unfurl/): the `unfurls` outbox consumer
 * fetches the links of new and edited messages from a loopback web site (UNFURL_ALLOW_PRIVATE is
 * set: loopback is refused otherwise, see tests/unit/public-address.test.ts), viewers get a
 * MessageEdited event, and `Message.unfurls` holds the previews.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, listenMark, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { connect, subscribe } from '../helpers/ws.js';
import { startUnfurlSite } from '../helpers/unfurl-site.js';
import {
  ChannelUnfurlsDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  MessageUnfurlsDocument,
  RemoveUnfurlDocument,
  SendMessageDocument,
} from '../generated/gql/graphql.js';

describeApi('link unfurls', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let site: Awaited<ReturnType<typeof startUnfurlSite>>;

  beforeAll(async () => {
    site = await startUnfurlSite();
    t = await startTestApp({
      OUTBOX_POLL_MS: '50',
      UNFURL_ALLOW_PRIVATE: 'true',
      UNFURL_TIMEOUT_MS: '1500',
      UNFURL_CONNECT_TIMEOUT_MS: '500',
      UNFURL_MAX_BYTES: '65536',
      UNFURL_MAX_REDIRECTS: '3',
    });
    w = await basicWorkspace(t);
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await site?.close();
  });

  const send = async (text: string) =>
    (await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text } })).sendMessage;
  const unfurlsOf = async (id: string) => (await w.ann.client.ok(MessageUnfurlsDocument, { id })).message!.unfurls;
  /** The consumer has nothing left to do (every copy of every event handled). */
  const settled = () =>
    eventually(
      () => t.app.outbox.lagOf('unfurls'),
      (l) => l.pending === 0 && l.retrying === 0,
      30_000,
      50,
    );
  /**
   * Runs `act` while Bob (a viewer) listens to the channel, then waits until he gets the
   * MessageEdited event of the message `act` returns, carrying `unfurls` unfurls.
   */
  async function bobSeesEdit<M extends { id: string }>(
    act: () => Promise<M>,
    unfurls: number,
    timeoutMs: number,
    what: string,
  ): Promise<M> {
    const ws = connect(t.url, w.bob.token);
    try {
      const listening = listenMark(t);
      const sub = subscribe(ws.client, ChannelUnfurlsDocument, { channelId: w.general.id });
      await listening(1);
      const m = await act();
      await sub.until(
        () =>
          sub.events.some(
            (e) =>
              e.channel.__typename === 'MessageEdited' &&
              e.channel.message.id === m.id &&
              e.channel.message.unfurls.length === unfurls,
          ),
        timeoutMs,
        what,
      );
      sub.unsubscribe();
      return m;
    } finally {
      await ws.dispose();
    }
  }

  it('an Open Graph page arrives as an event to viewers and in Message.unfurls; a redirect is followed', async () => {
    const m = await bobSeesEdit(
      async () => {
        const sent = await send(`look: ${site.base}/og/Alpha, and (${site.base}/to-og) too`);
        expect(sent.text).toContain('/og/Alpha'); // the send does not wait for the fetch
        return sent;
      },
      2,
      30_000,
      'the unfurl event',
    );
    expect(await unfurlsOf(m.id)).toEqual([
      {
        url: `${site.base}/og/Alpha`,
        title: 'Alpha',
        description: 'About Alpha & more',
        imageUrl: `${site.base}/img/Alpha.png`,
        siteName: 'Loopback',
      },
      {
        url: `${site.base}/to-og`,
        title: 'redirected',
        description: 'About redirected & more',
        imageUrl: `${site.base}/img/redirected.png`,
        siteName: 'Loopback',
      },
    ]);
    // Bob, a viewer, sees them too; Eve (another workspace) does not see the message at all.
    expect((await w.bob.client.ok(MessageUnfurlsDocument, { id: m.id })).message!.unfurls).toHaveLength(2);
    expect(await w.eve.client.errorCode(MessageUnfurlsDocument, { id: m.id })).toBe('NOT_FOUND');
  });

  it('a page that hangs, a huge one, a redirect loop and a non-HTML type give no unfurl, and the worker goes on', async () => {
    const bad = [];
    for (const path of ['/hang', '/huge', '/loop/0', '/image']) bad.push(await send(`see ${site.base}${path}`));
    const after = await send(`next: ${site.base}/og/Beta`);
    const good = await eventually(
      () => unfurlsOf(after.id),
      (u) => u.length === 1,
      30_000,
      50,
    );
    expect(good.map((u) => u.title)).toEqual(['Beta']);
    await settled();
    for (const m of bad) expect(await unfurlsOf(m.id), m.text).toEqual([]);
    // Each was tried once and remembered as a miss (an edit will not fetch it again).
    const rows = await t.app.db.prisma.messageUnfurl.findMany({
      where: { messageId: { in: bad.map((m) => BigInt(m.id)) } },
    });
    expect(rows.map((r) => r.status)).toEqual(['FAILED', 'FAILED', 'FAILED', 'FAILED']);
    expect(site.hits('/hang')).toBe(1);
    expect(site.hits('/loop')).toBe(4); // the first request and 3 redirects, then given up
    expect(site.hits('/image')).toBe(1);
    // The huge page was cut off at the cap: the server saw the connection go long before its 64 MiB.
    const huge = site.huge();
    expect(huge.closed).toBe(true);
    expect(huge.written).toBeLessThan(16 * 1024 * 1024);
  });

  it('the sender removes an unfurl (others may not); it is not fetched again on edit; new links are', async () => {
    const m = await send(`one ${site.base}/og/Gamma`);
    await eventually(
      () => unfurlsOf(m.id),
      (u) => u.length === 1,
      30_000,
      50,
    );
    const url = `${site.base}/og/Gamma`;
    expect(await w.bob.client.errorCode(RemoveUnfurlDocument, { messageId: m.id, url })).toBe('FORBIDDEN');
    expect(await w.eve.client.errorCode(RemoveUnfurlDocument, { messageId: m.id, url })).toBe('NOT_FOUND');
    expect(
      await w.ann.client.errorCode(RemoveUnfurlDocument, { messageId: m.id, url: `${site.base}/og/NotInIt` }),
    ).toBe('NOT_FOUND');
    expect(await unfurlsOf(m.id)).toHaveLength(1); // refusals changed nothing

    const removed = await bobSeesEdit(
      async () => (await w.ann.client.ok(RemoveUnfurlDocument, { messageId: m.id, url })).removeUnfurl,
      0,
      10_000,
      'the removal event',
    );
    expect(removed.unfurls).toEqual([]);
    // Removing again is fine.
    await w.ann.client.ok(RemoveUnfurlDocument, { messageId: m.id, url });

    const hits = site.hits('/og/Gamma');
    await w.ann.client.ok(EditMessageDocument, { id: m.id, text: `one ${url} and two ${site.base}/og/Delta` });
    const after = await eventually(
      () => unfurlsOf(m.id),
      (u) => u.length === 1,
      30_000,
      50,
    );
    expect(after.map((u) => u.title)).toEqual(['Delta']);
    expect(site.hits('/og/Gamma')).toBe(hits); // the removed link was not fetched again

    // A link edited out loses its unfurl.
    await w.ann.client.ok(EditMessageDocument, { id: m.id, text: `just ${url}` });
    await settled();
    expect(await unfurlsOf(m.id)).toEqual([]);
  });

  it('a message deleted while its link is being fetched gets no unfurl', async () => {
    const m = await send(`gated ${site.base}/gate`);
    await eventually(
      () => Promise.resolve(site.hits('/gate')),
      (n) => n === 1,
      30_000,
      20,
    );
    await w.ann.client.ok(DeleteMessageDocument, { id: m.id });
    site.release();
    await settled();
    expect(await t.app.db.prisma.messageUnfurl.count({ where: { messageId: BigInt(m.id) } })).toBe(0);
  });
});
