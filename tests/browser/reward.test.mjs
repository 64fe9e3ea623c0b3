// The reward model in a real browser against the release build: an admin with imported
// preference rows starts a run on Admin -> Reward model, watches it finish, and reads the
// heads' held-out accuracy beside the random-label control, the loss curve and the
// calibration chart; a trainer cannot open the page. Then a comparison batch drawn by the
// model's uncertainty queues the 2 of 6 prompts it is least sure of.
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
    JSON.stringify({ prompt: `Tell me about topic ${2 * i}.`, chosen: 'Gladly: here is a short, kind answer.', rejected: 'No.' }),
  ).join('\n');
  const imported = await page.request.post(`${base}/api/datasets/import?request_id=${crypto.randomUUID()}&source=prefs`, { data: rows });
  assert.equal(imported.status(), 200);
  // Twenty more comparisons, ranked by three trainers: the third always the other way.
  const shared = Array.from({ length: 20 }, (_, i) =>
    [['amy', [0, 1]], ['bob', [0, 1]], ['cid', [1, 0]]].map(([trainer, ranking]) =>
      JSON.stringify({ prompt: `Tell me about topic ${2 * i + 1}.`, completions: ['Gladly: here is a short, kind answer.', 'No.'], ranking, trainer }),
    ),
  ).flat().join('\n');
  const kwise = await page.request.post(`${base}/api/datasets/import?request_id=${crypto.randomUUID()}&source=prefs`, { data: shared });
  assert.equal(kwise.status(), 200);

  await page.goto(base + '/admin/reward');
  await hydrated(page);
  await page.getByLabel('Source (empty: all; parley: made here)').fill('prefs');
  await page.getByLabel('Layers').fill('1,2');
  await page.getByRole('button', { name: 'Train' }).click();
  const run = page.getByTestId('reward-run').first();
  await run.and(page.locator('[data-status=done]')).waitFor({ timeout: 60_000 });
  assert.match(await run.getByTestId('run-accuracy').textContent(), /^\d+\.\d% \(\d+\.\d% to \d+\.\d%\), control \d+\.\d%$/);
  const heads = page.getByTestId('reward-head');
  assert.equal(await heads.count(), 5, 'two readings at each of two layers, and the control');
  assert.match(await heads.nth(1).textContent(), /layer 1, last token \+ mean/);
  assert.match(await heads.nth(4).textContent(), /random labels/);
  assert.match(await page.getByTestId('reward-summary').textContent(), /100 comparisons; \d+ pairs to train on, \d+ held out/);
  assert.ok(await page.locator('[data-chart=loss] polyline').count() === 2);
  assert.ok((await page.locator('[data-chart=calibration] circle').count()) > 0);
  await screenshots(page, 'reward');

  // The Quality page reads the same run: accuracy per batch and model version, calibration.
  await page.goto(base + '/stats');
  await hydrated(page);
  const quality = page.getByTestId('reward-quality');
  await quality.waitFor();
  assert.match(await quality.textContent(), /orders \d+\.\d% of \d+ held-out pairs/);
  const parts = page.getByTestId('reward-part');
  assert.equal(await parts.count(), 3, 'two batches and one kind of text');
  assert.match(await parts.last().textContent(), /^Model imported text/);
  assert.ok((await page.locator('[data-chart=calibration] circle').count()) > 0);
  await screenshots(page, 'quality-reward');

  // Review -> Doubtful rankings: the third trainer's rankings; one is set aside.
  await page.goto(base + '/review/rankings');
  await hydrated(page);
  const doubts = page.getByTestId('doubt');
  await doubts.first().waitFor();
  const waiting = await doubts.count();
  assert.ok(waiting > 0);
  assert.match(await doubts.first().getByTestId('doubt-line').textContent(), /Ranked by import:prefs\/cid .* the 2 other trainers ordered 0% of its pairs the same way/);
  assert.match(await doubts.first().getByTestId('doubt-reply').first().textContent(), /Place 1 · others: 2, 2 · model score -?\d+\.\d\d\s*No\./);
  assert.match(await page.getByTestId('doubt-summary').textContent(), /0 settled/);
  await screenshots(page, 'doubtful');
  await doubts.first().getByLabel('Note (optional)').fill('Ranks the curt reply first every time.');
  await doubts.first().getByRole('button', { name: 'Set it aside' }).click();
  await page.getByTestId('doubt-summary').filter({ hasText: '1 settled' }).waitFor();
  assert.equal(await doubts.count(), waiting - 1, "at most 20 are doubtful, all shown");

  // Admin -> Comparisons: a batch of imported prompts drawn by the model's uncertainty.
  const prompts = Array.from({ length: 6 }, (_, i) => JSON.stringify(`Could you tell me about topic ${i}?`)).join('\n');
  const promptsImported = await page.request.post(`${base}/api/datasets/import?format=prompts&request_id=${crypto.randomUUID()}`, { data: prompts });
  assert.equal(promptsImported.status(), 200);
  await page.goto(base + '/admin/comparisons');
  await hydrated(page);
  await page.getByLabel('Replies to draw').fill('2');
  await page.getByLabel('Max tokens').fill('6');
  await page.getByLabel('Draw imported prompts instead of chat replies').check();
  await page.getByLabel(/Draw by the reward model's uncertainty/).check();
  await page.getByRole('button', { name: 'Create batch' }).click();
  const selection = page.getByTestId('selection').first();
  await selection.filter({ hasText: /2 ranked, 4 passed over/ }).waitFor({ timeout: 60_000 });
  assert.match(await selection.textContent(), /^by uncertainty \(reward model [0-9a-f]{8}\): 2 ranked, 4 passed over$/);
  assert.equal(await page.getByTestId('sampled').first().textContent(), '6 of 6');
  await screenshots(page, 'comparisons-uncertainty');
  assert.deepEqual(errors, []);
});
