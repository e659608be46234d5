import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import { MeDocument, PresenceNowDocument, PresenceOfDocument, SetPresenceDocument } from '../generated/gql/graphql.js';

describeApi('presence', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  const sockets: { dispose: () => void }[] = [];
  beforeAll(async () => {
    t = await startTestApp({ PRESENCE_IDLE_MS: '1000', PRESENCE_OFFLINE_GRACE_MS: '400' });
    w = await basicWorkspace(t);
  });
  afterAll(async () => {
    for (const s of sockets) s.dispose();
    await t?.stop();
  });

  it('goes AWAY when idle, back ONLINE on activity, and is never stored in PostgreSQL', async () => {
    const watch = subscribe(connect(t.url, w.ann.token).client, PresenceOfDocument, { userIds: [w.bob.id] });
    const bob = connect(t.url, w.bob.token);
    sockets.push(bob);
    await over(bob.client, MeDocument, {});
    await watch.until(() => watch.events.at(-1)?.presence.status === 'ONLINE', 5_000, 'ONLINE');
    await watch.until(() => watch.events.at(-1)?.presence.status === 'AWAY', 5_000, 'idle AWAY');
    await over(bob.client, MeDocument, {}); // any request is activity
    await watch.until(() => watch.events.at(-1)?.presence.status === 'ONLINE', 5_000, 'ONLINE again');
    const tables = await t.app.db.withSession((s) =>
      s.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.columns WHERE column_name ILIKE '%presence%' OR table_name ILIKE '%presence%'`,
      ),
    );
    expect(tables).toEqual([]);
  });

  it('does not flicker offline on a reload within the grace period', async () => {
    const watch = subscribe(connect(t.url, w.ann.token).client, PresenceOfDocument, { userIds: [w.bob.id] });
    const first = connect(t.url, w.bob.token);
    await over(first.client, MeDocument, {});
    await watch.until(() => watch.events.at(-1)?.presence.status === 'ONLINE', 5_000, 'ONLINE');
    for (const s of sockets.splice(0)) s.dispose();
    const n = watch.events.length;
    first.dispose();
    const second = connect(t.url, w.bob.token); // the page reloads
    sockets.push(second);
    await over(second.client, MeDocument, {});
    await new Promise((r) => setTimeout(r, 700));
    expect(watch.events.slice(n).map((e) => e.presence.status)).not.toContain('OFFLINE');
    second.dispose();
    await watch.until(() => watch.events.at(-1)?.presence.status === 'OFFLINE', 5_000, 'OFFLINE after grace');
  });

  it('keeps DND until changed, and answers presence queries for visible users only', async () => {
    const bob = connect(t.url, w.bob.token);
    sockets.push(bob);
    await over(bob.client, SetPresenceDocument, { status: 'DND' });
    const now = (await w.ann.client.ok(PresenceNowDocument, { userIds: [w.bob.id, w.eve.id, '123456789'] })).presence;
    expect(now).toEqual([{ userId: w.bob.id, status: 'DND' }]);
    expect(await w.ann.client.errorCode(PresenceNowDocument, { userIds: ['not-an-id'] })).toBe('BAD_USER_INPUT');
  });
});
