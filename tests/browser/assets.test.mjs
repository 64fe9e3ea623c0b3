// The first visit as a new trainer's browser makes it (empty cache, Chromium's own
// Accept-Encoding): the bytes that cross the network until the sign-in page is
// interactive, counted by Chromium itself (DevTools' encodedDataLength: headers and
// compressed bodies); the next pages take the bundle from the cache without asking. And the
// headers that make that so: brotli or gzip as the browser accepts, a year and `immutable`
// for content-hashed names, pages never taken from a cache unasked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, startBrowser } from './harness.mjs';

const running = parleyAndBrowser();
const PASSWORD = 'a long enough passphrase';
// Issue 19's budget. The bundle is split by page group (scripts/build.sh): the sign-in
// page moves the part every page needs and the sign-in group's modules; it moved about
// 1.06 MB when the app was one wasm.
const BUDGET = 400 * 1000;

/// Counts what a page's loads move over the network from now on.
async function countTransfer(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const counted = { bytes: 0, byUrl: new Map(), fromCache: new Set() };
  const urls = new Map();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.requestServedFromCache', (e) => counted.fromCache.add(urls.get(e.requestId)));
  cdp.on('Network.loadingFinished', (e) => {
    counted.bytes += e.encodedDataLength;
    const url = urls.get(e.requestId);
    counted.byUrl.set(url, (counted.byUrl.get(url) || 0) + e.encodedDataLength);
  });
  return counted;
}

function report(counted) {
  return [...counted.byUrl].map(([url, bytes]) => `${new URL(url).pathname} ${bytes} B`).join(', ');
}

test('a trainer\'s first visit moves at most 400 kB; the next pages take the bundle from the cache', async () => {
  const setup = await running.browser.context.newPage();
  await createFirstAdmin(setup, running.parley.base, 'admin@example.com', PASSWORD);
  await setup.close();

  // A browser that has never seen Parley.
  const fresh = await startBrowser();
  try {
    const page = await fresh.context.newPage();
    const counted = await countTransfer(fresh.context, page);
    await page.goto(running.parley.base + '/');
    await page.waitForURL(/\/login/);
    await hydrated(page);
    await page.waitForLoadState('networkidle');
    console.log(`first visit (sign-in page): ${counted.bytes} B over the network: ${report(counted)}`);
    assert.ok(counted.byUrl.size >= 4, `the page, its script, wasm and style: ${report(counted)}`);
    assert.ok(counted.bytes <= BUDGET, `first visit moved ${counted.bytes} B, more than ${BUDGET}: ${report(counted)}`);

    // Signed in, the start page and the Rank page: only their HTML and data travel.
    await page.getByLabel('E-mail').fill('admin@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /Welcome/ }).waitFor();
    // The part every page needs comes from the cache; a page of another group fetches its
    // group's modules once, and nothing of the bundle the next time.
    const common = /^\/pkg\/([0-9a-f]{16}\/(parley\.(js|wasm)|__wasm_split\.)|parley\.[0-9a-f]{16}\.css)/;
    const fetched = (counted, pattern) =>
      [...counted.byUrl].filter(([url, bytes]) => pattern.test(new URL(url).pathname) && bytes > 0);
    for (const path of ['/rank', '/write']) {
      const again = await countTransfer(fresh.context, page);
      await page.goto(running.parley.base + path);
      await hydrated(page);
      await page.waitForLoadState('networkidle');
      assert.deepEqual(fetched(again, common), [], `${path} fetched the common part again: ${report(again)}`);
      console.log(`${path} after the first visit: ${again.bytes} B over the network: ${report(again)}`);
      const next = await countTransfer(fresh.context, page);
      await page.goto(running.parley.base + path);
      await hydrated(page);
      await page.waitForLoadState('networkidle');
      assert.deepEqual(fetched(next, /^\/pkg\//), [], `${path} again fetched the bundle: ${report(next)}`);
    }
  } finally {
    await fresh.stop();
  }
});

test('the bundle is sent compressed as the browser accepts and cached for good; pages are not', async () => {
  const base = running.parley.base;
  const page = await running.browser.context.newPage();
  const login = await page.request.get(base + '/login');
  const html = await login.text();
  const style = html.match(/href="(\/pkg\/parley\.[0-9a-f]{16}\.css)"/)?.[1];
  const script = html.match(/(\/pkg\/[0-9a-f]{16}\/parley)\.js/)?.[1];
  assert.ok(style && script, `hashed names in the page: ${html.slice(0, 2000)}`);
  // The sign-in page's own modules of the split bundle, which the page preloads, and the
  // loader that instantiates them.
  const modules = [...html.matchAll(/<link [^>]*href="(\/pkg\/[0-9a-f]{16}\/(?!parley)[^"]+\.wasm)"/g)].map((m) => m[1]);
  const loader = html.match(/<link [^>]*href="(\/pkg\/[0-9a-f]{16}\/__wasm_split\.[^"]+\.js)"/)?.[1];
  assert.ok(modules.length >= 1 && loader, `the page preloads its route's modules: ${html.slice(0, 3000)}`);
  assert.match(login.headers()['cache-control'] ?? '', /no-cache/, 'the page must be revalidated');
  assert.match(login.headers()['cache-control'] ?? '', /private/, 'no shared cache keeps a page');

  for (const path of [script + '.js', script + '.wasm', style, loader, ...modules]) {
    const plain = await page.request.get(base + path, { headers: { 'Accept-Encoding': 'identity' } });
    assert.equal(plain.status(), 200, path);
    assert.equal(plain.headers()['content-encoding'], undefined, `${path} without compression`);
    assert.equal(plain.headers()['cache-control'], 'public, max-age=31536000, immutable', path);
    const size = (await plain.body()).length;
    for (const [accept, encoding] of [['br, gzip', 'br'], ['gzip', 'gzip']]) {
      const packed = await page.request.get(base + path, { headers: { 'Accept-Encoding': accept } });
      assert.equal(packed.headers()['content-encoding'], encoding, `${path} for ${accept}`);
      assert.equal(packed.headers()['cache-control'], 'public, max-age=31536000, immutable', path);
      assert.match(packed.headers()['vary'] ?? '', /accept-encoding/i, `${path} varies by encoding`);
      // page.request decodes the body: the same bytes come back.
      assert.equal((await packed.body()).length, size, `${path} as ${encoding} decodes to the file`);
    }
  }
  const wasm = await page.request.get(base + script + '.wasm', { headers: { 'Accept-Encoding': 'identity' } });
  assert.equal(wasm.headers()['content-type'], 'application/wasm');

  // A name that is not hashed is never cached for good; a missing file is a 404.
  const missing = await page.request.get(base + '/pkg/0000000000000000/parley.wasm');
  assert.equal(missing.status(), 404);
  assert.equal(missing.headers()['cache-control'], undefined, 'a 404 is not cached for a year');
  await page.close();
});
