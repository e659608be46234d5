import { builder } from './builder.js';
import type { Channel, File, Message, MessageMention, User, Workspace, Bot } from '../generated/prisma/client.js';
import type { ReactionSummary } from './loaders.js';

/** Object refs, declared once so modules can point at each other without import cycles. */
export const UserRef = builder.objectRef<User>('User');
export const WorkspaceRef = builder.objectRef<Workspace>('Workspace');
export const ChannelRef = builder.objectRef<Channel>('Channel');
export const MessageRef = builder.objectRef<Message>('Message');
export const MentionRef = builder.objectRef<MessageMention>('Mention');
export const ReactionRef = builder.objectRef<ReactionSummary>('Reaction');
export const FileRef = builder.objectRef<File>('FileObject');
export const BotRef = builder.objectRef<Bot>('Bot');
