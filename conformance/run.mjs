#!/usr/bin/env node
// Eventide conformance suite: black-box checks of the SSE and WebSocket
// contract (docs/STREAMS.md, SPEC.md sections 5, 6 and 12) against a live
// server. It starts nothing; see README.md.
//
//   node conformance/run.mjs http://127.0.0.1:9996 [--app realtime-demo]
//        [--table message] [--ping-ms N] [--compat APP] [--web APP]
//        [--http2] [--only SUBSTRING]
//
// --http2: REST, SSE, GraphQL and the dialects' SSE over HTTP/2 (one
// node:http2 session; prior knowledge for http://, ALPN h2 for https://);
// WebSocket and HTTP/1.1-framing checks are skipped, saying why.
//
// Exit code 0 only if every check passed (skips aside).

import crypto from 'node:crypto';
import { Suite, eq } from './lib/harness.mjs';
import { Rest, request, setTransport, h2Stats, closeH2Sessions } from './lib/http.mjs';
import { SseStream } from './lib/sse.mjs';
import { WsClient } from './lib/ws.mjs';
import { addSseChecks } from './checks/sse.mjs';
import { addWsChecks } from './checks/ws.mjs';
import { addPublishChecks } from './checks/publish.mjs';
import { addSeedChecks } from './checks/seeds.mjs';
import { addDialectChecks } from './checks/dialects.mjs';
import { addRestChecks } from './checks/rest.mjs';
import { addH2Checks } from './checks/h2.mjs';

function parseArgs(argv) {
  const opts = { app: 'realtime-demo', table: 'message', pingMs: null, only: null, compat: null, web: null, http2: false };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--app') opts.app = val();
    else if (a === '--table') opts.table = val();
    else if (a === '--ping-ms') opts.pingMs = Number(val());
    else if (a === '--only') opts.only = val();
    else if (a === '--compat') opts.compat = val();
    else if (a === '--web') opts.web = val();
    else if (a === '--http2') opts.http2 = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else rest.push(a);
  }
  if (rest.length !== 1) usage('one base URL is required');
  opts.base = rest[0].replace(/\/$/, '');
  if (opts.pingMs !== null && !(opts.pingMs > 0)) usage('--ping-ms wants a positive number');
  if (opts.base.startsWith('https:') && !opts.http2) usage('https:// only with --http2 (HTTP/2 by ALPN)');
  return opts;
}

function usage(msg) {
  if (msg) console.error(`run.mjs: ${msg}`);
  console.error('usage: node conformance/run.mjs BASE_URL [--app APP] [--table TABLE] [--ping-ms N] [--compat APP] [--web APP] [--http2] [--only SUBSTRING]');
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
if (opts.http2) setTransport('h2');
const run = crypto.randomBytes(4).toString('hex');
const rest = new Rest(opts.base, opts.app, opts.table);
let idCounter = 0;

// What every check gets. Names stay short because checks use them a lot.
function makeContext({ track }) {
  const streams = [];
  const sockets = [];
  const ctx = {
    ...opts,
    run,
    rest,
    track,
    tablePath: `/${opts.app}/${opts.table}`,
    // A record id unique to this run (so repeated runs do not collide).
    newId(tag = 'r') { return `cf-${run}-${++idCounter}-${tag}`; },
    isOurs(id) { return typeof id === 'string' && id.startsWith(`cf-${run}-`); },
    body(id, fields = {}) { return { id, title: `title of ${id}`, content: `content of ${id}`, ...fields }; },
    recordPath(id) { return `/${opts.app}/${opts.table}/${encodeURIComponent(id)}`; },
    // The log's head as the projection sees it (a list carries Event-Position).
    async head() {
      const r = await request(opts.base, { path: `/${opts.app}/${opts.table}?limit=1` });
      eq(r.status, 200, 'GET list status');
      return Number(r.headers['event-position']);
    },
    async sse(path, { headers, expectStatus = 200 } = {}) {
      const s = track(await SseStream.open(opts.base, path, { headers }));
      streams.push(s);
      if (expectStatus !== null) eq(s.status, expectStatus, `SSE ${path} status`);
      return s;
    },
    async ws(path, o = {}) {
      const c = track(await WsClient.connect(opts.base, path, o));
      sockets.push(c);
      if (o.expectStatus !== null && c.status !== (o.expectStatus ?? 101)) {
        throw new Error(`WS ${path}: status ${c.status}, want ${o.expectStatus ?? 101}: ${c.body ?? ''}`);
      }
      return c;
    },
    // Run after a check's body succeeds: the SSE framing rules held on every
    // stream it opened (see lib/sse.mjs), and the server's WebSocket frames
    // were well formed (unmasked, RSV clear, control frames short and whole).
    verify() {
      for (const c of sockets) {
        if (c.errors.length) throw new Error(`server WebSocket frames: ${c.errors.join('; ')}`);
      }
      for (const s of streams) {
        if (s.violations.length) {
          const e = new Error(`SSE framing: ${s.violations.join('; ')}`);
          e.framing = true;
          throw e;
        }
      }
    },
  };
  return ctx;
}

// Checks that have no meaning over HTTP/2, and why. Checks that only use a
// WebSocket on the side (to publish, or for an in-band error) still run:
// their REST and SSE parts go over HTTP/2, the WebSocket over HTTP/1.1.
const H2_SKIPS = [
  [/^ws\./, 'WebSocket is HTTP/1.1 only (no RFC 8441 extended CONNECT)'],
  [/^dialects\.snackbase\.ws\./, 'WebSocket is HTTP/1.1 only (no RFC 8441 extended CONNECT)'],
  [/^rest\.pipelined-read-your-writes$/, 'HTTP/1.1 pipelining: HTTP/2 streams are independent, with no order between them'],
  [/^rest\.head-keep-alive$/, 'HTTP/1.1 message framing on a kept-alive connection'],
];
const skip = opts.http2
  ? (name) => { const s = H2_SKIPS.find(([re]) => re.test(name)); return s ? `skipped over h2: ${s[1]}` : null; }
  : undefined;

const suite = new Suite({ filter: opts.only, skip });
console.log(`# eventide conformance: ${opts.base} app=${opts.app} table=${opts.table} run=${run}` +
  (opts.pingMs ? ` ping-ms=${opts.pingMs}` : '') + (opts.compat ? ` compat=${opts.compat}` : '') +
  (opts.web ? ` web=${opts.web}` : '') + (opts.http2 ? ' transport=h2' : ''));
console.log('# assumes it is the only writer to the server while it runs (positions are checked for contiguity)');

suite.add('server.healthz', 'SPEC.md 12 (/healthz)', async () => {
  const r = await request(opts.base, { path: '/healthz' });
  eq(r.status, 200, '/healthz status');
  return r.text.slice(0, 120);
});
addSeedChecks(suite);
addSseChecks(suite);
addWsChecks(suite);
addPublishChecks(suite);
addDialectChecks(suite);
addRestChecks(suite);
if (opts.http2) addH2Checks(suite);

const started = Date.now();
let ok = await suite.run(makeContext);
if (opts.http2) {
  // Everything but the WebSocket went over HTTP/2: request() and SseStream
  // refuse an answer whose session did not negotiate it.
  console.log(`# over HTTP/2 (${[...h2Stats.protocols].join(', ') || 'nothing'}): ${h2Stats.requests} requests and ` +
    `${h2Stats.streams} SSE streams on ${h2Stats.sessions} connection(s)`);
  if (h2Stats.protocols.size === 0 || ![...h2Stats.protocols].every((p) => p === 'h2' || p === 'h2c')) ok = false;
  closeH2Sessions();
}
console.log(`${ok ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(ok ? 0 : 1);
