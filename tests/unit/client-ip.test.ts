import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createClientIp } from '../../src/gateway/client-ip.js';

const req = (peer: string, xff?: string) => ({
  headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  socket: { remoteAddress: peer },
});

it('believes X-Forwarded-For only from trusted proxies, and then only up to the first untrusted hop', () => {
  const none = createClientIp([]);
  expect(none(req('10.0.0.5', '203.0.113.7'))).toBe('10.0.0.5');
  const ip = createClientIp(['loopback', '10.0.0.0/8']);
  expect(ip(req('127.0.0.1', '203.0.113.7'))).toBe('203.0.113.7');
  // A client that forges the first hop does not get to choose: the nearest untrusted hop wins.
  expect(ip(req('10.0.0.5', '1.2.3.4, 203.0.113.7, 10.0.0.9'))).toBe('203.0.113.7');
  // An untrusted peer's header is ignored.
  expect(ip(req('198.51.100.1', '203.0.113.7'))).toBe('198.51.100.1');
  expect(ip(req('127.0.0.1'))).toBe('127.0.0.1');
});

it('reads TRUST_PROXY as a list and refuses what is not an address, a range or a known name', () => {
  expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8']);
  expect(loadConfig({}).trustProxy).toEqual([]);
  expect(() => loadConfig({ TRUST_PROXY: 'proxy.example.com' })).toThrow(ConfigError);
  expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/99' })).toThrow(/TRUST_PROXY/);
});
