import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkPublicUrl, isPublicAddress } from '../../src/infra/net/public-address.js';
import { createUnfurlFetcher } from '../../src/infra/unfurl/unfurl.fetcher.js';
import { startUnfurlSite } from '../helpers/unfurl-site.js';

it('refuses private, loopback, link-local, unique-local, CGNAT, multicast and unspecified addresses, IPv4-mapped forms too', () => {
  for (const ip of [
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe', // 169.254.169.254
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
    '2002:7f00:1::1', // 6to4 of 127.0.0.1
    'not an ip',
  ])
    expect(isPublicAddress(ip), ip).toBe(false);
  for (const ip of ['93.184.215.14', '8.8.8.8', '100.128.0.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])
    expect(isPublicAddress(ip), ip).toBe(true);
});

it('checks URLs after the URL parser has normalized decimal, octal, hex and IPv6-mapped hosts', async () => {
  for (const url of [
    'http://2130706433/', // 127.0.0.1 as one decimal number
    'http://0x7f.1/', // hex and short form
    'http://0x7f000001/',
    'http://017700000001/', // octal
    'http://127.1/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[::]/',
    'http://0/',
    'http://3232235777/', // 192.168.1.1
    'http://localhost/',
  ])
    await expect(checkPublicUrl(url, { allowPrivate: false }), url).rejects.toThrow(/private or loopback/);
  await expect(checkPublicUrl('file:///etc/passwd', { allowPrivate: false })).rejects.toThrow(/http or https/);
  await expect(checkPublicUrl('http://user:pw@8.8.8.8/', { allowPrivate: false })).rejects.toThrow(/credentials/);
  await expect(checkPublicUrl('http://8.8.8.8/', { allowPrivate: false })).resolves.toBeInstanceOf(URL);
  await expect(checkPublicUrl('http://127.0.0.1/', { allowPrivate: true })).resolves.toBeInstanceOf(URL);
});

let site: Awaited<ReturnType<typeof startUnfurlSite>>;
beforeAll(async () => {
  site = await startUnfurlSite();
});
afterAll(() => site?.close());

const opts = { timeoutMs: 2_000, connectTimeoutMs: 1_000, maxBytes: 64 * 1024, maxRedirects: 3 };

it('the fetcher refuses loopback at connect time in every spelling when private addresses are not allowed', async () => {
  const fetcher = createUnfurlFetcher({ ...opts, allowPrivate: false });
  try {
    const p = site.port;
    for (const url of [
      `http://127.0.0.1:${p}/og/a`,
      `http://2130706433:${p}/og/a`,
      `http://0x7f.1:${p}/og/a`,
      `http://[::ffff:127.0.0.1]:${p}/og/a`,
      `http://localhost:${p}/og/a`, // a name: refused by the lookup, before any connection
    ])
      expect(await fetcher.unfurl(url), url).toBeNull();
    expect(fetcher.misses.refused).toBe(5);
    expect(site.hits('/og/a')).toBe(0); // no request reached the server
  } finally {
    await fetcher.close();
  }
});

it('with private addresses allowed, it reads Open Graph, falls back to <title>, and follows a redirect', async () => {
  const fetcher = createUnfurlFetcher({ ...opts, allowPrivate: true });
  try {
    expect(await fetcher.unfurl(`${site.base}/og/Alpha`)).toEqual({
      title: 'Alpha',
      description: 'About Alpha & more',
      imageUrl: `${site.base}/img/Alpha.png`,
      siteName: 'Loopback',
    });
    expect(await fetcher.unfurl(`${site.base}/title`)).toEqual({
      title: 'Just a title',
      description: 'Plain',
      imageUrl: null,
      siteName: null,
    });
    expect((await fetcher.unfurl(`${site.base}/to-og`))?.title).toBe('redirected');
    expect(await fetcher.unfurl(`${site.base}/image`)).toBeNull();
    expect(fetcher.misses.not_html).toBe(1);
  } finally {
    await fetcher.close();
  }
});
