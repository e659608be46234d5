/**
 * Profiles: handles (generated at sign-up, changed with updateProfile, unique case-insensitively),
 * status, time zone and avatar, over HTTP through the typed documents; the handle as search's
 * from:@handle and as the directory's autocomplete prefix; a change seen at once by readers of a
 * cached page in this process (the cluster test covers other gateways).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import {
  CompleteUploadDocument,
  CreateUploadDocument,
  HistoryDocument,
  JoinWorkspaceDocument,
  MeDocument,
  SearchDocument,
  SendMessageDocument,
  SignUpDocument,
  UpdateProfileDocument,
  UsersDocument,
  WorkspaceMembersDocument,
} from '../generated/gql/graphql.js';

describeApi('profiles and handles', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'profiles-api-'));
    t = await startTestApp({ DATA_DIR: dataDir, OUTBOX_POLL_MS: '50' });
    w = await basicWorkspace(t);
  });
  afterAll(async () => {
    await t?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function upload(client: typeof w.ann.client, body: Buffer, name: string, contentType: string) {
    const up = (
      await client.ok(CreateUploadDocument, {
        input: { channelId: w.general.id, name, size: body.length, contentType },
      })
    ).createUpload;
    const put = await fetch(up.url, {
      method: up.method,
      headers: Object.fromEntries(up.headers.map((h) => [h.name, h.value])),
      body: new Uint8Array(body),
    });
    expect(put.ok).toBe(true);
    return (await client.ok(CompleteUploadDocument, { fileId: up.fileId })).completeUpload.id;
  }

  it('gives every new user a free handle derived from the name', async () => {
    const me = (await w.ann.client.ok(MeDocument)).me;
    expect(me.handle).toBe('ann');
    const ann2 = await t.user('Ann');
    const signUp = async (name: string, email: string) => {
      const r = await t.anon.ok(SignUpDocument, { email, password: 'correct horse', name });
      return { id: r.signUp.user.id, client: t.anon.withToken(r.signUp.token) };
    };
    const odd = await signUp('Zoë  O’Brien!!', `zoe-${process.pid}@example.com`);
    const here = await t.user('Here');
    const handles = (await w.ann.client.ok(UsersDocument, { ids: [ann2.id, odd.id, here.id] })).users;
    // Not in Ann's workspace: users(ids) leaves them out.
    expect(handles).toEqual([null, null, null]);
    expect((await ann2.client.ok(MeDocument)).me.handle).toBe('ann2');
    expect((await odd.client.ok(MeDocument)).me.handle).toBe('zoobrien');
    expect((await here.client.ok(MeDocument)).me.handle).toBe('here2'); // @here is reserved
  });

  it('validates handles and keeps them unique case-insensitively', async () => {
    const update = (handle: string) => w.bob.client.request(UpdateProfileDocument, { input: { handle } });
    for (const bad of ['a', 'x'.repeat(33), 'has space', '.dot', 'ünï', 'a/b', '']) {
      const r = await update(bad);
      expect(r.errors?.[0]?.extensions?.['code'], bad).toBe('BAD_USER_INPUT');
    }
    expect((await update('channel')).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect((await update('ANN')).errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    expect((await update('@ann')).errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    const ok = await update('@Bob.Builder_2');
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.updateProfile.handle).toBe('bob.builder_2');
    // Nothing half-written by the refusals: the name and the rest are as they were.
    expect((await w.bob.client.ok(MeDocument)).me).toMatchObject({ name: 'Bob', handle: 'bob.builder_2' });
  });

  it('sets status, time zone and display name, with clear errors for bad values', async () => {
    const c = w.bob.client;
    const code = async (input: Record<string, string>) =>
      (await c.request(UpdateProfileDocument, { input }))?.errors?.[0]?.extensions?.['code'];
    expect(await code({ timeZone: 'Mars/Olympus' })).toBe('BAD_USER_INPUT');
    expect(await code({ timeZone: '+01:00' })).toBe('BAD_USER_INPUT');
    expect(await code({ statusEmoji: 'not an emoji' })).toBe('BAD_USER_INPUT');
    expect(await code({ statusText: 'x'.repeat(101) })).toBe('BAD_USER_INPUT');
    expect(await code({ displayName: '   ' })).toBe('BAD_USER_INPUT');
    const p = (
      await c.ok(UpdateProfileDocument, {
        input: { displayName: 'Robert', statusText: 'In a meeting', statusEmoji: ':calendar:', timeZone: 'utc' },
      })
    ).updateProfile;
    expect(p).toMatchObject({
      name: 'Robert',
      statusText: 'In a meeting',
      statusEmoji: 'calendar',
      timeZone: 'UTC',
      handle: 'bob.builder_2',
    });
    const tz = (await c.ok(UpdateProfileDocument, { input: { timeZone: 'Europe/Paris', statusText: '' } }))
      .updateProfile;
    expect(tz).toMatchObject({ timeZone: 'Europe/Paris', statusText: '', name: 'Robert' });
    expect((await c.ok(UpdateProfileDocument, { input: { timeZone: '' } })).updateProfile.timeZone).toBeNull();
  });

  it('takes as avatar only a READY image the user uploaded, and serves its URL', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 9, g: 99, b: 9 } } })
      .png()
      .toBuffer();
    const mine = await upload(w.ann.client, png, 'me.png', 'image/png');
    const text = await upload(w.ann.client, Buffer.from('hello'), 'a.txt', 'text/plain');
    const bobs = await upload(w.bob.client, png, 'bob.png', 'image/png');
    const code = async (avatarFileId: string) =>
      (await w.ann.client.request(UpdateProfileDocument, { input: { avatarFileId } }))?.errors?.[0]?.extensions?.[
        'code'
      ];
    expect(await code(bobs)).toBe('NOT_FOUND');
    expect(await code('12345')).toBe('NOT_FOUND');
    expect(await code('nope')).toBe('BAD_USER_INPUT');
    expect(await code(text)).toBe('BAD_USER_INPUT');
    const p = (await w.ann.client.ok(UpdateProfileDocument, { input: { avatarFileId: mine }, avatarSize: 360 }))
      .updateProfile;
    expect(p.avatarUrl).toBeTruthy();
    const res = await fetch(p.avatarUrl!);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
    // Bob, who shares the workspace, sees it too.
    const seen = (await w.bob.client.ok(WorkspaceMembersDocument, { workspaceId: w.workspace.id, query: 'ann' }))
      .workspaceMembers.edges;
    expect(seen.map((e) => e.node.handle)).toContain('ann');
    const cleared = (await w.ann.client.ok(UpdateProfileDocument, { input: { avatarFileId: '' } })).updateProfile;
    expect(cleared.avatarUrl).toBeNull();
  });

  it('finds people by handle prefix in the directory (mention autocomplete)', async () => {
    const carl = await t.user('Carl');
    await carl.client.ok(UpdateProfileDocument, { input: { handle: 'zed.k' } });
    await carl.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    const names = async (query: string) =>
      (
        await w.ann.client.ok(WorkspaceMembersDocument, { workspaceId: w.workspace.id, query, first: 20 })
      ).workspaceMembers.edges.map((e) => e.node.handle);
    expect(await names('@zed')).toEqual(['zed.k']);
    expect(await names('ze')).toEqual(['zed.k']);
    expect(await names('carl')).toEqual(['zed.k']); // by name as before
    expect(await names('zed.x')).toEqual([]);
    expect(await names('bob.b')).toEqual(['bob.builder_2']);
  });

  it('searches from:@handle, and shows a renamed author at once on a cached page', async () => {
    await w.bob.client.ok(UpdateProfileDocument, { input: { handle: 'rob' } });
    await w.bob.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'quarterly numbers ready' } });
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: w.general.id, text: 'quarterly numbers late' } });
    const found = await eventually(
      async () => (await w.ann.client.ok(SearchDocument, { query: 'quarterly from:@rob', first: 10 })).search.edges,
      (edges) => edges.length > 0,
    );
    expect(found.map((e) => e.node.message.text)).toEqual(['quarterly numbers ready']);
    // A handle that is nobody's matches nothing (not everything).
    expect(
      (await w.ann.client.ok(SearchDocument, { query: 'quarterly from:@nobody.here', first: 10 })).search.edges,
    ).toEqual([]);

    const authors = async () =>
      (await w.ann.client.ok(HistoryDocument, { channelId: w.general.id, first: 5 })).messages.edges.map(
        (e) => e.node.author.name,
      );
    expect(await authors()).toContain('Robert'); // cached page and cached profile now
    await w.bob.client.ok(UpdateProfileDocument, { input: { displayName: 'Bobby' } });
    const after = await authors();
    expect(after).toContain('Bobby');
    expect(after).not.toContain('Robert');
  });
});
