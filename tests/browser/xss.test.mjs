// Stored text that tries to break out of its element, in a real browser after hydration:
// guidelines, the filter policy and feedback categories (each shown in a textarea on an
// admin page) and a trainer's turn. None of it runs; each textarea holds exactly the text
// that was saved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser } from './harness.mjs';

const running = parleyAndBrowser();

const PAYLOAD = '</textarea><script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
const SHORT = '<img src=x onerror=__xss=3>';

/// Calls a server function from the page, as its forms do, with the page's session.
async function call(page, fn, fields) {
  return page.evaluate(async ([fn, fields]) => {
    const reply = await fetch('/api/' + fn, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    return { status: reply.status, body: await reply.json().catch(() => null) };
  }, [fn, fields]);
}

async function nothingRan(page, path) {
  await page.goto(running.parley.base + path);
  await hydrated(page);
  // Long enough for an injected handler or script to have run.
  await page.waitForTimeout(300);
  const found = await page.evaluate(() => ({
    xss: window.__xss ?? null,
    images: document.querySelectorAll('img[src="x"]').length,
  }));
  assert.deepEqual(found, { xss: null, images: 0 }, `${path}: stored text ran as HTML`);
}

test('stored text never runs as HTML, on the server page or after hydration', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');
  await page.goto(base + '/');
  await hydrated(page);

  assert.equal((await call(page, 'guidelines/save', { area: 'write', markdown: PAYLOAD })).status, 200);
  const overview = await call(page, 'filter/overview', {});
  const policy = `# ${PAYLOAD}\n${overview.body.policy.text}`;
  assert.equal((await call(page, 'filter/save_policy', { policy })).status, 200);
  const categories = `helpful\n${SHORT}`;
  assert.equal((await call(page, 'feedback/set_categories', { categories })).status, 200);
  const demo = crypto.randomUUID();
  assert.equal((await call(page, 'conversations/create', { request_id: demo, kind: 'demonstration' })).status, 200);
  const turn = { conversation_id: demo, request_id: crypto.randomUUID(), role: 'user', text: PAYLOAD };
  assert.equal((await call(page, 'conversations/add_message', turn)).status, 200);

  await nothingRan(page, '/admin/guidelines');
  assert.equal(await page.getByLabel('write guidelines').inputValue(), PAYLOAD, 'the textarea holds the text');
  await nothingRan(page, '/admin/filter');
  assert.equal(await page.locator('textarea[name="policy"]').inputValue(), policy);
  await nothingRan(page, '/feedback');
  assert.equal(await page.locator('textarea[name="categories"]').inputValue(), `helpful\n${SHORT}`);
  await nothingRan(page, '/write');
  await nothingRan(page, `/write/${demo}`);
  await page.locator('li.turn').getByText(PAYLOAD).waitFor();
  await nothingRan(page, '/mine');
  assert.deepEqual(errors, [], 'no script errors in the page');
});
