import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import {
  CreateChannelDocument,
  DeleteMessageDocument,
  InviteToChannelDocument,
  MarkReadDocument,
  OpenDirectMessageDocument,
  SendMessageDocument,
  UpdateNotificationPreferencesDocument,
} from '../generated/gql/graphql.js';

interface Received {
  to: string[];
  raw: string;
}

describeApi('email digests', () => {
  let t: TestApp;
  let smtp: SMTPServer;
  const mails: Received[] = [];

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, done) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString() });
          done();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    const port = (smtp.server.address() as AddressInfo).port;
    t = await startTestApp({
      OUTBOX_WORKER: 'off',
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      EMAIL_FROM: 'Chat <chat@example.com>',
    });
  });
  afterAll(async () => {
    await t?.stop();
    await new Promise<void>((r) => smtp.close(() => r()));
  });

  async function drain() {
    for (let idle = 0; idle < 2;) idle = (await t.app.outbox.drainOnce()).claimed === 0 ? idle + 1 : 0;
  }

  it('one email per user per window, with the unread mentions and DMs still visible, after the offline delay', async () => {
    const w = await basicWorkspace(t);
    const carol = await t.user('Carol'); // no email setting: never emailed
    const { ann, bob } = w;
    await bob.client.ok(UpdateNotificationPreferencesDocument, { input: { emailAfterMinutes: 30 } });
    const ch = async (name: string) => {
      const c = (await ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name, private: true }))
        .createChannel;
      await ann.client.ok(InviteToChannelDocument, { channelId: c.id, userIds: [bob.id] });
      return c.id;
    };
    const send = async (channelId: string, text: string) =>
      (await ann.client.ok(SendMessageDocument, { input: { channelId, text } })).sendMessage.id;
    const a = await ch('alpha');
    const b = await ch('beta');
    const dm = (await ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [bob.id] }))
      .openDirectMessage.id;
    await send(a, `first <@${bob.id}> mention`);
    await send(a, 'a plain message (not in a digest)');
    await send(a, `second <@${bob.id}> mention`);
    await send(dm, 'a direct message');
    const readLater = await send(b, `read <@${bob.id}> before the digest`);
    const deleted = await send(b, `deleted <@${bob.id}> before the digest`);
    await send(b, `mention of <@${carol.id}> who is not a member`);
    await drain();
    await bob.client.ok(MarkReadDocument, { channelId: b, messageId: readLater });
    await ann.client.ok(DeleteMessageDocument, { id: deleted });

    const digests = t.app.digests!;
    expect(await digests.runOnce(Date.now())).toBe(0); // not offline long enough yet
    expect(mails).toEqual([]);
    const later = Date.now() + 31 * 60_000;
    expect(await digests.runOnce(later)).toBe(1);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([bob.email]);
    const body = mails[0]!.raw.replace(/=\r?\n/g, '');
    expect(body).toMatch(/Subject: 3 unread messages for you/);
    expect(body).toContain('#alpha');
    expect(body).toContain('first @someone mention');
    expect(body).toContain('second @someone mention');
    expect(body).toContain('a direct message');
    expect(body).not.toContain('plain message');
    expect(body).not.toContain('before the digest');
    // The window is closed: nothing is sent twice.
    expect(await digests.runOnce(later + 60_000)).toBe(0);
    expect(mails).toHaveLength(1);
  }, 60_000);
});
