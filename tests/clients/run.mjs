// Eventide with the clients its users have (SPEC section 6; issue 4's
// "real clients"): Node's `eventsource` and `ws` packages and Chromium's own
// EventSource, each kept open while records are written, the server is
// killed with SIGKILL and restarted on the same port, and writes go on. Each
// client must end with every acknowledged record exactly once, in order.
// The AYB and SnackBase dialects (docs/DIALECTS.md) are driven the way their
// seed documents (003, 004) drive them: an EventSource on /api/realtime, the
// SnackBaseSSE class's EventSource and its SnackBaseRealtime class over `ws`.
//
//   node tests/clients/run.mjs --bin build/src/server/eventide --apps apps [--only name]
//
// Starts and kills only the server processes it spawned. Exit code 0 when
// every scenario passed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, cpSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

import { EventideProcess, freePort } from './eventide_process.mjs';

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

// One eventide process on a fixed port and data directory, restartable.
class Server extends EventideProcess {
  constructor(dir, port, tls) {
    super(args.bin, port, ['--apps', join(dir, 'apps'), '--data', join(dir, 'data'),
      '--tls', tls ? 'auto' : 'off', '--fsync', 'always', '--config', join(dir, 'server.yaml')], { tls });
  }
}

// Writes records c1, c2, … one at a time; remembers which were acknowledged
// (201 with Event-Position) in order. Failed writes (the server is down) are
// simply not acknowledged and the writer goes on with the next id.
class Writer {
  // `target(n)`: the table path and body of the n-th write (the demo table
  // by default).
  constructor(server, prefix, target = (id, n) => [TABLE, { id, title: `t${n}`, content: 'x' }]) {
    this.server = server;
    this.prefix = prefix;
    this.target = target;
    this.n = 0;
    this.acked = []; // [{id, position}]
  }
  async write() {
    const id = `${this.prefix}${++this.n}`;
    const [path, body] = this.target(id, this.n);
    try {
      const r = await fetch(this.server.base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
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

// The compatibility dialects' app (docs/DIALECTS.md): the seeds' posts and
// comments. Tokens are optional: a client's token is checked when it shows
// one, and the writer needs none.
const COMPAT_SECRET = 'client-tests-secret-of-some-length';
function writeCompatApp(dir) {
  mkdirSync(join(dir, 'apps/blog'), { recursive: true });
  writeFileSync(join(dir, 'apps/blog/config.yaml'),
    'app_id: blog\nauth: optional\nschemas:\n  - schema.graphql\n');
  writeFileSync(join(dir, 'apps/blog/schema.graphql'), `
type Post @table @export(name: "posts", rest: true, sse: true, ws: true) {
  id: ID! @primaryKey
  title: String!
  published: Boolean
}
type Comment @table @export(name: "comments", rest: true, sse: true, ws: true) {
  id: ID! @primaryKey
  post_id: String
  body: String!
}
`);
}

// A token as a user of the dialects would have it, minted by `eventide token`.
function mintToken(sub) {
  return execFileSync(args.bin, ['token', '--secret', COMPAT_SECRET, '--sub', sub, '--ttl', '1h'])
    .toString().trim();
}

// Writes alternate between posts and comments.
const blogTarget = (id, n) => (n % 2
  ? ['/blog/posts', { id, title: `t${n}`, published: true }]
  : ['/blog/comments', { id, post_id: 'p', body: `b${n}` }]);

async function withServer(fn, { tls = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'eventide-clients-'));
  cpSync(args.apps, join(dir, 'apps'), { recursive: true });
  writeCompatApp(dir);
  mkdirSync(join(dir, 'data'));
  // A short retry so reconnects are quick; a short ping so heartbeats show.
  writeFileSync(join(dir, 'server.yaml'), 'streams:\n  sse_retry_ms: 300\n  sse_ping_ms: 1000\n' +
    '  snackbase_heartbeat_ms: 300\ncompat_app: blog\njwt_secret: ' + COMPAT_SECRET + '\n');
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
async function killRestartScenario(server, client, prefix, target) {
  const writer = new Writer(server, prefix, target);
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

  // AYB (seed 003) with the `eventsource` package, as its browser example
  // and SDK do: one EventSource on /api/realtime?tables=posts,comments&token=…,
  // es.onmessage with {action, table, record}. It reconnects by itself with
  // Last-Event-ID, so both tables resume from one position.
  'ayb-eventsource': () => withServer(async (server) => {
    let es;
    const got = [];
    const tables = new Set();
    const problems = await killRestartScenario(server, {
      open: async (s) => {
        const params = new URLSearchParams({ tables: 'posts,comments', token: mintToken('ayb-user') });
        es = new EventSource(`${s.base}/api/realtime?${params}`);
        es.onmessage = (e) => {
          const event = JSON.parse(e.data);
          switch (event.action) {
            case 'create':
            case 'update':
            case 'delete':
              if (!event.retained) got.push({ id: event.record.id, position: Number(e.lastEventId) });
              tables.add(event.table);
              break;
            default: // connected, reset, synced
          }
        };
        await new Promise((r) => es.addEventListener('message', r, { once: true }));
      },
      received: () => got,
      close: () => es.close(),
    }, 'ayb', blogTarget);
    if (!(tables.has('posts') && tables.has('comments'))) problems.push(`tables seen: ${[...tables]}`);
    return problems;
  }),

  // SnackBase (seed 004): its SnackBaseSSE class's EventSource, with the
  // collections as repeated parameters and the token in the URL.
  'snackbase-sse': () => withServer(async (server) => {
    let es;
    const got = [];
    let heartbeats = 0;
    const problems = await killRestartScenario(server, {
      open: async (s) => {
        const collections = ['posts', 'comments'];
        const url = `${s.base}/api/v1/realtime/subscribe?${collections.map((c) => `collection=${encodeURIComponent(c)}`).join('&')}`;
        es = new EventSource(url + `&token=${mintToken('sse-user')}`);
        es.addEventListener('message', (event) => {
          const message = JSON.parse(event.data);
          if (message.event === 'heartbeat') { heartbeats++; return; }
          const [, operation] = message.type.split('.');
          if (operation && !message.retained) got.push({ id: message.data.id, position: message.seq });
          if (operation && message.seq !== Number(event.lastEventId)) {
            got.push({ id: `seq ${message.seq} != id ${event.lastEventId}`, position: 0 });
          }
        });
        await new Promise((r) => es.addEventListener('message', r, { once: true }));
      },
      received: () => got,
      close: () => es.close(),
    }, 'sbs', blogTarget);
    if (heartbeats === 0) problems.push('no heartbeat');
    return problems;
  }),

  // SnackBase (seed 004): its SnackBaseRealtime class with Node's `ws`:
  // connect with a token, subscribe to posts with operations, receive,
  // reconnect and resubscribe with the last seq (its "Handle Reconnections"
  // advice, plus lastEventId), ping, unsubscribe.
  'snackbase-ws': () => withServer((server) => snackbaseWsScenario(server)),

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

// Seed 004's SnackBaseRealtime class as the document gives it, on Node's
// `ws` (whose WebSocket has the same onopen/onmessage/onclose API). One line
// differs: the class splits every message's "type", but the document's own
// {"status":"subscribed",…} replies have none (a browser would log the
// TypeError and go on; Node would crash), so they are skipped.
class SnackBaseRealtime {
  constructor(token, base) {
    this.token = token;
    this.base = base;
    this.ws = null;
    this.subscriptions = new Set();
    this.handlers = {};
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(`${this.base}/api/v1/realtime/ws?token=${this.token}`);
      this.ws.onopen = () => resolve();
      this.ws.onerror = (error) => reject(error);
      this.ws.onclose = () => {};
      this.ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (this.onAny) this.onAny(message);
        if (message.type === 'heartbeat' || message.type === 'pong') {
          return; // Ignore system messages
        }
        if (typeof message.type !== 'string') return; // {"status":…} replies (see above)
        // Call registered handlers
        const [collection, operation] = message.type.split('.');
        const eventType = `${collection}.${operation}`;
        if (this.handlers[eventType]) {
          this.handlers[eventType](message.data, message);
        }
      };
    });
  }

  subscribe(collection, operations = ['create', 'update', 'delete'], handler, extra = {}) {
    return new Promise((resolve, reject) => {
      if (this.subscriptions.size >= 100) {
        reject(new Error('Maximum subscriptions reached (100)'));
        return;
      }
      this.ws.send(JSON.stringify({ action: 'subscribe', collection, operations, ...extra }));
      operations.forEach((op) => { this.handlers[`${collection}.${op}`] = handler; });
      this.subscriptions.add(collection);
      resolve();
    });
  }

  unsubscribe(collection) {
    this.ws.send(JSON.stringify({ action: 'unsubscribe', collection }));
    ['create', 'update', 'delete'].forEach((op) => { delete this.handlers[`${collection}.${op}`]; });
    this.subscriptions.delete(collection);
  }

  disconnect() {
    this.ws.close();
  }
}

async function snackbaseWsScenario(server) {
  const token = mintToken('alice');
  const got = [];
  const replies = [];
  let lastSeq = 0;
  let closing = false;
  let realtime;
  const handler = (data, message) => {
    got.push({ id: data.id, position: message.seq, type: message.type });
    lastSeq = message.seq;
  };
  // Connects (again) and subscribes to posts' creates and updates, from the
  // last seq seen when there is one.
  const connect = async (s) => {
    realtime = new SnackBaseRealtime(token, s.base.replace('http', 'ws'));
    realtime.onAny = (m) => replies.push(m);
    await realtime.connect();
    realtime.ws.onclose = () => {
      if (!closing) setTimeout(() => connect(s).catch(() => {}), 300);
    };
    const before = replies.length;
    await realtime.subscribe('posts', ['create', 'update'], handler,
      lastSeq ? { lastEventId: lastSeq } : {});
    await waitFor(() => replies.slice(before).some((m) => m.status === 'subscribed'), 5000,
      'the subscribed reply');
  };
  // Posts only: a comment or a delete must not arrive.
  const target = (id, n) => ['/blog/posts', { id, title: `t${n}` }];
  const problems = await killRestartScenario(server, {
    open: (s) => connect(s),
    received: () => got,
    close: () => {},
  }, 'sbw', target);
  // The operations filter: a delete and a comment are not delivered; the
  // next create is.
  const n = got.length;
  await fetch(`${server.base}/blog/posts/sbw1`, { method: 'DELETE' });
  await fetch(`${server.base}/blog/comments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'c', body: 'x' }) });
  await fetch(`${server.base}/blog/posts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'last', title: 'x' }) });
  await waitFor(() => got.length > n, 5000, 'the create after a delete and a comment');
  if (got.length !== n + 1 || got[n].id !== 'last') problems.push(`after the filter: ${JSON.stringify(got.slice(n))}`);
  // Ping / pong, heartbeat, unsubscribe.
  realtime.ws.send(JSON.stringify({ action: 'ping' }));
  await waitFor(() => replies.some((m) => m.type === 'pong'), 5000, 'pong');
  await waitFor(() => replies.some((m) => m.type === 'heartbeat'), 5000, 'a heartbeat');
  realtime.unsubscribe('posts');
  await waitFor(() => replies.some((m) => m.status === 'unsubscribed' && m.collection === 'posts'), 5000, 'unsubscribed');
  await fetch(`${server.base}/blog/posts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'unseen', title: 'x' }) });
  await sleep(300);
  if (got.some((e) => e.id === 'unseen')) problems.push('an event after unsubscribe');
  if (got.some((e) => e.type !== 'posts.create')) problems.push('an event type other than posts.create');
  closing = true;
  realtime.disconnect();
  return problems;
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
