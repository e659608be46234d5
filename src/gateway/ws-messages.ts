import { CloseCode, MessageType, parseMessage } from 'graphql-ws';
import { isOutage } from '../domain/outage.js';
import type { Logger } from '../logger.js';

/** The message types a client may send to the server (graphql-transport-ws). */
const FROM_CLIENT: ReadonlySet<string> = new Set([
  MessageType.ConnectionInit,
  MessageType.Ping,
  MessageType.Pong,
  MessageType.Subscribe,
  MessageType.Complete,
]);

/**
 * Why a client frame is invalid for the server, or null when graphql-ws may handle it. Anything
 * that is not a well-formed graphql-transport-ws message (garbage, wrong shapes), or a message only
 * a server sends (`next`, `error`, `connection_ack`), is the client's mistake: the protocol closes
 * the socket with 4400 Bad Request. graphql-ws itself answers 4400 for unparsable frames but
 * throws on a server-only type, which would otherwise be reported as 4500, our own bug.
 */
export function invalidClientMessage(data: string): string | null {
  let type: string;
  try {
    type = parseMessage(data).type;
  } catch {
    return 'Invalid message received';
  }
  return FROM_CLIENT.has(type) ? null : `Invalid message received: a client may not send "${type}"`;
}

/** WebSocket close code 1013 Try Again Later: a backing service is down, reconnect later. */
export const TRY_AGAIN_LATER = 1013;

/**
 * How to close a socket whose message handling threw: an outage of a backing service (the
 * database during connection_init's token lookup, say) is 1013 Try Again Later, logged as a
 * warning; anything else is our bug: 4500, logged with its stack.
 */
export function closeFor(err: unknown, log: Logger): [number, string] {
  if (isOutage(err)) {
    log.warn({ err: { message: (err as Error).message } }, 'websocket message: service unavailable');
    return [TRY_AGAIN_LATER, 'Service unavailable, try again later'];
  }
  log.error({ err }, 'websocket message handling failed');
  return [CloseCode.InternalServerError, 'Internal server error'];
}
