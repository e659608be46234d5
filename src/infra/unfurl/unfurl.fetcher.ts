/**
 * The unfurl fetcher (the adapter behind domain/messages/unfurls.ts's UnfurlFetcher port): GETs a
 * URL a user wrote and reads its Open Graph / Twitter card / <title> metadata, safely.
 *
 * - Only http and https; connections reach public addresses only, checked at connect time
 *   (infra/net/public-address.ts: the same rule as outgoing webhooks), unless `allowPrivate`
 *   (tests, development: UNFURL_ALLOW_PRIVATE).
 * - One deadline for everything (connect, redirects, headers, body: `timeoutMs`) and a shorter
 *   connect timeout; at most `maxRedirects` redirects, each target checked again like the first.
 * - Only text/html (or XHTML) is read, and at most `maxBytes` of it: past the cap the connection is
 *   dropped, and the page is unfurled only if its <head> ended within the cap.
 * - Parsing is open-graph-scraper's, given the HTML we fetched (it makes no request of its own).
 */
import ogs from 'open-graph-scraper';
import { request } from 'undici';
import { createGuardedAgent } from '../net/public-address.js';

export interface UnfurlFetcherOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  connectTimeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

export interface UnfurlResult {
  title: string | null;
  description: string | null;
  imageUrl: string | null;
  siteName: string | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const HTML = /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i;

/** Why a URL gave no unfurl (logged at debug, counted by tests). */
export type UnfurlMiss =
  'scheme' | 'refused' | 'timeout' | 'status' | 'redirects' | 'not_html' | 'too_big' | 'no_metadata' | 'error';

export function createUnfurlFetcher(
  opts: UnfurlFetcherOptions,
  log: { debug(obj: object, msg: string): void } = { debug: () => {} },
) {
  const agent = createGuardedAgent({ allowPrivate: opts.allowPrivate, connectTimeoutMs: opts.connectTimeoutMs });
  const closing = new AbortController();
  const misses: Record<UnfurlMiss, number> = {
    scheme: 0,
    refused: 0,
    timeout: 0,
    status: 0,
    redirects: 0,
    not_html: 0,
    too_big: 0,
    no_metadata: 0,
    error: 0,
  };

  class Miss extends Error {
    constructor(readonly why: UnfurlMiss) {
      super(why);
    }
  }

  /** The page's HTML and final URL, following redirects; throws Miss when there is nothing to parse. */
  async function fetchHtml(start: URL, signal: AbortSignal): Promise<{ html: string; url: URL }> {
    let url = start;
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Miss('scheme');
      if (url.username || url.password) throw new Miss('scheme');
      const res = await request(url, {
        method: 'GET',
        dispatcher: agent,
        signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        headers: {
          'user-agent': 'chat-platform-unfurl/1 (+link previews)',
          accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
        },
      });
      if (REDIRECTS.has(res.statusCode)) {
        discard(res.body);
        const location = res.headers.location;
        if (hop >= opts.maxRedirects || typeof location !== 'string') throw new Miss('redirects');
        url = new URL(location, url);
        continue;
      }
      if (res.statusCode < 200 || res.statusCode > 299) {
        discard(res.body);
        throw new Miss('status');
      }
      const type = String(res.headers['content-type'] ?? '');
      if (!HTML.test(type)) {
        discard(res.body);
        throw new Miss('not_html');
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = opts.maxBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          truncated = true;
          break; // leaving the loop destroys the body: nothing more is read
        }
        chunks.push(chunk);
        size += chunk.length;
      }
      const bytes = Buffer.concat(chunks);
      let html = decode(bytes, type);
      if (truncated) {
        const end = html.search(/<\/head\s*>/i);
        if (end < 0) throw new Miss('too_big');
        html = html.slice(0, end) + '</head><body></body></html>';
      }
      return { html, url };
    }
  }

  async function unfurl(raw: string): Promise<UnfurlResult | null> {
    if (closing.signal.aborted) throw new Error('unfurl fetcher closed');
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(opts.timeoutMs)]);
    try {
      const { html, url } = await fetchHtml(new URL(raw), signal);
      const meta = await parse(html, url);
      if (!meta) throw new Miss('no_metadata');
      return meta;
    } catch (err) {
      if (closing.signal.aborted) throw new Error('unfurl fetcher closed', { cause: err }); // retried by another run
      const why: UnfurlMiss =
        err instanceof Miss
          ? err.why
          : signal.aborted
            ? 'timeout'
            : (err as { code?: string }).code === 'EPRIVATEADDRESS' ||
                (err as { cause?: { code?: string } }).cause?.code === 'EPRIVATEADDRESS'
              ? 'refused'
              : 'error';
      misses[why]++;
      log.debug({ url: raw, why, err: err instanceof Miss ? undefined : String(err) }, 'no unfurl');
      return null;
    }
  }

  return {
    unfurl,
    /** Counts of URLs that gave no unfurl, by reason (tests read it). */
    misses: misses as Readonly<Record<UnfurlMiss, number>>,
    /** Aborts fetches in progress (their events are retried by the next run) and closes connections. */
    async close() {
      closing.abort();
      await agent.destroy().catch(() => undefined);
    },
  };
}

/** Drops a response body unread (the connection is closed; its abort error is expected, not thrown). */
function discard(body: { on(event: 'error', fn: () => void): unknown; destroy(): unknown }) {
  body.on('error', () => {});
  body.destroy();
}

/** Decodes by the Content-Type charset, else a <meta charset> near the top, else UTF-8. */
function decode(bytes: Buffer, contentType: string): string {
  const declared =
    /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType)?.[1] ??
    /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(bytes.subarray(0, 2048).toString('latin1'))?.[1];
  try {
    return new TextDecoder(declared ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

const clean = (v: unknown, max: number): string | null => {
  if (typeof v !== 'string') return null;
  const s = v
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!s) return null;
  const chars = [...s];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : s;
};

/** Open Graph first, then the Twitter card, then <title> / <meta name="description">. Null: nothing to show. */
async function parse(html: string, page: URL): Promise<UnfurlResult | null> {
  let r: Awaited<ReturnType<typeof ogs>>['result'];
  try {
    // Its fallbacks fill the title and description from <title> and <meta name="description">; not
    // the image (it would pick any <img> of the page).
    ({ result: r } = await ogs({ html, onlyGetOpenGraphInfo: ['image'] }));
  } catch (err) {
    // open-graph-scraper rejects with { error, result } when it finds nothing at all.
    r = (err as { result?: typeof r }).result ?? {};
  }
  const title = clean(r.ogTitle ?? r.twitterTitle, 300);
  const description = clean(r.ogDescription ?? r.twitterDescription, 1000);
  const rawImage = r.ogImage?.[0]?.url ?? r.twitterImage?.[0]?.url;
  let imageUrl: string | null = null;
  if (typeof rawImage === 'string') {
    try {
      const u = new URL(rawImage, page);
      if ((u.protocol === 'https:' || u.protocol === 'http:') && u.href.length <= 2048) imageUrl = u.href;
    } catch {
      imageUrl = null;
    }
  }
  const siteName = clean(r.ogSiteName ?? r.twitterSite, 200);
  if (!title && !description) return null;
  return { title, description, imageUrl, siteName };
}
