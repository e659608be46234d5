/**
 * The socket never answers 4500 to a client's mistake: raw frames the official client would never
 * send. Garbage, wrong shapes and messages only a server sends close with 4400 Bad Request, as
 * graphql-transport-ws says; `complete` for an id the server does not know is allowed and ignored.
 * Other sockets keep being served.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { basicWorkspace, describeApi, startTestApp, type TestApp } from '../helpers/app.js';
import { RawSocket } from '../helpers/raw-ws.js';

/** Frames that are the client's mistake, sent after a successful connection_init. */
const INVALID: [string, string][] = [
  ['a `next` message', '{"type":"next","id":"1","payload":{"data":{}}}'],
  ['an `error` message', '{"type":"error","id":"1","payload":[{"message":"x"}]}'],
  ['a `connection_ack`', '{"type":"connection_ack"}'],
  ['an unknown type', '{"type":"bogus"}'],
  ['a message without a type', '{"id":"1"}'],
  ['a non-string type', '{"type":42}'],
  ['garbage', 'not json at all {'],
  ['a JSON array', '[1,2,3]'],
  ['a JSON string', '"subscribe"'],
  ['JSON null', 'null'],
  ['a subscribe without an id', '{"type":"subscribe","payload":{"query":"{ me { id } }"}}'],
  ['a subscribe with an empty id', '{"type":"subscribe","id":"","payload":{"query":"{ me { id } }"}}'],
  ['a subscribe with a numeric id', '{"type":"subscribe","id":7,"payload":{"query":"{ me { id } }"}}'],
  ['a subscribe without a query', '{"type":"subscribe","id":"1","payload":{}}'],
  ['a subscribe whose query is a number', '{"type":"subscribe","id":"1","payload":{"query":1}}'],
  [
    'a subscribe whose variables are a list',
    '{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }","variables":[1]}}',
  ],
  ['a complete without an id', '{"type":"complete"}'],
  ['a ping whose payload is a string', '{"type":"ping","payload":"x"}'],
];

describeApi('graphql-ws protocol errors are 4400, never 4500', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof basicWorkspace>>;
  let bystander: RawSocket;

  beforeAll(async () => {
    t = await startTestApp();
    w = await basicWorkspace(t);
    bystander = await RawSocket.open(t.url, w.bob.token);
  });
  afterAll(async () => {
    bystander?.close();
    await t?.stop();
  });

  for (const [what, frame] of INVALID) {
    it(`${what} closes with 4400; other sockets are still served`, async () => {
      const raw = await RawSocket.open(t.url, w.ann.token);
      raw.send(frame);
      const closed = await raw.closed;
      expect(closed.code).toBe(4400);
      const answer = await bystander.operation(`after ${what}`, '{ me { id } }');
      expect(answer).toMatchObject({ type: 'next', payload: { data: { me: { id: w.bob.id } } } });
    });
  }

  it('a `next` before connection_init is also 4400', async () => {
    const raw = await RawSocket.open(t.url, null);
    raw.send('{"type":"next","id":"1","payload":{}}');
    expect((await raw.closed).code).toBe(4400);
  });

  it('complete for an unknown id, ping and pong are fine: the socket stays open and serves', async () => {
    const raw = await RawSocket.open(t.url, w.ann.token);
    raw.send('{"type":"complete","id":"never-subscribed"}');
    raw.send('{"type":"pong"}');
    raw.send('{"type":"ping","payload":{"n":1}}');
    expect(await raw.until((m) => m.type === 'pong')).toMatchObject({ type: 'pong', payload: { n: 1 } });
    const answer = await raw.operation('me', '{ me { id } }');
    expect(answer).toMatchObject({ type: 'next', payload: { data: { me: { id: w.ann.id } } } });
    expect(raw.isOpen).toBe(true);
    raw.close();
  });
});
