import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import {
  BootstrapDocument,
  BrowseChannelsDocument,
  ChannelDocument,
  ChannelMembersDocument,
  CreateChannelDocument,
  HistoryDocument,
  InviteToChannelDocument,
  JoinChannelDocument,
  JoinWorkspaceDocument,
  LeaveChannelDocument,
  OpenDirectMessageDocument,
  RemoveFromChannelDocument,
  SendMessageDocument,
  SetChannelTopicDocument,
  SetNotificationLevelDocument,
} from '../generated/gql/graphql.js';

describeApi('workspaces and channels', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
  });
  afterAll(() => t?.stop());

  it('gives a new workspace a #general that joiners enter', async () => {
    expect(w.workspace.myRole).toBe('OWNER');
    const boot = await w.bob.client.ok(BootstrapDocument);
    expect(boot.bootstrap.workspaces.map((x) => x.id)).toEqual([w.workspace.id]);
    expect(boot.bootstrap.workspaces[0]!.myRole).toBe('MEMBER');
    expect(boot.bootstrap.channels.map((c) => c.name)).toEqual(['general']);
    const general = await w.ann.client.ok(ChannelDocument, { id: w.general.id });
    expect(general.channel?.memberCount).toBe(2);
    // joining twice is harmless
    const again = await w.bob.client.ok(JoinWorkspaceDocument, { inviteCode: w.workspace.inviteCode });
    expect(again.joinWorkspace.memberCount).toBe(2);
    expect(await w.bob.client.errorCode(JoinWorkspaceDocument, { inviteCode: 'no-such-code' })).toBe('NOT_FOUND');
  });

  it('creates, browses, joins and leaves public channels', async () => {
    const c = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'design', topic: 'pixels' })
    ).createChannel;
    expect(c).toMatchObject({ name: 'design', private: false, topic: 'pixels', memberCount: 1, isMember: true });
    expect(await w.ann.client.errorCode(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'Design' })).toBe(
      'CONFLICT',
    );
    expect(
      await w.ann.client.errorCode(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'has space' }),
    ).toBe('BAD_USER_INPUT');
    expect(await w.eve.client.errorCode(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'intruder' })).toBe(
      'NOT_FOUND',
    );

    for (const name of ['dev-a', 'dev-b', 'dev-c'])
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name });
    const page1 = (
      await w.bob.client.ok(BrowseChannelsDocument, { workspaceId: w.workspace.id, query: 'dev', first: 2 })
    ).channels;
    expect(page1.edges.map((e) => e.node.name)).toEqual(['dev-a', 'dev-b']);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (
      await w.bob.client.ok(BrowseChannelsDocument, {
        workspaceId: w.workspace.id,
        query: 'dev',
        first: 2,
        after: page1.pageInfo.endCursor,
      })
    ).channels;
    expect(page2.edges.map((e) => e.node.name)).toEqual(['dev-c']);
    expect(page2.pageInfo.hasNextPage).toBe(false);
    expect(
      await w.bob.client.errorCode(BrowseChannelsDocument, { workspaceId: w.workspace.id, after: 'garbage' }),
    ).toBe('BAD_USER_INPUT');
    expect(await w.eve.client.errorCode(BrowseChannelsDocument, { workspaceId: w.workspace.id })).toBe('NOT_FOUND');

    const joined = (await w.bob.client.ok(JoinChannelDocument, { channelId: c.id })).joinChannel;
    expect(joined).toMatchObject({ isMember: true, memberCount: 2 });
    expect((await w.bob.client.ok(JoinChannelDocument, { channelId: c.id })).joinChannel.memberCount).toBe(2);
    expect((await w.bob.client.ok(LeaveChannelDocument, { channelId: c.id })).leaveChannel).toBe(true);
    expect((await w.bob.client.ok(ChannelDocument, { id: c.id })).channel).toMatchObject({
      isMember: false,
      memberCount: 1,
    });
    expect(await w.bob.client.errorCode(LeaveChannelDocument, { channelId: w.general.id })).toBe('BAD_USER_INPUT');
    const topic = await w.ann.client.ok(SetChannelTopicDocument, { channelId: c.id, topic: 'new topic' });
    expect(topic.setChannelTopic.topic).toBe('new topic');
  });

  it('hides private channels from non-members exactly like missing ones', async () => {
    const secret = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'secret', private: true })
    ).createChannel;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: secret.id, text: 'the plan' } });
    const missing = '1234567890123456789';
    for (const id of [secret.id, missing]) {
      expect((await w.bob.client.ok(ChannelDocument, { id })).channel).toBeNull();
      expect(await w.bob.client.errorCode(HistoryDocument, { channelId: id })).toBe('NOT_FOUND');
      expect(await w.bob.client.errorCode(ChannelMembersDocument, { channelId: id })).toBe('NOT_FOUND');
      expect(await w.bob.client.errorCode(JoinChannelDocument, { channelId: id })).toBe('NOT_FOUND');
      expect(await w.bob.client.errorCode(SendMessageDocument, { input: { channelId: id, text: 'hi' } })).toBe(
        'NOT_FOUND',
      );
    }
    const browse = (await w.bob.client.ok(BrowseChannelsDocument, { workspaceId: w.workspace.id, query: 'secret' }))
      .channels;
    expect(browse.edges).toHaveLength(0);
    // Public channels of another workspace are hidden too.
    expect((await w.eve.client.ok(ChannelDocument, { id: w.general.id })).channel).toBeNull();
    expect(await w.eve.client.errorCode(HistoryDocument, { channelId: w.general.id })).toBe('NOT_FOUND');

    // After an invitation Bob sees it all.
    const invited = await w.ann.client.ok(InviteToChannelDocument, { channelId: secret.id, userIds: [w.bob.id] });
    expect(invited.inviteToChannel.memberCount).toBe(2);
    const hist = await w.bob.client.ok(HistoryDocument, { channelId: secret.id });
    expect(hist.messages.edges.map((e) => e.node.text)).toEqual(['the plan']);
    const members = await w.bob.client.ok(ChannelMembersDocument, { channelId: secret.id, first: 1 });
    expect(members.channelMembers.edges).toHaveLength(1);
    expect(members.channelMembers.pageInfo.hasNextPage).toBe(true);
    const rest = await w.bob.client.ok(ChannelMembersDocument, {
      channelId: secret.id,
      first: 1,
      after: members.channelMembers.pageInfo.endCursor,
    });
    expect(new Set([members.channelMembers.edges[0]!.node.id, rest.channelMembers.edges[0]!.node.id])).toEqual(
      new Set([w.ann.id, w.bob.id]),
    );
    // Eve is not in the workspace: she cannot be invited.
    expect(await w.ann.client.errorCode(InviteToChannelDocument, { channelId: secret.id, userIds: [w.eve.id] })).toBe(
      'NOT_FOUND',
    );
  });

  it('lets workspace admins remove a member from a channel, and nobody else', async () => {
    const room = (
      await w.ann.client.ok(CreateChannelDocument, { workspaceId: w.workspace.id, name: 'removal', private: true })
    ).createChannel;
    await w.ann.client.ok(SendMessageDocument, { input: { channelId: room.id, text: 'before' } });
    await w.ann.client.ok(InviteToChannelDocument, { channelId: room.id, userIds: [w.bob.id] });
    // Bob is a plain member of the workspace: he may not remove Ann.
    expect(await w.bob.client.errorCode(RemoveFromChannelDocument, { channelId: room.id, userId: w.ann.id })).toBe(
      'FORBIDDEN',
    );
    // Eve is in no workspace of Ann's: she is not there to remove; a channel Eve cannot see is NOT_FOUND for her.
    expect(await w.ann.client.errorCode(RemoveFromChannelDocument, { channelId: room.id, userId: w.eve.id })).toBe(
      'NOT_FOUND',
    );
    expect(await w.eve.client.errorCode(RemoveFromChannelDocument, { channelId: room.id, userId: w.bob.id })).toBe(
      'NOT_FOUND',
    );
    expect(await w.ann.client.errorCode(RemoveFromChannelDocument, { channelId: w.general.id, userId: w.bob.id })).toBe(
      'BAD_USER_INPUT',
    );

    expect(
      (await w.ann.client.ok(RemoveFromChannelDocument, { channelId: room.id, userId: w.bob.id })).removeFromChannel,
    ).toBe(true);
    expect(await w.bob.client.errorCode(HistoryDocument, { channelId: room.id })).toBe('NOT_FOUND');
    expect((await w.ann.client.ok(ChannelDocument, { id: room.id })).channel?.memberCount).toBe(1);
    // Not a member any more: nothing to remove.
    expect(
      (await w.ann.client.ok(RemoveFromChannelDocument, { channelId: room.id, userId: w.bob.id })).removeFromChannel,
    ).toBe(false);
  });

  it('opens one DM per set of people', async () => {
    const a = (await w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.bob.id] }))
      .openDirectMessage;
    const b = (
      await w.bob.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.ann.id, w.ann.id] })
    ).openDirectMessage;
    expect(a.id).toBe(b.id);
    expect(a).toMatchObject({ isDirect: true, private: true, memberCount: 2 });
    expect(new Set(a.directMembers.map((u) => u.id))).toEqual(new Set([w.ann.id, w.bob.id]));
    const concurrent = await Promise.all(
      [0, 1, 2].map(() =>
        w.ann.client.ok(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.ann.id] }),
      ),
    );
    expect(new Set(concurrent.map((c) => c.openDirectMessage.id)).size).toBe(1);
    expect(
      await w.ann.client.errorCode(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [w.eve.id] }),
    ).toBe('NOT_FOUND');
    expect(await w.ann.client.errorCode(OpenDirectMessageDocument, { workspaceId: w.workspace.id, userIds: [] })).toBe(
      'BAD_USER_INPUT',
    );
    expect(await w.ann.client.errorCode(LeaveChannelDocument, { channelId: a.id })).toBe('BAD_USER_INPUT');
    const boot = await w.bob.client.ok(BootstrapDocument);
    expect(boot.bootstrap.directMessages.map((c) => c.id)).toContain(a.id);
  });

  it('keeps notification level and mute per member', async () => {
    const r = await w.bob.client.ok(SetNotificationLevelDocument, {
      channelId: w.general.id,
      level: 'MENTIONS',
      muted: true,
    });
    expect(r.setNotificationLevel).toMatchObject({ notificationLevel: 'MENTIONS', muted: true });
    const ann = await w.ann.client.ok(ChannelDocument, { id: w.general.id });
    expect(ann.channel).toMatchObject({ notificationLevel: 'ALL', muted: false });
    const unmute = await w.bob.client.ok(SetNotificationLevelDocument, { channelId: w.general.id, level: 'ALL' });
    expect(unmute.setNotificationLevel).toMatchObject({ notificationLevel: 'ALL', muted: true });
  });
});
