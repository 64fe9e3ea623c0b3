// A trainer writes a two-turn demonstration in a real browser against the release build:
// the admin's guidelines beside the editor (Markdown, no raw HTML), a streamed suggestion
// taken with the keyboard and edited, a turn edited in place, a draft kept on the server
// across a reload, submit, history, the shortcut list, and My work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, screenshots, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('write a demonstration from a suggestion, reload it intact, submit it', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await page.goto(base + '/admin/guidelines');
  await hydrated(page);
  await page.getByLabel('write guidelines').fill('Answer **briefly**.\n\n- Be kind\n- <script>window.hacked = 1</script>');
  await page.getByRole('button', { name: 'Save guidelines' }).first().click();
  await page.getByText('Saved.').first().waitFor();

  await page.goto(base + '/write');
  await hydrated(page);
  const guidelines = page.locator('details.guidelines');
  await guidelines.getByText('Be kind').waitFor();
  assert.equal(await guidelines.locator('strong').textContent(), 'briefly');
  assert.equal(await guidelines.locator('script').count(), 0, 'raw HTML is shown as text');
  await guidelines.getByText('<script>window.hacked = 1</script>').waitFor();

  await page.getByLabel('System prompt (optional)').fill('Answer briefly.');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/write\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const composer = page.getByLabel('Next turn: the user');
  await composer.waitFor();

  // Alt+S streams two suggestions; Alt+1 takes the first into the editor.
  await page.keyboard.press('Alt+KeyS');
  const finished = page.locator('[data-testid="suggestion"][data-finished]:not([data-finished=""])');
  await finished.nth(1).waitFor();
  await page.getByRole('button', { name: /Use suggestion 1/ }).and(page.locator(':enabled')).waitFor();
  await screenshots(page, 'write');
  await page.keyboard.press('Alt+Digit1');
  await page.getByText('Started from a suggestion').waitFor();
  const taken = await composer.inputValue();
  await composer.press('End');
  await composer.pressSequentially(' What is 2+2?');
  await page.getByTestId('save-state').filter({ hasText: 'Draft saved' }).waitFor();
  assert.equal(await composer.inputValue(), taken + ' What is 2+2?', 'the suggestion, then the edit');
  await composer.press('Control+Enter');

  const reply = page.getByLabel('Next turn: the assistant');
  await reply.waitFor();
  assert.equal(await reply.inputValue(), '', 'the composer is empty for the next turn');
  await reply.fill('4');
  await page.getByRole('button', { name: 'Add turn' }).click();
  await page.getByLabel('Next turn: the user').waitFor();

  // Edit the reply in place: saved as typed.
  const assistant = page.locator('li.turn[data-role="assistant"]');
  await assistant.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('assistant turn').fill('2+2 is **4**.');
  await page.getByTestId('edit-state').filter({ hasText: 'Edits saved' }).waitFor();
  await assistant.getByRole('button', { name: 'Done' }).click();
  await assistant.locator('strong').filter({ hasText: '4' }).waitFor();

  // A turn being typed is kept on the server too.
  await page.getByLabel('Next turn: the user').fill('Thanks!');
  await page.getByTestId('save-state').filter({ hasText: 'Draft saved' }).waitFor();

  await page.reload();
  await hydrated(page);
  const user = page.locator('li.turn[data-role="user"]');
  assert.equal((await user.locator('.markdown').textContent()).trim().endsWith('What is 2+2?'), true);
  await user.getByText(/From a model suggestion · edit distance \d+/).waitFor();
  assert.equal(await assistant.locator('.markdown').textContent(), '2+2 is 4.\n');
  await page.getByText('System: Answer briefly.').waitFor();
  assert.equal(await page.getByLabel('Next turn: the user').inputValue(), 'Thanks!');

  // Delete is a readable link, and asks before it deletes: "Keep it" keeps the turn.
  const deleteButton = assistant.getByRole('button', { name: 'Delete', exact: true });
  const look = await deleteButton.evaluate((el) => {
    const style = getComputedStyle(el);
    return [style.backgroundColor, style.color];
  });
  assert.equal(look[0], 'rgba(0, 0, 0, 0)', 'no red background behind the red text');
  assert.notEqual(look[1], look[0]);
  await deleteButton.click();
  await assistant.getByTestId('confirm-delete').getByText('Delete this assistant turn?').waitFor();
  await assistant.getByRole('button', { name: 'Keep it' }).click();
  await assistant.getByTestId('confirm-delete').waitFor({ state: 'detached' });
  assert.equal(await page.locator('li.turn').count(), 2);

  await page.getByRole('button', { name: 'Submit' }).click();
  await page.getByTestId('status').filter({ hasText: 'submitted · revision 1' }).waitFor();
  await page.getByText('History: 1 submitted revision(s)').click();
  // History renders Markdown as the turns do.
  const revision = page.getByTestId('revision');
  await revision.locator('li[data-role="assistant"] .markdown').getByText('2+2 is 4.').waitFor();
  assert.equal(await revision.locator('li[data-role="assistant"] strong').last().textContent(), '4');
  assert.equal(await revision.getByText('**').count(), 0, 'no raw Markdown');
  await page.reload();
  await hydrated(page);
  await page.getByText('History: 1 submitted revision(s)').waitFor();

  // `?` lists the shortcuts; Escape closes the list.
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.getByText('Ask the model for suggestions').waitFor();
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'hidden' });

  await page.getByRole('link', { name: 'My work' }).click();
  const item = page.getByTestId('work-item');
  await item.getByText('submitted').waitFor();
  assert.equal(await item.count(), 1);
  assert.equal(await page.evaluate(() => window.hacked), undefined);
  assert.deepEqual(errors, [], 'no script errors in the page');
});

test('a turn is deleted only once the trainer confirms it', async () => {
  const page = await running.browser.context.newPage();
  const base = running.parley.base;
  await page.goto(base + '/write');
  await hydrated(page);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/write\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await page.getByLabel('Next turn: the user').fill('A turn written by mistake.');
  await page.getByRole('button', { name: 'Add turn' }).click();
  const turn = page.locator('li.turn[data-role="user"]');
  await turn.getByText('A turn written by mistake.').waitFor();
  await turn.getByRole('button', { name: 'Delete', exact: true }).click();
  assert.equal(await page.locator('li.turn').count(), 1, 'one click deletes nothing');
  await turn.getByRole('button', { name: 'Yes, delete it' }).click();
  await page.locator('li.turn').first().waitFor({ state: 'detached' });
  await page.reload();
  await hydrated(page);
  assert.equal(await page.locator('li.turn').count(), 0, 'deleted on the server');
});
