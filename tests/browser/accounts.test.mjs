// A person's first run in a real browser: create the first admin, add a trainer, sign out,
// sign in as the trainer and see that role's navigation, against the release build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hydrated, parleyAndBrowser } from './harness.mjs';

const running = parleyAndBrowser();

const navLinks = (page) => page.locator('nav[aria-label="Areas"] a').allTextContents();

test('first admin, a trainer, sign-out, sign-in and role navigation', async () => {
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));

  // A fresh install sends the visitor to create the first admin.
  await page.goto(running.parley.base + '/');
  assert.equal(new URL(page.url()).pathname, '/setup');
  await hydrated(page);

  // The password hint follows the typing: only a hydrated page can do that.
  const hint = page.getByTestId('password-hint');
  await page.getByLabel('E-mail').fill('admin@example.org');
  await page.getByLabel('Password').pressSequentially('short');
  await assert.doesNotReject(hint.filter({ hasText: 'at least 10 characters (5 so far)' }).waitFor());
  await page.getByLabel('Password').fill('correct horse battery');
  await hint.filter({ hasText: 'strong enough' }).waitFor();

  await page.getByRole('button', { name: 'Create admin' }).click();
  await page.getByRole('heading', { name: 'Welcome, admin@example.org' }).waitFor();
  assert.deepEqual(await navLinks(page), ['Write', 'Chat', 'My work', 'Rank', 'Feedback', 'Review', 'Progress', 'Quality', 'Datasets', 'Admin']);
  assert.deepEqual(await page.getByTestId('counts').locator('dd').allTextContents(), ['0', '0', '0']);

  // The admin creates a trainer's account.
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'New account' }).waitFor();
  const form = page.locator('section', { has: page.getByRole('heading', { name: 'New account' }) });
  await form.getByLabel('E-mail').fill('trainer@example.org');
  await form.getByLabel('Password').fill('another long passphrase');
  await form.getByLabel('Role').selectOption('trainer');
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Created trainer@example.org as trainer').waitFor();
  await page.getByTestId('users').getByText('trainer@example.org').waitFor();

  // The same e-mail again is refused with a message that says why.
  await form.getByRole('button', { name: 'Create account' }).click();
  await form.getByRole('alert').filter({ hasText: 'already exists' }).waitFor();

  // Sign out, then a wrong password, then the trainer signs in.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await hydrated(page);
  await page.getByLabel('E-mail').fill('trainer@example.org');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong e-mail or password' }).waitFor();

  await page.getByLabel('Password').fill('another long passphrase');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Welcome, trainer@example.org' }).waitFor();
  assert.deepEqual(await navLinks(page), ['Write', 'Chat', 'My work', 'Rank', 'Feedback', 'Progress']);

  // Typing the address of an admin page does not get a trainer in.
  const reply = await page.goto(running.parley.base + '/admin');
  assert.equal(reply.status(), 403);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();

  assert.deepEqual(errors, [], 'no script errors in the page');
});

test('an admin deactivates, reactivates and resets an account; the trainer chooses a new password', async () => {
  // One browser, signed in as the admin and then as the trainer in turn (test 1 made both).
  const page = await running.browser.context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const base = running.parley.base;
  const signIn = async (email, password) => {
    await page.context().clearCookies();
    await page.goto(base + '/login');
    await hydrated(page);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const accounts = async () => {
    await signIn('admin@example.org', 'correct horse battery');
    await page.getByRole('heading', { name: 'Welcome, admin@example.org' }).waitFor();
    await page.goto(base + '/admin');
    await hydrated(page);
    return page.locator('[data-testid="user-row"][data-email="trainer@example.org"]');
  };
  let row = await accounts();
  await row.getByTestId('user-status').filter({ hasText: /^active$/ }).waitFor();
  await row.getByRole('button', { name: 'Deactivate trainer@example.org' }).click();
  await row.getByTestId('user-status').filter({ hasText: 'deactivated' }).waitFor();

  await signIn('trainer@example.org', 'another long passphrase');
  await page.getByRole('alert').filter({ hasText: 'this account is deactivated' }).waitFor();

  row = await accounts();
  await row.getByRole('button', { name: 'Reactivate trainer@example.org' }).click();
  await row.getByTestId('user-status').filter({ hasText: /^active$/ }).waitFor();
  // A one-time password, shown once.
  await row.getByRole('button', { name: 'One-time password for trainer@example.org' }).click();
  const shown = page.getByTestId('one-time-password');
  await shown.getByText('One-time password for trainer@example.org:').waitFor();
  const oneTime = (await shown.locator('code').textContent()).trim();
  assert.ok(oneTime.length >= 20);
  await row.getByTestId('user-status').filter({ hasText: 'one-time password' }).waitFor();

  // The trainer signs in with it and lands on Account; every other page leads back there
  // until the password is the trainer's own.
  await signIn('trainer@example.org', oneTime);
  await page.waitForURL(/\/account$/);
  await hydrated(page);
  await page.getByTestId('one-time').waitFor();
  await page.goto(base + '/write');
  assert.equal(new URL(page.url()).pathname, '/account');
  await hydrated(page);
  await page.getByLabel('Current password').fill(oneTime);
  await page.getByLabel('New password').fill('short');
  await page.getByTestId('password-hint').filter({ hasText: 'at least 10 characters' }).waitFor();
  await page.getByLabel('New password').fill('a kettle of fish on Sunday');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByTestId('password-changed').waitFor();
  await page.goto(base + '/write');
  assert.equal(new URL(page.url()).pathname, '/write');
  assert.deepEqual(errors, [], 'no script errors in the page');
});
