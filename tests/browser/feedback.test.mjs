// Feedback in a real browser against the release build: a trainer gives a chat reply a
// thumbs-down with a category and a comment, finds it again after a reload, and a reviewer
// finds it on the Feedback page, narrowed by category.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, startChat, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('thumbs-down with a category on a chat reply, seen on the Feedback page', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await startChat(page, base, 8);
  await page.getByLabel('Your message').fill('What is the capital of France?');
  await page.getByLabel('Your message').press('Control+Enter');
  const reply = page.locator('li.turn[data-role="assistant"]:not(.streaming)');
  await reply.getByRole('button', { name: 'Bad reply' }).waitFor();
  assert.equal(await page.locator('li.turn[data-role="user"]').getByTestId('feedback').count(), 0, 'only model turns');

  // The thumbs are drawn with the page's own icons (no emoji font here), and the filter's
  // "should have been flagged" waits among the details.
  const bad = reply.getByRole('button', { name: 'Bad reply' });
  assert.equal(await bad.locator('svg').count(), 1);
  assert.equal((await bad.textContent()).trim(), '');
  assert.equal(await reply.getByRole('button', { name: 'Should have been flagged' }).count(), 0);
  await reply.getByRole('button', { name: 'Add details' }).waitFor();

  // Thumbs-down opens the details; a category and a comment, then save.
  await bad.click();
  await reply.getByTestId('feedback-state').filter({ hasText: 'Feedback saved' }).waitFor();
  await reply.getByRole('button', { name: 'Should have been flagged' }).waitFor();
  const toggle = reply.getByRole('button', { name: 'Hide details' });
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await reply.getByLabel('untrue').check();
  await reply.getByLabel('Comment').fill('Paris was not mentioned.');
  await reply.getByRole('button', { name: 'Save feedback' }).click();
  await reply.getByTestId('feedback-state').filter({ hasText: 'Feedback saved' }).waitFor();

  await page.reload();
  await hydrated(page);
  const pressed = page.locator('li.turn[data-role="assistant"]').getByRole('button', { name: 'Bad reply' });
  assert.equal(await pressed.getAttribute('aria-pressed'), 'true');

  await page.getByRole('link', { name: 'Feedback' }).click();
  await hydrated(page);
  const item = page.getByTestId('feedback-item');
  await item.getByText('Paris was not mentioned.').waitFor();
  assert.equal(await item.count(), 1);
  await item.getByText('untrue').waitFor();
  await page.getByLabel('Category').selectOption('harmful');
  await page.getByTestId('no-feedback').waitFor();
  await page.getByLabel('Category').selectOption('untrue');
  await item.getByText('Paris was not mentioned.').waitFor();
  // The link opens the conversation the reply is in.
  await item.getByRole('link').click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  assert.deepEqual(errors, [], 'no script errors in the page');
});
