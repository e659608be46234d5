import { createHmac } from 'node:crypto';
import { expect, it } from 'vitest';
import { createHttpWebhookSender, signature } from '../../src/infra/webhooks/http.sender.js';

it('production refuses callback URLs on private, loopback and link-local addresses, and non-http schemes', async () => {
  const sender = createHttpWebhookSender({ allowPrivate: false });
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'http://10.1.2.3/',
    'http://192.168.0.10/',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/',
    'http://localhost/',
  ])
    await expect(sender.checkUrl(url), url).rejects.toThrow(/private or loopback/);
  await expect(sender.checkUrl('ftp://example.com/')).rejects.toThrow(/http or https/);
  await expect(sender.checkUrl('not a url')).rejects.toThrow(/not a valid URL/);
  await expect(sender.checkUrl('https://203.0.113.7/hook')).resolves.toBeUndefined();
  // Allowed by the explicit setting (tests, development).
  await expect(createHttpWebhookSender({ allowPrivate: true }).checkUrl('http://127.0.0.1/')).resolves.toBeUndefined();
});

it('signs "<timestamp>.<body>" with HMAC-SHA256, versioned', () => {
  expect(signature('s3cret', 1700000000, '{"a":1}')).toBe(
    `v1=${createHmac('sha256', 's3cret').update('1700000000.{"a":1}').digest('hex')}`,
  );
  expect(signature('s3cret', 1700000000, '{"a":1}')).not.toBe(signature('s3cret', 1700000001, '{"a":1}'));
  expect(signature('s3cret', 1700000000, '{"a":1}')).toMatch(/^v1=[0-9a-f]{64}$/);
});
