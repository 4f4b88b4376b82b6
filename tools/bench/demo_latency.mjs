// How soon a write is on screen in the demo page (issue 6; figures in
// docs/PERFORMANCE.md). One server (the real apps/, --tls off, --fsync
// always, pinned to core 0) and one Chromium page on /realtime-demo/; Node
// posts N messages over REST, one at a time, and for each records:
//   ack     the REST answer (the write durable and applied): the baseline
//   event   the SSE `update` for it arriving in the page
//   screen  its title in the page's list (a MutationObserver)
// all on one clock (the page's performance.timeOrigin + now, and Node's).
//
//   node tools/bench/demo_latency.mjs [--build DIR] [--n 200]
//
// Needs `make ui` (the page) and tests/clients/node_modules (playwright-core:
// tests/clients/install.sh). Only loopback; stops the server it started, by PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    build: { type: 'string', default: join(root, 'build') },
    n: { type: 'string', default: '200' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
const require = createRequire(join(root, 'tests/clients/package.json'));
const { chromium } = require('playwright-core');
const N = Number(args.n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

const data = mkdtempSync(join(tmpdir(), 'eventide-demo-latency-'));
const server = spawn('taskset', ['-c', '0', join(args.build, 'src/server/eventide'), 'serve',
  '--apps', join(root, 'apps'), '--data', data, '--listen', '127.0.0.1:0', '--tls', 'off',
  '--fsync', 'always'], { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
server.stderr.on('data', (d) => { log += d; });
server.stdout.on('data', (d) => { log += d; });
let port = 0;
for (let i = 0; i < 100 && !port; i++) {
  const m = log.match(/"msg":"listening","addr":"127\.0\.0\.1:(\d+)"/);
  if (m) port = Number(m[1]);
  else await sleep(50);
}
if (!port) throw new Error(`the server did not start:\n${log}`);
const base = `http://127.0.0.1:${port}`;

const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--no-first-run', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  // Before the page's own code: timestamps of each SSE update, by record id,
  // and of each title's first appearance in the list.
  await page.addInitScript(() => {
    const stamp = () => performance.timeOrigin + performance.now();
    window.__eventAt = {};
    window.__screenAt = {};
    const add = EventSource.prototype.addEventListener;
    EventSource.prototype.addEventListener = function (type, fn, ...rest) {
      if (type !== 'update') return add.call(this, type, fn, ...rest);
      return add.call(this, type, (e) => {
        const t = stamp();
        try { window.__eventAt[JSON.parse(e.data).title] ??= t; } catch { /* not ours */ }
        fn(e);
      }, ...rest);
    };
    new MutationObserver(() => {
      const t = stamp();
      for (const el of document.querySelectorAll('[data-testid="message-title"]')) {
        window.__screenAt[el.textContent] ??= t;
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(`${base}/realtime-demo/`);
  await page.waitForSelector('[data-testid="indicator"][data-state="live"]');

  const rows = [];
  for (let i = 0; i < N + 10; i++) {
    const title = `latency ${i}`;
    const t0 = now();
    const r = await fetch(`${base}/realtime-demo/message`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title, content: 'x', author: 'bench' }),
    });
    const t1 = now();
    if (r.status !== 201) throw new Error(`POST answered ${r.status}`);
    await page.waitForFunction((t) => window.__screenAt[t] !== undefined, title, { polling: 5 });
    const [tEvent, tScreen] = await page.evaluate((t) => [window.__eventAt[t], window.__screenAt[t]], title);
    if (i >= 10) rows.push({ ack: t1 - t0, event: tEvent - t0, screen: tScreen - t0 });  // 10 of warm-up
  }
  const pct = (k, p) => {
    const v = rows.map((r) => r[k]).sort((a, b) => a - b);
    return v[Math.min(v.length - 1, Math.floor(p * v.length))];
  };
  const fmt = (x) => x.toFixed(2).padStart(7);
  console.log(`${N} posts, one at a time, into a list growing to ${N + 10} messages`);
  console.log('measure      p50 ms   p90 ms   p99 ms   p50 / ack');
  for (const k of ['ack', 'event', 'screen']) {
    console.log(`${k.padEnd(10)} ${fmt(pct(k, 0.5))}  ${fmt(pct(k, 0.9))}  ${fmt(pct(k, 0.99))}   ${(pct(k, 0.5) / pct('ack', 0.5)).toFixed(2)}`);
  }
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(data, { recursive: true, force: true });
}
