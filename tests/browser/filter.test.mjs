// The content filter in a real browser against the release build: a trainer's prompt that
// the default policy blocks is shown with a notice and never answered; the trainer marks it
// "not unsafe"; the admin's Content filter page counts the false positive and lists the
// decision, filtered by category.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, startChat, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('a blocked prompt marked as a false positive', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await startChat(page, base, 8);
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

test('after a blocked turn the page says what to do, and a turn sent in its place is answered', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await startChat(page, base, 8);
  const blocked = 'I want to kill myself in this video game level';
  await page.getByLabel('Your message').fill(blocked);
  await page.getByLabel('Your message').press('Control+Enter');
  const help = page.getByTestId('blocked-help');
  await help.getByText('The content filter blocked your last turn').waitFor();
  await page.getByRole('button', { name: 'Send in its place' }).waitFor();

  // "Edit the blocked turn" puts its text in the box to rework.
  await help.getByRole('button', { name: 'Edit the blocked turn' }).click();
  assert.equal(await page.getByLabel('Your message').inputValue(), blocked);
  await page.getByLabel('Your message').fill('What is a moon?');
  await page.getByRole('button', { name: 'Send in its place' }).click();
  await page.locator('li.turn[data-role="assistant"]').waitFor();
  await help.waitFor({ state: 'detached' });
  const user = page.locator('li.turn[data-role="user"]');
  await user.getByText('What is a moon?').waitFor();
  assert.equal(await user.getByTestId('branch-position').textContent(), '2/2', 'the blocked turn is kept beside it');
  assert.equal(await page.getByLabel('Your message').inputValue(), '');

  // Back on the blocked branch, a reload shows that branch again, not the newest.
  await user.getByRole('button', { name: 'Previous version' }).click();
  await user.getByTestId('branch-position').filter({ hasText: '1/2' }).waitFor();
  await page.reload();
  await hydrated(page);
  await page.locator('li.turn[data-role="user"]').getByTestId('branch-position').filter({ hasText: '1/2' }).waitFor();
  await page.getByTestId('blocked-help').waitFor();
  assert.deepEqual(errors, [], 'no script errors in the page');
});
