// A trainer writes a two-turn demonstration, edits a turn, reloads and finds it intact,
// then submits it, in a real browser against the release build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser } from './harness.mjs';

const running = parleyAndBrowser();

test('write a demonstration, reload it intact, submit it', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await createFirstAdmin(page, running.parley.base, 'admin@example.org', 'correct horse battery');

  await page.getByRole('link', { name: 'Write' }).click();
  await page.getByRole('heading', { name: 'Write a demonstration' }).waitFor();
  await page.getByLabel('System prompt (optional)').fill('Answer briefly.');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/write\/[0-9a-f-]{36}$/);

  await page.getByLabel('Next turn: the user').fill('What is 2+2?');
  await page.getByRole('button', { name: 'Add turn' }).click();
  await page.getByLabel('Next turn: the assistant').fill('4');
  await page.getByRole('button', { name: 'Add turn' }).click();
  await page.getByLabel('Next turn: the user').waitFor();

  const assistant = page.getByLabel('assistant turn');
  await assistant.fill('2+2 is 4.');
  const saved = page.waitForResponse((r) => r.url().endsWith('/api/conversations/edit_message') && r.status() === 200);
  await page.locator('li[data-role="assistant"]').getByRole('button', { name: 'Save' }).click();
  await saved;

  // The draft lives on the server: a reload shows it as written.
  await page.reload();
  await hydrated(page);
  assert.equal(await page.getByLabel('user turn').inputValue(), 'What is 2+2?');
  assert.equal(await page.getByLabel('assistant turn').inputValue(), '2+2 is 4.');
  await page.getByText('System: Answer briefly.').waitFor();

  await page.getByRole('button', { name: 'Submit' }).click();
  await page.getByTestId('status').filter({ hasText: 'submitted · revision 1' }).waitFor();
  await page.goto(running.parley.base + '/');
  assert.deepEqual(await page.getByTestId('counts').locator('dd').allTextContents(), ['1', '0', '0']);
  assert.deepEqual(errors, [], 'no script errors in the page');
});
