import type { Message } from '../../generated/prisma/client.js';
import type { WireMessage } from './events.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const str = (v: bigint | null) => (v === null ? null : v.toString());
const big = (v: string | null) => (v === null ? null : BigInt(v));
const date = (v: string | null) => (v === null ? null : new Date(v));

/** A message row to its JSON-safe event form, and back. */
export function toWire(m: Message): WireMessage {
  return {
    id: m.id.toString(),
    channelId: m.channelId.toString(),
    authorId: m.authorId.toString(),
    text: m.text,
    seq: str(m.seq),
    threadRootId: str(m.threadRootId),
    alsoSentToChannel: m.alsoSentToChannel,
    listed: m.listed,
    replyCount: m.replyCount,
    lastReplyAt: iso(m.lastReplyAt),
    clientNonce: m.clientNonce,
    createdAt: m.createdAt.toISOString(),
    editedAt: iso(m.editedAt),
    deletedAt: iso(m.deletedAt),
  };
}

export function fromWire(w: WireMessage): Message {
  return {
    id: BigInt(w.id),
    channelId: BigInt(w.channelId),
    authorId: BigInt(w.authorId),
    text: w.text,
    seq: big(w.seq),
    threadRootId: big(w.threadRootId),
    alsoSentToChannel: w.alsoSentToChannel,
    listed: w.listed,
    replyCount: w.replyCount,
    lastReplyAt: date(w.lastReplyAt),
    clientNonce: w.clientNonce,
    createdAt: new Date(w.createdAt),
    editedAt: date(w.editedAt),
    deletedAt: date(w.deletedAt),
  };
}
