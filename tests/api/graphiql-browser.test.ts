/**
 * GraphiQL in a real browser: Debian's Chromium driven by playwright-core (no browser download).
 * The page loads from this server alone, the sign-up example tab runs as it is, the token goes
 * into the Headers tab, the subscription example authenticates over the WebSocket from there, and
 * a message sent over HTTP from outside shows up in the result pane. A screenshot of that is kept
 * in test-artifacts/ (gitignored).
 *
 * Runs once (in the "pglite" project). Without /usr/bin/chromium it is skipped, unless
 * REQUIRE_SERVICES=1 (CI installs the `chromium` package), where it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireServices, testDbKind } from '../helpers/db.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { CreateWorkspaceDocument, SendMessageDocument } from '../generated/gql/graphql.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

if (testDbKind === 'pglite' && !haveChromium) {
  const reason = `GraphiQL browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium)`;
  if (requireServices) {
    describe('GraphiQL in Chromium', () => {
      it('needs Chromium (REQUIRE_SERVICES=1)', () => {
        throw new Error(reason);
      });
    });
  } else {
    console.warn(reason);
  }
}

describe.skipIf(testDbKind !== 'pglite' || !haveChromium)('GraphiQL in Chromium', () => {
  let t: TestApp;
  let userDataDir: string;
  let context: BrowserContext;
  let page: Page;
  const offOrigin: string[] = [];
  const wsFrames: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ GRAPHIQL: 'true' });
    userDataDir = mkdtempSync(join(tmpdir(), 'graphiql-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 720 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    const origin = new URL(t.url).origin;
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')) offOrigin.push(url);
    });
    page.on('websocket', (ws) => ws.on('framesent', (f) => wsFrames.push(String(f.payload))));
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await t?.stop();
  });

  /** Replaces the content of the visible JSON editor (variables or headers) as a user would. */
  async function fillJsonEditor(text: string) {
    await page.locator('.graphiql-editor[data-mode-id=json]:not(.hidden)').first().click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Backspace');
    // One input event (like a paste): typing key by key would meet the editor's auto-closed quotes.
    await page.keyboard.insertText(text);
  }

  it('signs up from the example tab, subscribes with the Headers tab token, shows a message sent from outside', async () => {
    await page.goto(t.url);
    const run = page.locator('.graphiql-execute-button');
    await run.waitFor();
    expect(await page.locator('.graphiql-tab-button').allInnerTexts()).toEqual([
      'SignUp',
      'CreateWorkspace',
      'Channel',
    ]);

    // 1. The sign-up tab as shipped (its variables included).
    const signedUp = page.waitForResponse(
      (r) => r.request().method() === 'POST' && (r.request().postData() ?? '').includes('signUp('),
    );
    await run.click();
    const body = (await (await signedUp).json()) as { data?: { signUp: { token: string } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    const token = body.data!.signUp.token;
    await page.locator('.graphiql-response').getByText('"token"').waitFor();

    // From outside: a workspace (its #general channel) made with that token.
    const ann = t.anon.withToken(token);
    const general = (await ann.ok(CreateWorkspaceDocument, { name: 'Browser' })).createWorkspace.channels.find(
      (c) => c.name === 'general',
    )!.id;

    // 2. The subscription tab: its channel id in Variables, the token in Headers.
    await page.locator('.graphiql-tab-button', { hasText: 'Channel' }).click();
    await fillJsonEditor(JSON.stringify({ channelId: general }));
    await page.locator('button[data-name=headers]').click();
    await fillJsonEditor(JSON.stringify({ Authorization: `Bearer ${token}` }));
    // GraphiQL stores the tab's headers (shouldPersistHeaders); the socket's connectionParams read them there.
    await page.waitForFunction((tok) => {
      const s = JSON.parse(localStorage.getItem('graphiql:tabState') ?? '{}') as {
        activeTabIndex: number;
        tabs: { headers: string | null }[];
      };
      return (s.tabs[s.activeTabIndex]?.headers ?? '').includes(tok);
    }, token);

    const listening = t.app.realtime.hub.stats().listens;
    await run.click();
    await expect
      .poll(() => t.app.realtime.hub.stats().listens, { timeout: 15_000, interval: 50 })
      .toBeGreaterThan(listening);
    // The browser's frame events reach this process on their own schedule: wait for the one we check.
    await expect
      .poll(() => wsFrames.find((f) => f.includes('"connection_init"')) ?? '', { timeout: 15_000, interval: 50 })
      .toContain(`"authorization":"Bearer ${token}"`);

    // 3. A message sent over HTTP appears in the result pane.
    const text = `hello from outside ${Date.now()}`;
    await ann.ok(SendMessageDocument, { input: { channelId: general, text } });
    await page.locator('.graphiql-response').getByText(text).waitFor({ timeout: 15_000 });
    expect(await page.locator('.graphiql-response').innerText()).toContain('MessagePosted');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('graphiql-subscription.png', ARTIFACTS).pathname });
    expect(offOrigin).toEqual([]);
  });
});
