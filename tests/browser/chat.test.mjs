// A trainer chats with the (tiny) model in a real browser against the release build: three
// turns with streamed replies, a regenerated reply, switching between the two versions with
// the mouse and the keyboard, an earlier turn edited into a new branch, and a reload that
// keeps the branch the trainer was on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, screenshots, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('chat three turns, regenerate, switch branches, branch from an earlier turn', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await page.getByRole('link', { name: 'Chat' }).click();
  await page.getByRole('heading', { name: 'Chat with the model' }).waitFor();
  await hydrated(page);
  await page.getByLabel('Max tokens').fill('24');
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  await hydrated(page);

  const replies = page.locator('li.turn[data-role="assistant"]:not(.streaming)');
  const users = page.locator('li.turn[data-role="user"]');
  const box = page.getByLabel('Your message');
  const say = async (text, count) => {
    await box.fill(text);
    await box.press('Control+Enter');
    await page.waitForFunction(
      (n) => document.querySelectorAll('li.turn[data-role="assistant"]:not(.streaming)').length === n
        && !document.querySelector('[data-testid="streaming-reply"]'),
      count,
    );
  };
  await say('Hello there', 1);
  await say('Tell me more', 2);
  await say('One more thing', 3);
  assert.deepEqual(await users.locator('.markdown').allTextContents(), ['Hello there\n', 'Tell me more\n', 'One more thing\n']);
  await screenshots(page, 'chat');
  const last = replies.nth(2);
  const original = await last.locator('.markdown').textContent();
  await last.getByText(/model · temperature 0.7 · seed \d+ · up to 24 tokens/).waitFor();

  // Regenerate: a second version of the last reply, shown as 2/2.
  await last.getByRole('button', { name: 'Regenerate' }).click();
  await replies.nth(2).getByTestId('branch-position').filter({ hasText: '2/2' }).waitFor();
  const regenerated = await replies.nth(2).locator('.markdown').textContent();

  // ‹ goes back to the first version; Alt+→ forward again.
  await replies.nth(2).getByRole('button', { name: 'Previous version' }).click();
  await replies.nth(2).getByTestId('branch-position').filter({ hasText: '1/2' }).waitFor();
  assert.equal(await replies.nth(2).locator('.markdown').textContent(), original);
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Alt+ArrowRight');
  await replies.nth(2).getByTestId('branch-position').filter({ hasText: '2/2' }).waitFor();
  assert.equal(await replies.nth(2).locator('.markdown').textContent(), regenerated);

  // Editing the first user turn starts a new branch from the top, answered by the model.
  await users.first().getByRole('button', { name: 'Edit as a new branch' }).click();
  await page.getByLabel('Edited user turn').fill('Hi, a different question');
  await page.getByRole('button', { name: 'Send as a new branch' }).click();
  await users.first().getByTestId('branch-position').filter({ hasText: '2/2' }).waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll('li.turn[data-role="assistant"]:not(.streaming)').length === 1
      && !document.querySelector('[data-testid="streaming-reply"]'),
  );
  assert.equal(await users.count(), 1);

  // The other branch is still there, with its three turns.
  await users.first().getByRole('button', { name: 'Previous version' }).click();
  await page.waitForFunction(() => document.querySelectorAll('li.turn[data-role="user"]').length === 3);

  // A reload shows the branch the trainer was on (kept in the browser), and the other
  // branch is one click away.
  await page.reload();
  await hydrated(page);
  await users.first().getByTestId('branch-position').filter({ hasText: '1/2' }).waitFor();
  assert.equal(await users.count(), 3);
  assert.equal(await users.first().locator('.markdown').textContent(), 'Hello there\n');
  await users.first().getByRole('button', { name: 'Next version' }).click();
  await users.first().getByTestId('branch-position').filter({ hasText: '2/2' }).waitFor();
  assert.equal(await users.first().locator('.markdown').textContent(), 'Hi, a different question\n');
  assert.deepEqual(errors, [], 'no script errors in the page');
});
