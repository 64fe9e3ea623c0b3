// Ranking in a real browser against the release build: an admin creates a batch on the
// Comparisons page and watches the sampler fill it; a trainer ranks one comparison of four
// completions pressing places out of order (4 on A first: A is fourth), one with the keyboard
// alone (number keys, arrows, a tie) and another by drag, and the stored rankings are the
// orders shown on screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin, hydrated, parleyAndBrowser, screenshots, tinyModel } from './harness.mjs';

const running = parleyAndBrowser(() => ['--model', tinyModel()]);
const PASSWORD = 'a long enough passphrase';

/// Calls a server function as a form post, with the page's cookies; returns its JSON.
async function call(page, fn, form) {
  const reply = await page.request.post(`${running.parley.base}/api/${fn}`, { form });
  assert.equal(reply.status(), 200, `${fn}: ${await reply.text()}`);
  return reply.json();
}

/// The admin has the model answer three questions in a chat: three replies to draw from.
async function chatWithThreeReplies(page) {
  const chat = crypto.randomUUID();
  await call(page, 'conversations/create', { request_id: chat, kind: 'chat', max_tokens: '8' });
  let parent = null;
  for (const question of ['What is a moon?', 'And a planet?', 'And a star?']) {
    const id = crypto.randomUUID();
    const form = { conversation_id: chat, request_id: id, role: 'user', text: question };
    if (parent) form.parent_id = parent;
    await call(page, 'conversations/add_message', form);
    // The tiny model's random weights sometimes write 8 tokens of nothing, which Parley
    // refuses ("the model wrote nothing; try again"): ask again, as a trainer would.
    let reply;
    let body;
    for (let attempt = 0; attempt < 5; attempt++) {
      reply = crypto.randomUUID();
      const url = `${running.parley.base}/api/conversations/${chat}/generate?purpose=reply&parent=${id}&request_id=${reply}`;
      body = await (await page.request.get(url)).text();
      if (!body.includes('the model wrote nothing')) break;
    }
    assert.match(body, /event: saved/);
    parent = reply;
  }
}

/// The stored ranking of a comparison, as letters: [['A'], ['D'], ['B', 'C']].
async function storedLetters(page, comparison, letters) {
  const task = await call(page, 'rank/task', { comparison_id: comparison });
  return task.previous.ranking.groups.map((group) => group.map((id) => letters[id]));
}

/// Card letters by completion id, as the page shows them.
async function lettersOf(page) {
  return page.locator('[data-testid="completion"]').evaluateAll((cards) =>
    Object.fromEntries(cards.map((c) => [c.id.replace('completion-', ''), c.dataset.letter])));
}

/// Presses a key and waits until the card with `letter` has the focus again (cards are drawn
/// anew when they move, and the page gives the focus back).
async function press(page, key, letter) {
  await page.keyboard.press(key);
  await page.waitForFunction((l) => document.activeElement?.dataset?.letter === l, letter);
}

const place = (page, letter) => page.locator(`[data-letter="${letter}"] [data-testid="place"]`);

test('rank four completions with the keyboard alone, and another four by drag', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  await createFirstAdmin(page, base, 'admin@example.org', 'correct horse battery');
  await call(page, 'users/create', { request_id: crypto.randomUUID(), email: 'ben@example.org', password: PASSWORD, role: 'trainer' });
  await chatWithThreeReplies(page);

  // The admin creates a batch and sees the sampler fill it.
  await page.goto(base + '/admin/comparisons');
  await hydrated(page);
  await page.getByLabel('Replies to draw').fill('3');
  await page.getByLabel('Max tokens').fill('8');
  await page.getByLabel('Seed (empty: a new one)').fill('42');
  await page.getByRole('button', { name: 'Create batch' }).click();
  await page.getByTestId('sampled').filter({ hasText: '3 of 3' }).waitFor({ timeout: 60000 });
  await page.getByTestId('batch').getByText('42', { exact: true }).waitFor();

  // Ben signs in and is given a comparison.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto(base + '/login');
  await hydrated(page);
  await page.getByLabel('E-mail').fill('ben@example.org');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').filter({ hasText: 'ben@example.org' }).waitFor();
  await page.goto(base + '/rank');
  await hydrated(page);
  const task = page.getByTestId('rank-task');
  await task.waitFor();
  const first = await task.getAttribute('data-comparison');
  assert.equal(await page.getByTestId('completion').count(), 4);
  await page.getByText(/Context \(\d turns\)/).waitFor();
  const tabToFirstCard = async () => {
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.dataset?.testid === 'completion')) break;
    }
    assert.equal(await page.evaluate(() => document.activeElement.dataset.letter), 'A');
  };

  // The trap a trainer fell into, replayed: meaning B > C > D > A, 4 on A first, then 1 on B.
  // A number is that place: A fourth, B first, places 2 and 3 shown empty until filled.
  const trapLetters = await lettersOf(page);
  await tabToFirstCard();
  await press(page, '4', 'A');
  await place(page, 'A').filter({ hasText: 'place 4' }).waitFor();
  assert.equal(await page.getByTestId('empty-place').count(), 3);
  await press(page, 'ArrowDown', 'B');
  await press(page, '1', 'B');
  await place(page, 'B').filter({ hasText: 'place 1' }).waitFor();
  assert.equal(await place(page, 'A').textContent(), 'place 4');
  await page.getByTestId('rank-missing').filter({ hasText: 'Places 2 and 3 are empty; C and D are not placed yet.' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Submit ranking' }).isDisabled(), true);
  // The cards stay in the order shown while the board beside them fills.
  assert.deepEqual(await page.getByTestId('completion').evaluateAll((cards) => cards.map((c) => c.dataset.letter)), ['A', 'B', 'C', 'D']);
  assert.deepEqual(await page.getByTestId('ranking').locator('li').evaluateAll((places) => places.map((p) => p.textContent.replace(/\s+/g, ' ').trim().slice(0, 2))), ['1B', '2e', '3e', '4A']);
  // The unsubmitted board survives a reload (kept on the server).
  await page.getByTestId('draft-state').filter({ hasText: 'Board saved' }).waitFor();
  await page.reload();
  await hydrated(page);
  await place(page, 'B').filter({ hasText: 'place 1' }).waitFor();
  assert.equal(await place(page, 'A').textContent(), 'place 4');
  await page.getByTestId('draft-state').filter({ hasText: 'as you left it' }).waitFor();
  await page.locator('[data-letter="C"]').focus();
  await press(page, '2', 'C');
  await page.getByTestId('rank-missing').filter({ hasText: 'Place 3 is empty; D is not placed yet.' }).waitFor();
  await press(page, 'ArrowDown', 'D');
  await press(page, '3', 'D');
  await page.getByTestId('rank-missing').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('empty-place').count(), 0);
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction((id) => {
    const el = document.querySelector('[data-testid="rank-task"]');
    return el && el.dataset.comparison !== id;
  }, first);
  assert.deepEqual(await storedLetters(page, first, trapLetters), [['B'], ['C'], ['D'], ['A']]);
  const tied = await task.getAttribute('data-comparison');
  const letters = await lettersOf(page);

  // Keyboard only: Tab to the first card, then number keys, arrows and a tie.
  await tabToFirstCard();
  await press(page, '1', 'A');
  await place(page, 'A').filter({ hasText: 'place 1' }).waitFor();
  await press(page, 'ArrowDown', 'B');
  await press(page, '2', 'B');
  await press(page, 'ArrowDown', 'C');
  await press(page, '2', 'C');
  await press(page, 'ArrowDown', 'D');
  await press(page, '3', 'D');
  await place(page, 'D').filter({ hasText: 'place 3' }).waitFor();
  assert.equal(await place(page, 'C').textContent(), 'place 2', 'the same number ties');
  // Alt+↑ twice: D ties with B and C, then stands alone above them.
  await press(page, 'Alt+ArrowUp', 'D');
  await place(page, 'D').filter({ hasText: 'place 2' }).waitFor();
  await press(page, 'Alt+ArrowUp', 'D');
  await place(page, 'B').filter({ hasText: 'place 3' }).waitFor();
  assert.equal(await place(page, 'D').textContent(), 'place 2');
  await page.keyboard.press('Control+Enter');

  // The next comparison arrives; the stored ranking is what the screen showed.
  await page.waitForFunction((id) => {
    const el = document.querySelector('[data-testid="rank-task"]');
    return el && el.dataset.comparison !== id;
  }, tied);
  assert.deepEqual(await storedLetters(page, tied, letters), [['A'], ['D'], ['B', 'C']]);
  await page.getByTestId('rank-progress').filter({ hasText: 'Ranked today: 2' }).waitFor();

  // The second by drag, in a 1366x900 window: cards onto the last-place zone and onto each
  // other. The board stays in view beside the cards, so no drag needs a scroll.
  await screenshots(page, 'rank');
  const second = await task.getAttribute('data-comparison');
  const secondLetters = await lettersOf(page);
  const card = (letter) => page.locator(`[data-letter="${letter}"]`);
  const last = page.getByTestId('drop-last');
  await card('D').scrollIntoViewIfNeeded();
  const inView = async (locator) => {
    const box = await locator.boundingBox();
    return box && box.y >= 0 && box.y + box.height <= 900;
  };
  assert.ok(await inView(last), 'the drop zone is in view beside the last card');
  const [boxA, boxB] = [await card('A').boundingBox(), await card('B').boundingBox()];
  assert.ok(boxA.width >= 400 && Math.abs(boxA.y - boxB.y) < 2, 'two wide cards side by side');
  await card('D').dragTo(last);
  await place(page, 'D').filter({ hasText: 'place 1' }).waitFor();
  await card('B').dragTo(last);
  await place(page, 'B').filter({ hasText: 'place 2' }).waitFor();
  await card('A').dragTo(card('D'));
  await place(page, 'A').filter({ hasText: 'place 1' }).waitFor();
  await card('C').dragTo(last);
  await place(page, 'C').filter({ hasText: 'place 4' }).waitFor();
  await card('A').getByLabel('helpful').check();
  // Feedback on a card stays with it when the cards move.
  await card('B').getByRole('button', { name: 'Good completion' }).click();
  await card('B').getByTestId('feedback-state').filter({ hasText: 'Feedback saved' }).waitFor();
  await card('B').dragTo(card('D'));
  await place(page, 'B').filter({ hasText: 'place 2' }).waitFor();
  assert.equal(await card('B').getByRole('button', { name: 'Good completion' }).getAttribute('aria-pressed'), 'true');
  await page.getByLabel('Rationale (optional)').fill('A is the clearest.');
  await page.getByRole('button', { name: 'Submit ranking' }).click();
  await page.getByTestId('queue-empty').waitFor();
  assert.deepEqual(await storedLetters(page, second, secondLetters), [['A'], ['B'], ['D'], ['C']]);
  const revisable = await call(page, 'rank/task', { comparison_id: second });
  const helpful = Object.entries(revisable.previous.labels).map(([id, names]) => [secondLetters[id], names]);
  assert.deepEqual(helpful, [['A', ['helpful']]]);
  assert.equal(revisable.previous.rationale, 'A is the clearest.');

  // All three are listed to revise; opening one shows the stored order.
  await page.getByTestId('ranked-item').first().waitFor();
  assert.equal(await page.getByTestId('ranked-item').count(), 3);
  await page.goto(`${base}/rank/${tied}`);
  await hydrated(page);
  await page.getByText('Revising your ranking (revision 1)').waitFor();
  assert.equal(await place(page, 'D').textContent(), 'place 2');
  assert.deepEqual(errors, [], 'no script errors in the page');
});
