// Datasets in a real browser against the release build: the admin uploads the shared
// HH-RLHF file (gzip) and sees it imported, its pairs as ranked comparisons credited to the
// source (exported so, and listed as a done batch on Admin -> Comparisons); a file with a bad line is refused with the line
// and field named and nothing stored; the SFT export downloads (a real click on the link)
// with every conversation, and with a split seed the test part holds only some, and as
// Parquet; an imported prompt starts a chat, and a batch of comparisons drawn from imported
// prompts is sampled and ranked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createFirstAdmin, hydrated, parleyAndBrowser, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

function sharedData(file) {
  const dirs = [process.env.PARLEY_SHARED_DATA, path.resolve('../../../shared/data'), '/work/shared/data'];
  const found = dirs.filter(Boolean).map((d) => path.join(d, file)).find((p) => fs.existsSync(p));
  assert.ok(found, `${file} not found; set PARLEY_SHARED_DATA`);
  return found;
}

// The link's file, downloaded by clicking it as a person would: its name and its bytes.
async function download(page, link) {
  const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(await file.failure(), null, 'the download completed');
  return { name: file.suggestedFilename(), bytes: fs.readFileSync(await file.path()) };
}

async function downloadLines(page, link) {
  const { name, bytes } = await download(page, link);
  return { name, lines: bytes.toString('utf8').split('\n').filter((l) => l) };
}

test('import a real file, refuse a bad one, export SFT', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await page.goto(base + '/datasets');
  await hydrated(page);
  await page.locator('input[type=file]').setInputFiles(sharedData('hh-rlhf-harmless-base-test.jsonl.gz'));
  await page.getByTestId('import-form').locator('input[name=source]').fill('hh-rlhf');
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByTestId('import-done').filter({ hasText: '2312 conversations, 0 prompts; 0 duplicates skipped' }).waitFor();
  await page.getByTestId('import-row').filter({ hasText: 'hh-rlhf' }).waitFor();
  // Each pair is also a comparison ranked as the file says, credited to the source.
  assert.match(await page.getByTestId('import-done').textContent(), /2312 comparisons with 2312 rankings, credited to hh-rlhf\./);
  const pairs = await downloadLines(page, page.getByTestId('export-preference-trl'));
  assert.equal(pairs.lines.length, 2312);
  assert.ok(pairs.lines.every((l) => JSON.parse(l).trainer === 'import:hh-rlhf'));

  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bad-')), 'bad.jsonl');
  fs.writeFileSync(bad, '{"instruction": "Say hi", "output": "Hi"}\n{"instruction": 7, "output": "x"}\n');
  await page.locator('input[type=file]').setInputFiles(bad);
  await page.getByRole('button', { name: 'Import' }).click();
  const refused = page.getByTestId('import-refused');
  await refused.locator('li').filter({ hasText: 'line 2: instruction: must be a string, not a number' }).waitFor();
  assert.match(await refused.textContent(), /nothing imported: 1 problem/);
  assert.equal(await page.getByTestId('import-row').count(), 1, 'nothing of the bad file stored');

  // The imported rankings are a batch of their own, done, on Admin -> Comparisons.
  await page.goto(base + '/admin/comparisons');
  await hydrated(page);
  const batch = page.getByTestId('batch').filter({ hasText: 'ranked in the import of hh-rlhf' });
  await batch.getByTestId('ranked').filter({ hasText: '2312 of 2312' }).waitFor();
  await page.screenshot({ path: path.join(os.tmpdir(), 'parley-imported-batch.png'), fullPage: true });
  await page.goto(base + '/datasets');
  await hydrated(page);

  const sft = await downloadLines(page, page.getByTestId('export-sft'));
  assert.equal(sft.name, 'sft.jsonl');
  assert.equal(sft.lines.length, 2312);
  assert.equal(JSON.parse(sft.lines[0]).messages[0].role, 'user');

  await page.getByLabel('Split seed').fill('4');
  await page.getByLabel('Test share').fill('0.25');
  const row = page.getByTestId('export-formats').locator('tr').filter({ hasText: 'SFT' });
  const testPart = await downloadLines(page, row.getByRole('link', { name: 'test' }));
  assert.equal(testPart.name, 'sft-test.jsonl');
  assert.ok(testPart.lines.length > 400 && testPart.lines.length < 750, `about a quarter: ${testPart.lines.length}`);

  // Parquet: the same part as a Parquet file; formats without a Parquet form say so.
  await page.getByLabel('File type').selectOption('parquet');
  await page.waitForFunction(() => document.querySelector('[data-testid=export-formats] a[href*="file=parquet"]'));
  const { name: parquetName, bytes } = await download(page, row.getByRole('link', { name: 'test' }));
  assert.equal(parquetName, 'sft-test.parquet');
  assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
  assert.equal(bytes.subarray(bytes.length - 4).toString(), 'PAR1');
  const trees = page.getByTestId('export-formats').locator('tr').filter({ hasText: 'Open-Assistant' });
  await trees.getByText('JSON lines only').waitFor();

  // Imported prompts start chats: the button fills the message box with one of them.
  await page.goto(base + '/datasets');
  await hydrated(page);
  await page.locator('input[type=file]').setInputFiles(sharedData('oasst-prompt-lottery-en-250.jsonl'));
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByTestId('import-done').filter({ hasText: '250 prompts' }).waitFor();
  await page.goto(base + '/chat');
  await hydrated(page);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await page.getByRole('button', { name: 'Use an imported prompt' }).click();
  const prompts = fs.readFileSync(sharedData('oasst-prompt-lottery-en-250.jsonl'), 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  await page.waitForFunction(() => document.querySelector('#composer').value.length > 0);
  assert.ok(prompts.includes(await page.locator('#composer').inputValue()), 'one of the imported prompts');

  // A batch drawn from imported prompts: all K replies sampled for each, then ranked with
  // the prompt as the conversation so far.
  await page.goto(base + '/admin/comparisons');
  await hydrated(page);
  await page.getByLabel('Replies to draw').fill('2');
  await page.getByLabel('K (completions)').fill('3');
  await page.getByLabel('Max tokens').fill('8');
  await page.getByLabel(/Draw imported prompts/).check();
  await page.getByLabel(/Trainers may rank replies from their own chats/).check();
  await page.getByRole('button', { name: 'Create batch' }).click();
  await page.getByTestId('batch').filter({ hasText: 'imported prompts' }).getByTestId('sampled').filter({ hasText: '2 of 2' }).waitFor({ timeout: 60000 });
  await page.goto(base + '/rank');
  await hydrated(page);
  const task = page.getByTestId('rank-task');
  await task.waitFor();
  assert.equal(await page.getByTestId('completion').count(), 3);
  await page.getByText('Context (1 turns)').waitFor();
  // The turn is shown as Markdown: compare its words, not its marks.
  const words = (text) => text.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
  const turn = words(await task.locator('li.turn[data-role=user]').textContent());
  assert.ok(prompts.some((p) => turn.includes(words(p))), `the drawn prompt is the context: ${turn}`);
  assert.deepEqual(errors, [], 'no script errors in the page');
});
