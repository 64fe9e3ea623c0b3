// The reward model in a real browser against the release build: an admin with imported
// preference rows starts a run on Admin -> Reward model, watches it finish, and reads the
// heads' held-out accuracy beside the random-label control, the loss curve and the
// calibration chart; a trainer cannot open the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, screenshots, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('train a reward model on imported rankings and read its figures', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');
  const rows = Array.from({ length: 80 }, (_, i) =>
    JSON.stringify({ prompt: `Tell me about topic ${i}.`, chosen: 'Gladly: here is a short, kind answer.', rejected: 'No.' }),
  ).join('\n');
  const imported = await page.request.post(`${base}/api/datasets/import?request_id=${crypto.randomUUID()}&source=prefs`, { data: rows });
  assert.equal(imported.status(), 200);

  await page.goto(base + '/admin/reward');
  await hydrated(page);
  await page.getByLabel('Source (empty: all; parley: made here)').fill('prefs');
  await page.getByLabel('Layers').fill('1,2');
  await page.getByRole('button', { name: 'Train' }).click();
  const run = page.getByTestId('reward-run').first();
  await run.and(page.locator('[data-status=done]')).waitFor({ timeout: 60_000 });
  assert.match(await run.getByTestId('run-accuracy').textContent(), /^\d+\.\d% \(\d+\.\d% to \d+\.\d%\), control \d+\.\d%$/);
  const heads = page.getByTestId('reward-head');
  assert.equal(await heads.count(), 3, 'two layers and the control');
  assert.match(await heads.nth(2).textContent(), /random labels/);
  assert.match(await page.getByTestId('reward-summary').textContent(), /80 comparisons; \d+ pairs to train on, \d+ held out/);
  assert.ok(await page.locator('[data-chart=loss] polyline').count() === 2);
  assert.ok((await page.locator('[data-chart=calibration] circle').count()) > 0);
  await screenshots(page, 'reward');
  assert.deepEqual(errors, []);
});
