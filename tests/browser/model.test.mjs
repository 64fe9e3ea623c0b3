// An admin looks at the served model, tries it with two alternatives streaming side by
// side, and makes and revokes an API key, in a real browser against the release build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);

test('the model page streams K alternatives; API keys are shown once and can be revoked', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await createFirstAdmin(page, running.parley.base, 'admin@example.org', 'correct horse battery');

  await page.goto(running.parley.base + '/admin/model');
  await hydrated(page);
  const active = page.getByTestId('models').locator('tr[data-active="true"]');
  await active.getByText('tiny', { exact: true }).waitFor();
  await active.getByTestId('model-status').filter({ hasText: 'ready' }).waitFor();

  await page.getByLabel('Prompt').fill('Tell me about the sea.');
  await page.getByLabel('Alternatives').fill('2');
  await page.getByRole('button', { name: 'Generate' }).click();
  const alternatives = page.getByTestId('alternative');
  await page.locator('[data-testid="alternative"][data-finished]:not([data-finished=""])').nth(1).waitFor();
  assert.equal(await alternatives.count(), 2);
  const texts = await alternatives.locator('.text').allTextContents();
  assert.ok(texts.every((t) => t.length > 0), `both alternatives have text: ${JSON.stringify(texts)}`);
  assert.notEqual(texts[0], texts[1], 'two seeds, two different texts');
  await page.getByRole('button', { name: 'Generate' }).and(page.locator(':enabled')).waitFor();
  assert.equal(await page.locator('.card p.error[role=alert]').textContent(), '', 'a finished stream is no error');

  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('heading', { name: 'New key' }).waitFor();
  await page.getByLabel('Name (who or what uses it)').fill('eval harness');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-key').textContent()).trim();
  assert.match(secret, /^pk-[A-Za-z0-9_-]{40,}$/);

  const reply = await fetch(running.parley.base + '/v1/models', { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(reply.status, 200);

  await page.getByTestId('api-keys').getByText('eval harness').waitFor();
  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByTestId('api-keys').getByText(/revoked/).waitFor();
  const after = await fetch(running.parley.base + '/v1/models', { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(after.status, 401);

  assert.deepEqual(errors, [], 'no script errors in the page');
});
