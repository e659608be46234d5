import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { connect, over, subscribe } from '../helpers/ws.js';
import { eventually } from '../helpers/eventually.js';
import {
  JoinWorkspaceDocument,
  MeDocument,
  PresenceNowDocument,
  PresenceOfDocument,
  SendMessageDocument,
  SetPresenceDocument,
  TypingDocument,
} from '../generated/gql/graphql.js';

/** A well-formed user id that no one has. */
const ABSENT_USER = '123456789';

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

  /** Rows in every table of the public schema (the outbox and the migrations table included). */
  async function rowCounts(): Promise<Record<string, number>> {
    return t.app.db.withSession(async (s) => {
      const tables = await s.query<{ tablename: string }>(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
      const counts: Record<string, number> = {};
      for (const { tablename } of tables)
        counts[tablename] = Number(
          (await s.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${tablename}"`))[0]!.n,
        );
      return counts;
    });
  }

  it('goes AWAY when idle, back ONLINE on activity', async () => {
    const watch = subscribe(connect(t.url, w.ann.token).client, PresenceOfDocument, { userIds: [w.bob.id] });
    const bob = connect(t.url, w.bob.token);
    sockets.push(bob);
    await over(bob.client, MeDocument, {});
    await watch.until(() => watch.events.at(-1)?.presence.status === 'ONLINE', 5_000, 'ONLINE');
    await watch.until(() => watch.events.at(-1)?.presence.status === 'AWAY', 5_000, 'idle AWAY');
    await over(bob.client, MeDocument, {}); // any request is activity
    await watch.until(() => watch.events.at(-1)?.presence.status === 'ONLINE', 5_000, 'ONLINE again');
  });

  it('does not flicker offline on a reload within the grace period', async () => {
    const watch = subscribe(connect(t.url, w.ann.token).client, PresenceOfDocument, { userIds: [w.bob.id] });
    const first = connect(t.url, w.bob.token);
    await over(first.client, MeDocument, {});
    await watch.until(() => watch.events.at(-1)?.presence.status === 'ONLINE', 5_000, 'ONLINE');
    for (const s of sockets.splice(0)) s.dispose();
    const n = watch.events.length;
    await first.dispose();
    const second = connect(t.url, w.bob.token); // the page reloads
    sockets.push(second);
    await over(second.client, MeDocument, {});
    await new Promise((r) => setTimeout(r, 700));
    expect(watch.events.slice(n).map((e) => e.presence.status)).not.toContain('OFFLINE');
    await second.dispose();
    await watch.until(() => watch.events.at(-1)?.presence.status === 'OFFLINE', 5_000, 'OFFLINE after grace');
  });

  it('keeps DND until changed; asking for a user you may not see answers exactly like an unknown id', async () => {
    const bob = connect(t.url, w.bob.token);
    sockets.push(bob);
    await over(bob.client, SetPresenceDocument, { status: 'DND' });
    const now = (await w.ann.client.ok(PresenceNowDocument, { userIds: [w.bob.id, w.ann.id] })).presence;
    expect(now.map((p) => p.userId)).toEqual([w.bob.id, w.ann.id]);
    expect(now[0]!.status).toBe('DND');
    const hidden = await w.ann.client.request(PresenceNowDocument, { userIds: [w.bob.id, w.eve.id] });
    const absent = await w.ann.client.request(PresenceNowDocument, { userIds: [w.bob.id, ABSENT_USER] });
    expect(hidden.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(hidden).toEqual(absent); // status, data and error bodies alike: nothing tells Eve exists
    expect(JSON.stringify(hidden)).not.toContain(w.eve.id);
    expect(await w.ann.client.errorCode(PresenceNowDocument, { userIds: ['not-an-id'] })).toBe('BAD_USER_INPUT');
  });

  it('refuses to watch a user you may not see, exactly as it refuses an unknown id', async () => {
    const { client } = connect(t.url, w.ann.token);
    sockets.push({ dispose: () => void client.dispose() });
    const answers = [];
    for (const other of [w.eve.id, ABSENT_USER]) {
      const watch = subscribe(client, PresenceOfDocument, { userIds: [w.bob.id, other] });
      await watch.until(() => watch.completed, 5_000, 'the subscription to end with an error');
      answers.push({ events: watch.events, errors: watch.errors });
    }
    const [hidden, absent] = answers;
    expect(hidden!.events).toEqual([]); // not even the visible user's state leaks through
    expect((hidden!.errors[0] as { extensions?: { code?: string } }).extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(hidden)).toBe(JSON.stringify(absent));
    expect(JSON.stringify(hidden)).not.toContain(w.eve.id);
  });

  it('pushes only the listed users, on every event, through changes of listed and unlisted users', async () => {
    const carol = await t.user('Carol');
    const dave = await t.user('Dave');
    for (const u of [carol, dave]) await u.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    const listed = [w.bob.id, carol.id];
    const { client } = connect(t.url, w.ann.token);
    sockets.push({ dispose: () => void client.dispose() });
    const watch = subscribe(client, PresenceOfDocument, { userIds: listed });
    await watch.count(2); // the current state of each listed user first
    // The unlisted changes do go out: a watch that lists Dave sees his.
    const watchDave = subscribe(client, PresenceOfDocument, { userIds: [dave.id] });
    await watchDave.count(1);

    // Unlisted users (Dave, in the same workspace; Eve elsewhere; Ann herself) change between
    // changes of listed ones; the last change is a listed one, so anything leaked arrives before it.
    const daveSocket = connect(t.url, dave.token);
    const carolSocket = connect(t.url, carol.token);
    sockets.push(daveSocket, carolSocket);
    await over(daveSocket.client, SetPresenceDocument, { status: 'DND' });
    await over(carolSocket.client, SetPresenceDocument, { status: 'DND' });
    const eveSocket = connect(t.url, w.eve.token);
    sockets.push(eveSocket);
    await over(eveSocket.client, SetPresenceDocument, { status: 'AWAY' });
    await over(client, SetPresenceDocument, { status: 'DND' });
    await w.bob.client.ok(SetPresenceDocument, { status: 'AWAY' });
    await over(daveSocket.client, SetPresenceDocument, { status: 'AUTO' });
    await over(eveSocket.client, SetPresenceDocument, { status: 'DND' });
    await over(carolSocket.client, SetPresenceDocument, { status: 'AUTO' });
    await daveSocket.dispose();
    await eveSocket.dispose();
    await w.bob.client.ok(SetPresenceDocument, { status: 'DND' });
    await watch.until(
      () => watch.events.some((e) => e.presence.userId === w.bob.id && e.presence.status === 'DND'),
      5_000,
      "Bob's last change",
    );
    const users = watch.events.map((e) => e.presence.userId);
    expect(users.filter((u) => !listed.includes(u))).toEqual([]);
    expect(new Set(users)).toEqual(new Set(listed));
    expect(watch.events.length).toBeGreaterThanOrEqual(5);
    expect(watchDave.events.map((e) => e.presence.status)).toContain('DND');
    expect(watchDave.events.every((e) => e.presence.userId === dave.id)).toBe(true);
    await w.bob.client.ok(SetPresenceDocument, { status: 'AUTO' });
  });

  it('never stores presence or typing: no table gains or loses a row through a burst of both', async () => {
    const root = (await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'root' } }))
      .sendMessage.id;
    // The send's outbox row is indexed by the inline worker; let it finish before the baseline.
    const pending = () =>
      t.app.db.withSession(async (s) =>
        Number(
          (
            await s.query<{ n: number }>(
              'SELECT (SELECT count(*) FROM outbox WHERE processed_at IS NULL) + (SELECT count(*) FROM outbox_deliveries WHERE processed_at IS NULL) AS n',
            )
          )[0]!.n,
        ),
      );
    expect(await eventually(pending, (n) => n === 0)).toBe(0);
    const before = await rowCounts();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['outbox', 'messages', 'users', 'tokens']));

    for (const s of sockets.splice(0)) s.dispose();
    const watcher = connect(t.url, w.ann.token);
    sockets.push(watcher);
    const watch = subscribe(watcher.client, PresenceOfDocument, { userIds: [w.bob.id] });
    const offline = () => watch.events.filter((e) => e.presence.status === 'OFFLINE').length;
    await watch.until(() => offline() > 0, 5_000, 'Bob offline before the burst');
    for (let round = 0; round < 3; round++) {
      const offlineBefore = offline();
      const bob = connect(t.url, w.bob.token);
      await over(bob.client, MeDocument, {});
      for (const status of ['DND', 'AWAY', 'AUTO'] as const) await over(bob.client, SetPresenceDocument, { status });
      await w.bob.client.ok(TypingDocument, { channelId: w.general.id });
      await w.bob.client.ok(TypingDocument, { channelId: w.general.id, threadRootId: root });
      await w.ann.client.ok(TypingDocument, { channelId: w.general.id });
      await bob.dispose();
      await watch.until(() => offline() > offlineBefore, 5_000, `Bob offline (${round})`);
    }
    expect(watch.events.filter((e) => e.presence.status === 'DND')).toHaveLength(3);
    expect(await rowCounts()).toEqual(before);
  });
});
