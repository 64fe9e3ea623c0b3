// Suggestions with the real SmolLM2 model (make model fetches it): each is usable the
// moment it is done, and one can be stopped while the other goes on. The trainer stops
// suggestion 1 while suggestion 2 is still being written, uses suggestion 1 at once, and
// the turn is stored from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createFirstAdmin, hydrated, parleyAndBrowser } from './harness.mjs';

const model = fileURLToPath(new URL('../../models/SmolLM2-135M-Instruct.Q4_1.gguf', import.meta.url));
const running = parleyAndBrowser(() => ['--model', model]);

test('a suggestion is stopped and used while the other is still written', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');

  await page.goto(base + '/write');
  await hydrated(page);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/write\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await page.getByLabel('Next turn: the user').fill('Write a long story about a dragon who learns to bake bread, with many details.');
  await page.getByRole('button', { name: 'Add turn' }).click();
  await page.getByLabel('Next turn: the assistant').waitFor();

  await page.getByRole('button', { name: 'Suggest (Alt+S)' }).click();
  const cards = page.getByTestId('suggestion');
  await page.waitForFunction(() => {
    const texts = [...document.querySelectorAll('[data-testid="suggestion"] .markdown')].map((m) => m.textContent.trim());
    return texts.length === 2 && texts.every((t) => t.length > 20);
  });
  // Nothing can be used while both are still being written.
  assert.equal(await cards.nth(0).getByRole('button', { name: /Use suggestion 1/ }).isDisabled(), true);

  await cards.nth(0).getByRole('button', { name: 'Stop suggestion 1' }).click();
  await cards.nth(0).and(page.locator('[data-finished="cancelled"]')).waitFor();
  await cards.nth(0).getByText('stopped').waitFor();
  const use = cards.nth(0).getByRole('button', { name: /Use suggestion 1/ });
  await use.and(page.locator(':enabled')).waitFor();
  // Used at once: the other suggestion is still being written when the button is pressed.
  const otherWhenUsed = await page.evaluate(() => {
    const [first, second] = document.querySelectorAll('[data-testid="suggestion"]');
    const other = second.dataset.finished;
    [...first.querySelectorAll('button')].find((b) => b.textContent.startsWith('Use suggestion 1')).click();
    return other;
  });
  assert.equal(otherWhenUsed, '', 'suggestion 2 was still being written');
  await cards.nth(1).getByRole('button', { name: 'Stop suggestion 2' }).waitFor();
  await page.getByText('Started from a suggestion').waitFor();
  const taken = await page.getByLabel('Next turn: the assistant').inputValue();
  const shown = (await cards.nth(0).locator('.markdown').textContent()).trim();
  assert.ok(taken.length > 20);
  assert.equal(taken.trim().slice(0, 20), shown.slice(0, 20), 'the stopped suggestion is in the editor');

  // Adding the turn stops the other suggestion; the turn records the one it came from.
  await page.getByLabel('Next turn: the assistant').press('Control+Enter');
  await page.getByLabel('Next turn: the user').waitFor();
  await page.getByText(/From a model suggestion · edit distance 0 \(0%\)/).waitFor();
  assert.equal(await cards.count(), 0, 'the suggestions for the turn before are gone');
  assert.deepEqual(errors, [], 'no script errors in the page');
});
