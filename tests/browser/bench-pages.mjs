// Time to interactive of the Rank and Write pages in Chromium, with the server on the same
// machine: from navigation start until the app marks the page hydrated (the moment clicks
// work), median of RUNS loads each. Printed beside a baseline in the same run: the same
// loads with compression and the cache turned off, which is how the bundle was served
// before it had hashed names and precompressed files. The first visit is measured twice:
// over the loopback, and over an emulated 20 Mbit/s line with 20 ms round trips (Chromium's
// network emulation), where the bytes count.
//
//   make bench-pages            (RUNS=7 by default)
import { startBrowser, startParley, createFirstAdmin, tinyModel } from './harness.mjs';

const RUNS = Number(process.env.RUNS || 7);
const PASSWORD = 'a long enough passphrase';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function hydrationTimedPage(context) {
  const page = await context.newPage();
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.body?.dataset.hydrated === 'true') {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
  });
  return page;
}

/// One load of `path`: [ms to hydrated, bytes over the network].
async function load(page, cdp, path, base) {
  let bytes = 0;
  const count = (e) => { bytes += e.encodedDataLength; };
  cdp.on('Network.loadingFinished', count);
  await page.goto(base + path);
  await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 30000 });
  const ms = await page.evaluate(() => window.__hydratedAt);
  await page.waitForLoadState('networkidle');
  cdp.off('Network.loadingFinished', count);
  return [ms, bytes];
}

/// A trainer's office line: 20 Mbit/s down, 5 up, 20 ms round trip.
const LINE = { offline: false, latency: 20, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 };

async function measure(base, cookies, { baseline, warm, line }) {
  const browser = await startBrowser();
  try {
    await browser.context.addCookies(cookies);
    const page = await hydrationTimedPage(browser.context);
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    if (line) await cdp.send('Network.emulateNetworkConditions', LINE);
    if (baseline) {
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': 'identity' } });
    }
    const rows = [];
    for (const path of ['/rank', '/write']) {
      const times = [];
      const sizes = [];
      for (let run = 0; run < RUNS; run++) {
        if (!warm) await cdp.send('Network.clearBrowserCache');
        else if (run === 0) await load(page, cdp, path, base); // fill the cache
        const [ms, bytes] = await load(page, cdp, path, base);
        times.push(ms);
        sizes.push(bytes);
      }
      rows.push({ path, ms: median(times), min: Math.min(...times), max: Math.max(...times), bytes: median(sizes) });
    }
    return rows;
  } finally {
    await browser.stop();
  }
}

const parley = await startParley(['--model', tinyModel()]);
try {
  const setup = await startBrowser();
  const page = await setup.context.newPage();
  await createFirstAdmin(page, parley.base, 'admin@example.com', PASSWORD);
  const cookies = await setup.context.cookies();
  await setup.stop();

  const before = await measure(parley.base, cookies, { baseline: true, warm: false });
  const cold = await measure(parley.base, cookies, { baseline: false, warm: false });
  const warm = await measure(parley.base, cookies, { baseline: false, warm: true });
  const beforeLine = await measure(parley.base, cookies, { baseline: true, warm: false, line: true });
  const coldLine = await measure(parley.base, cookies, { baseline: false, warm: false, line: true });
  console.log(`\nTime to interactive (navigation start to hydrated), median of ${RUNS} loads, Chromium headless, server on this machine`);
  console.log('| page | baseline: no compression, no cache | first visit: compressed, empty cache | next visits: bundle cached | baseline at 20 Mbit/s | first visit at 20 Mbit/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const cell = (r) => `${r.ms.toFixed(0)} ms (${r.min.toFixed(0)}–${r.max.toFixed(0)}), ${(r.bytes / 1000).toFixed(1)} kB`;
  for (let i = 0; i < before.length; i++) {
    console.log(`| ${before[i].path} | ${cell(before[i])} | ${cell(cold[i])} | ${cell(warm[i])} | ${cell(beforeLine[i])} | ${cell(coldLine[i])} |`);
  }
  console.log('target: under 1000 ms');
} finally {
  await parley.stop();
}
