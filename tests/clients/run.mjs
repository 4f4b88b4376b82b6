// Eventide with the clients its users have (SPEC section 6; issue 4's
// "real clients"): Node's `eventsource` and `ws` packages and Chromium's own
// EventSource, each kept open while records are written, the server is
// killed with SIGKILL and restarted on the same port, and writes go on. Each
// client must end with every acknowledged record exactly once, in order.
//
//   node tests/clients/run.mjs --bin build/src/server/eventide --apps apps [--only name]
//
// Starts and kills only the server processes it spawned. Exit code 0 when
// every scenario passed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, cpSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

const { values: args } = parseArgs({
  options: {
    bin: { type: 'string' },
    apps: { type: 'string' },
    only: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!args.bin || !args.apps) {
  console.error('usage: run.mjs --bin EVENTIDE --apps APPS_DIR [--only NAME]');
  process.exit(2);
}

// The TLS scenario's server has a self-signed certificate (--tls auto).
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TABLE = '/realtime-demo/message';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// One eventide process on a fixed port and data directory, restartable.
class Server {
  constructor(dir, port, tls) {
    this.dir = dir;
    this.port = port;
    this.tls = tls;
    this.base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.proc = null;
    this.log = '';
  }
  async start() {
    this.proc = spawn(args.bin, [
      'serve', '--apps', join(this.dir, 'apps'), '--data', join(this.dir, 'data'),
      '--listen', `127.0.0.1:${this.port}`, '--tls', this.tls ? 'auto' : 'off', '--fsync', 'always',
      '--config', join(this.dir, 'server.yaml'),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stderr.on('data', (d) => { this.log += d; });
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (this.log.includes('"msg":"listening"')) return;
      const gone = await Promise.race([exited.then(() => true), sleep(20).then(() => false)]);
      if (gone) break;
    }
    throw new Error(`server did not start:\n${this.log}`);
  }
  kill9() {
    if (!this.proc) return Promise.resolve();
    const p = this.proc;
    this.proc = null;
    return new Promise((r) => { p.once('exit', r); p.kill('SIGKILL'); });
  }
}

// Writes records c1, c2, … one at a time; remembers which were acknowledged
// (201 with Event-Position) in order. Failed writes (the server is down) are
// simply not acknowledged and the writer goes on with the next id.
class Writer {
  constructor(server, prefix) {
    this.server = server;
    this.prefix = prefix;
    this.n = 0;
    this.acked = []; // [{id, position}]
  }
  async write() {
    const id = `${this.prefix}${++this.n}`;
    try {
      const r = await fetch(this.server.base + TABLE, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, title: `t${this.n}`, content: 'x' }),
        signal: AbortSignal.timeout(3000),
      });
      if (r.status === 201) this.acked.push({ id, position: Number(r.headers.get('event-position')) });
      await r.arrayBuffer();
    } catch {
      // down: not acknowledged
    }
  }
  async writeMany(count, gapMs = 10) {
    for (let i = 0; i < count; i++) {
      await this.write();
      await sleep(gapMs);
    }
  }
}

let summary = '';

// The checks every scenario ends with: each acknowledged record exactly
// once, positions strictly increasing (no duplicate, in order).
function verify(name, received, writer) {
  const problems = [];
  const positions = received.map((e) => e.position);
  for (let i = 1; i < positions.length; i++) {
    if (!(positions[i] > positions[i - 1])) {
      problems.push(`position ${positions[i]} after ${positions[i - 1]} (duplicate or out of order)`);
    }
  }
  const byId = new Map();
  for (const e of received) byId.set(e.id, (byId.get(e.id) || 0) + 1);
  for (const a of writer.acked) {
    const n = byId.get(a.id) || 0;
    if (n !== 1) problems.push(`acknowledged ${a.id}@${a.position} received ${n} times`);
  }
  const ackedOrder = writer.acked.map((a) => a.id);
  const seenOrder = received.map((e) => e.id).filter((id) => ackedOrder.includes(id));
  if (JSON.stringify(seenOrder) !== JSON.stringify(ackedOrder)) problems.push('acknowledged records out of order');
  if (writer.acked.length < 10) problems.push(`only ${writer.acked.length} writes were acknowledged`);
  summary = `${writer.acked.length} acknowledged of ${writer.n} attempted, ${received.length} received`;
  return problems;
}

async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function withServer(fn, { tls = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'eventide-clients-'));
  cpSync(args.apps, join(dir, 'apps'), { recursive: true });
  mkdirSync(join(dir, 'data'));
  // A short retry so reconnects are quick; a short ping so heartbeats show.
  writeFileSync(join(dir, 'server.yaml'), 'streams:\n  sse_retry_ms: 300\n  sse_ping_ms: 1000\n');
  const server = new Server(dir, await freePort(), tls);
  try {
    await server.start();
    return await fn(server, dir);
  } finally {
    await server.kill9();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The kill -9 scenario, for a client given as {open(server), received(),
// close()}; received() returns (or resolves to) [{id, position}] in arrival
// order.
async function killRestartScenario(server, client, prefix) {
  const writer = new Writer(server, prefix);
  await client.open(server);
  await writer.writeMany(15);
  await waitFor(async () => (await client.received()).length >= writer.acked.length, 10000,
    'the first writes');
  await server.kill9();
  await writer.writeMany(3, 30); // refused: the server is down
  await server.start();
  await writer.writeMany(15);
  const last = writer.acked[writer.acked.length - 1];
  await waitFor(async () => (await client.received()).some((e) => e.id === last.id), 20000,
    `the last acknowledged record ${last.id}`);
  await sleep(300); // anything extra (a duplicate) would show up now
  const received = await client.received();
  client.close();
  return verify(prefix, received, writer);
}

const scenarios = {
  // Node's `eventsource` package: reconnects by itself with Last-Event-ID.
  'node-eventsource': () => withServer(async (server) => {
    let es;
    const got = [];
    const problems = await killRestartScenario(server, {
      open: async (s) => {
        es = new EventSource(s.base + TABLE + '?stream=sse');
        es.addEventListener('update', (e) => {
          const rec = JSON.parse(e.data);
          got.push({ id: rec.id, position: Number(e.lastEventId) });
        });
        await new Promise((r) => es.addEventListener('message', r, { once: true }));
      },
      received: () => got,
      close: () => es.close(),
    }, 'es');
    return problems;
  }),

  // Node's `ws` package: the client reconnects and resumes with the last
  // "seq" it saw, as docs/STREAMS.md tells a WebSocket client to.
  'node-ws': () => withServer((server) => wsScenario(server, 'ws')),

  // The same over TLS (wss://, the self-signed certificate of --tls auto).
  'node-wss': () => withServer((server) => wsScenario(server, 'wss'), { tls: true }),

  // Chromium's own EventSource in a page served by Eventide (same origin).
  'chromium-eventsource': () => inChromium(`
    const es = new EventSource('${TABLE}?stream=sse');
    es.onopen = () => { window.opened++; };
    es.addEventListener('update', (e) => {
      const rec = JSON.parse(e.data);
      window.received.push({ id: rec.id, position: Number(e.lastEventId) });
    });`, 'ce'),

  // Chromium's own WebSocket: the page reconnects and resumes from the last
  // "seq" it saw.
  'chromium-websocket': () => inChromium(`
    let lastSeq = 0;
    function connect() {
      const q = lastSeq ? '?lastEventId=' + lastSeq : '';
      const ws = new WebSocket('ws://' + location.host + '${TABLE}' + q);
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'subscribed') window.opened++;
        if (m.message_type === 'Update') {
          window.received.push({ id: m.id, position: m.seq });
          lastSeq = m.seq;
        }
      };
      ws.onclose = () => setTimeout(connect, 300);
    }
    connect();`, 'cw'),
};

async function wsScenario(server, prefix) {
  const got = [];
  let ws;
  let closing = false;
  let lastSeq = 0;
  const connect = (s) => new Promise((resolve) => {
    const url = s.base.replace('http', 'ws') + TABLE + (lastSeq ? `?lastEventId=${lastSeq}` : '');
    ws = new WebSocket(url, { rejectUnauthorized: false });
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'subscribed') resolve();
      if (m.message_type === 'Update') {
        got.push({ id: m.id, position: m.seq });
        lastSeq = m.seq;
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (!closing) setTimeout(() => connect(s).catch(() => {}), 300);
    });
  });
  return killRestartScenario(server, {
    open: connect,
    received: () => got,
    close: () => { closing = true; ws.close(); },
  }, prefix);
}

// Serves a page running `script` from Eventide itself (same origin) and runs
// the kill -9 scenario with Chromium as the client. The page fills
// window.received and counts window.opened.
function inChromium(script, prefix) {
  return withServer(async (server, dir) => {
    const { chromium } = await import('playwright-core');
    mkdirSync(join(dir, 'apps/realtime-demo/web'), { recursive: true });
    writeFileSync(join(dir, 'apps/realtime-demo/web/client-test.html'),
      `<!doctype html><title>client test</title><script>
window.received = [];
window.opened = 0;
${script}
</script>`);
    // Static files are read at start-up: restart to serve the page.
    await server.kill9();
    await server.start();
    const browser = await chromium.launch({
      executablePath: args.chromium,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(server.base + '/realtime-demo/client-test.html');
      return await killRestartScenario(server, {
        open: () => page.waitForFunction(() => window.opened >= 1, null, { timeout: 10000 }),
        received: () => page.evaluate(() => window.received),
        close: () => {},
      }, prefix);
    } finally {
      await browser.close();
    }
  });
}

let failed = 0;
for (const [name, run] of Object.entries(scenarios)) {
  if (args.only && args.only !== name) continue;
  const started = Date.now();
  try {
    const problems = await run();
    if (problems.length === 0) {
      console.log(`ok   ${name}: ${summary} (${Date.now() - started} ms)`);
    } else {
      failed++;
      console.log(`FAIL ${name}: ${problems.join('; ')}`);
    }
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
process.exit(failed ? 1 : 0);
