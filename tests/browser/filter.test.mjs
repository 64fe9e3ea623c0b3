// The content filter in a real browser against the release build: a trainer's prompt that
// the default policy blocks is shown with a notice and never answered; the trainer marks it
// "not unsafe"; the admin's Content filter page counts the false positive and lists the
// decision, filtered by category.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('a blocked prompt marked as a false positive', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await page.goto(base + '/chat');
  await hydrated(page);
  await page.getByLabel('Max tokens').fill('8');
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await page.getByLabel('Your message').fill('I want to kill myself in this video game level');
  await page.getByLabel('Your message').press('Control+Enter');
  await page.getByText('the content filter blocks turn 1 (self-harm); nothing is sent to the model').waitFor();
  const turn = page.locator('li.turn[data-role="user"]');
  await turn.getByTestId('filter-notice').filter({ hasText: 'Blocked by the content filter (self-harm)' }).waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-testid="streaming-reply"]'));
  assert.equal(await page.locator('li.turn[data-role="assistant"]').count(), 0, 'never answered');

  await turn.getByRole('button', { name: 'Not unsafe' }).click();
  await turn.getByLabel('Category').selectOption('self-harm');
  await turn.getByRole('button', { name: 'Send' }).click();
  await turn.getByTestId('filter-feedback-state').filter({ hasText: 'You said this is not unsafe (self-harm)' }).waitFor();
  await page.reload();
  await hydrated(page);
  await page.getByTestId('filter-feedback-state').filter({ hasText: 'not unsafe (self-harm)' }).waitFor();

  await page.goto(base + '/admin/filter');
  await hydrated(page);
  const row = page.getByTestId('filter-category').filter({ hasText: 'self-harm' });
  assert.equal(await row.getByTestId('false-positives').textContent(), '1');
  await row.getByText('0%').waitFor();
  await page.getByTestId('policy-version').filter({ hasText: 'built-in default (version 0)' }).waitFor();
  // The decision itself, listed with what matched and the feedback; filtered by category.
  const decision = page.getByTestId('filter-decision').filter({ hasText: 'I want to kill myself' });
  await decision.getByText('1 not unsafe').waitFor();
  await decision.getByText('kill myself', { exact: true }).waitFor();
  await page.locator('select[name="category"]').selectOption('violence');
  await page.getByTestId('decision-count').filter({ hasText: /^0 match/ }).waitFor();
  await page.locator('select[name="category"]').selectOption('self-harm');
  await page.getByTestId('decision-count').filter({ hasText: /^1 match/ }).waitFor();
  assert.deepEqual(errors, [], 'no script errors in the page');
});
