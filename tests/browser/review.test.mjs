// Review and quality in a real browser against the release build: a trainer's submitted
// demonstration waits in the review queue; a reviewer reads it, is told a rejection needs a
// reason, rejects it with one; the author finds the verdict and the reason on My work and on
// their progress page; the reviewer edits and accepts the corrected resubmission; and the
// quality dashboard shows its charts, server-rendered and still there once the page is live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, screenshots } from './harness.mjs';

// Figures computed for each view (`--figures-secs 0`): the pages are read right after each
// change. By default they are computed as the server starts and kept 30 s.
const running = parleyAndBrowser(() => ['--figures-secs', '0']);
const PASSWORD = 'a long enough passphrase';

async function call(page, fn, form) {
  const reply = await page.request.post(`${running.parley.base}/api/${fn}`, { form });
  assert.equal(reply.status(), 200, `${fn}: ${await reply.text()}`);
  return reply.json();
}

async function signInAs(page, email, password = PASSWORD) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  await hydrated(page);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `Welcome, ${email}` }).waitFor();
}

test('a reviewer rejects a demonstration with a reason, the author reads it, the dashboard charts it', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  // Nothing a page asks for is missing (the favicon was a 404 on every page).
  const missing = [];
  page.on('response', (response) => { if (response.status() === 404) missing.push(response.url()); });
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');
  for (const [email, role] of [['ada@example.org', 'trainer'], ['rita@example.org', 'reviewer']]) {
    await call(page, 'users/create', { request_id: crypto.randomUUID(), email, password: PASSWORD, role });
  }

  // Ada submits a demonstration with a wrong answer.
  await signInAs(page, 'ada@example.org');
  const demo = crypto.randomUUID();
  await call(page, 'conversations/create', { request_id: demo, kind: 'demonstration' });
  const question = crypto.randomUUID();
  await call(page, 'conversations/add_message', { conversation_id: demo, request_id: question, role: 'user', text: 'What is the capital of France?' });
  const answer = crypto.randomUUID();
  await call(page, 'conversations/add_message', { conversation_id: demo, request_id: answer, parent_id: question, role: 'assistant', text: 'Lyon.' });
  await call(page, 'conversations/submit', { conversation_id: demo });

  // Rita takes it from the queue; a rejection without a reason is refused on the page.
  await signInAs(page, 'rita@example.org');
  await page.getByRole('link', { name: 'Review', exact: true }).click();
  await page.waitForURL(/\/review$/);
  await hydrated(page);
  const item = page.getByTestId('review-item');
  await item.getByText('What is the capital of France?').waitFor();
  await item.getByText('Lyon.').waitFor();
  await page.getByTestId('review-waiting').getByText(/1 waiting · by ada@example\.org · revision 1/).waitFor();
  await page.getByRole('button', { name: 'Reject' }).click();
  await page.getByRole('alert').filter({ hasText: 'say why it is rejected' }).waitFor();
  await page.getByLabel(/^Reason/).fill('Wrong capital: it is Paris.');
  await page.getByRole('button', { name: 'Reject' }).click();
  await page.getByTestId('review-empty').waitFor();

  // Ada reads the verdict and the reason.
  await signInAs(page, 'ada@example.org');
  await page.getByRole('link', { name: 'My work', exact: true }).click();
  await hydrated(page);
  const review = page.getByTestId('my-review');
  await review.getByText('rejected').waitFor();
  assert.equal(await review.getByTestId('review-reason').textContent(), 'Wrong capital: it is Paris.');
  await review.getByText(/by rita@example\.org · revision 1/).waitFor();
  await page.getByRole('link', { name: 'Progress', exact: true }).click();
  await page.getByTestId('review-outcomes').filter({ hasText: '0 accepted (0 edited by a reviewer) · 1 rejected' }).waitFor();
  await page.getByTestId('streak').filter({ hasText: 'Streak: 1 day in a row' }).waitFor();

  // She corrects it (badly spelt) and submits again; Rita fixes the spelling and accepts.
  await call(page, 'conversations/edit_message', { conversation_id: demo, message_id: answer, text: 'Pariss.' });
  await call(page, 'conversations/submit', { conversation_id: demo });
  await signInAs(page, 'rita@example.org');
  await page.goto(base + '/review');
  await hydrated(page);
  await page.getByTestId('review-waiting').getByText(/queued as resubmitted after a rejection/).waitFor();
  const reply = page.getByTestId('review-turn').nth(1);
  await reply.getByText('Pariss.').waitFor();
  await reply.getByRole('button', { name: 'Edit' }).click();
  await page.getByTestId('review-edit').fill('Paris.');
  await page.getByRole('button', { name: 'Accept with my edits' }).click();
  await page.getByTestId('review-empty').waitFor();

  await signInAs(page, 'ada@example.org');
  await page.getByRole('link', { name: 'My work', exact: true }).click();
  await hydrated(page);
  await page.getByTestId('my-review').getByText('accepted').waitFor();
  await page.getByTestId('my-review').getByText(/edited by the reviewer as revision 3/).waitFor();

  // The admin's dashboard: charts drawn by the server, still there after hydration.
  await signInAs(page, 'admin@example.org', 'correct horse battery');
  await page.getByRole('link', { name: 'Quality', exact: true }).click();
  await page.waitForURL(/\/stats$/);
  await hydrated(page);
  const perDay = page.locator('svg[data-chart="per-day"]');
  await perDay.waitFor();
  // Today: two submits by Ada and two verdicts by Rita.
  assert.equal(await perDay.getAttribute('data-total'), '4');
  assert.ok(await perDay.locator('rect').count() >= 2, 'bars for the day');
  // Readable: round ticks on the value axis, the total written on the bar, and the same
  // numbers in a table.
  assert.ok(await perDay.locator('.axes text').count() >= 3, 'ticks on the value axis');
  assert.equal(await perDay.locator('text.value').last().textContent(), '4');
  const numbers = page.locator('details[data-testid="chart-table"][data-chart="per-day"]');
  await numbers.getByText('Show the numbers').click();
  await numbers.locator('tbody tr').first().waitFor();
  assert.ok(await numbers.locator('tbody tr').count() >= 1);
  for (const chart of ['queues', 'agreement', 'feedback-categories', 'filter-precision']) {
    await page.locator(`svg[data-chart="${chart}"]`).waitFor({ state: 'attached' });
  }
  await page.getByTestId('no-models').waitFor();
  await screenshots(page, 'quality');
  await page.getByRole('link', { name: 'Leaderboard', exact: true }).click();
  await page.getByTestId('formula').getByText(/5 × accepted demonstrations/).waitFor();
  const leader = page.getByTestId('leader').filter({ hasText: 'ada@example.org' });
  assert.equal(await leader.locator('td').nth(2).textContent(), '5.0');
  assert.equal(await page.locator('link[rel="icon"]').count(), 1);
  assert.deepEqual(missing, [], 'no request answered 404');
  assert.deepEqual(errors, [], 'no script errors in the page');
});
