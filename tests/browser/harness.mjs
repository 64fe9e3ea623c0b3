// Starts the real release `parley` binary on a free port with a fresh SQLite database, and
// a real headless Chromium (Debian's) in a fresh profile.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export async function startParley(extraArgs = []) {
  const bin = process.env.PARLEY_BIN;
  const siteRoot = process.env.PARLEY_SITE_ROOT;
  if (!bin || !siteRoot) throw new Error('set PARLEY_BIN and PARLEY_SITE_ROOT (make test does)');
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-browser-'));
  // A fresh SQLite database in dataDir, whatever the caller's environment says.
  const env = { ...process.env, RUST_LOG: 'warn' };
  delete env.DATABASE_URL;
  delete env.PARLEY_MODEL;
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir, '--site-root', siteRoot, ...extraArgs], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`parley exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const found = line.match(/^Parley listening on (http:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
  });
  return {
    base,
    async stop() {
      child.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'parley-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // Every page keeps its uncaught errors: `hydrated` fails on any (a hydration mismatch
  // panics the app, and the page stays dead though it looks right).
  // A Rust panic logs its message (console_error_panic_hook) before the wasm traps with
  // `unreachable`, the only text a page error carries: a page error is printed with the
  // console errors before it, so that a failure says which panic it was.
  const watch = (page) => {
    page.parleyErrors = [];
    const consoleErrors = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (err) => {
      page.parleyErrors.push(err.message);
      const before = consoleErrors.slice(-3).map((text) => `  console error: ${text}\n`).join('');
      process.stderr.write(`page error on ${page.url()}: ${err.message}\n${before}`);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    async stop() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// Clicks are lost before hydration: wait until the app marks the page interactive.
export async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });
  assert.deepEqual(page.parleyErrors ?? [], [], `errors on ${page.url()}`);
}

/// Writes the tiny generated model (random weights, real tokenizer) and returns its path.
export function tinyModel() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tiny-'));
  const path = join(dir, 'tiny.gguf');
  execFileSync(process.env.PARLEY_BIN, ['model', 'tiny', '--out', path]);
  return path;
}

/// Creates the first admin through the set-up page.
export async function createFirstAdmin(page, base, email, password) {
  await page.goto(base + '/setup');
  await hydrated(page);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create admin' }).click();
  await page.getByRole('heading', { name: `Welcome, ${email}` }).waitFor();
}

/// For a test file: starts Parley (with the arguments `args()` returns) and a browser
/// before its tests, stops both after them. The returned object holds `parley` and `browser`.
export function parleyAndBrowser(args = () => []) {
  const running = {};
  before(async () => {
    running.parley = await startParley(args());
    running.browser = await startBrowser();
  });
  after(async () => {
    await running.browser?.stop();
    await running.parley?.stop();
  });
  return running;
}

/// Screenshots of the page at a laptop's size (1366x900) and a phone's (390x844), into
/// $PARLEY_SCREENSHOTS (default: parley-screenshots in the temp folder). At the phone's
/// size nothing may be wider than the screen. The laptop size stays set afterwards.
export async function screenshots(page, name) {
  const dir = process.env.PARLEY_SCREENSHOTS || join(tmpdir(), 'parley-screenshots');
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  await page.screenshot({ path: join(dir, `${name}-390x844.png`), fullPage: true });
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.right <= width + 1) return false;
        // Inside something that scrolls sideways (a wide table) is fine.
        for (let p = el.parentElement; p; p = p.parentElement) {
          const style = getComputedStyle(p);
          if (['auto', 'scroll', 'hidden'].includes(style.overflowX) && p.getBoundingClientRect().right <= width + 1) return false;
        }
        return true;
      })
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} (${Math.round(el.getBoundingClientRect().right)} px)`);
    return { scroll: document.documentElement.scrollWidth, width, wide };
  });
  assert.ok(overflow.scroll <= overflow.width, `${name} at 390 px is ${overflow.scroll} px wide: ${overflow.wide.join(', ')}`);
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.waitForTimeout(100);
  await page.screenshot({ path: join(dir, `${name}-1366x900.png`), fullPage: true });
}

/// Starts a chat (with a max tokens, when given) from the Chat page and waits for its page.
export async function startChat(page, base, maxTokens) {
  await page.goto(base + '/chat');
  await hydrated(page);
  if (maxTokens) await page.getByLabel('Max tokens').fill(String(maxTokens));
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  await hydrated(page);
}
