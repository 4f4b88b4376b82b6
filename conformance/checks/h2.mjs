// Checks of HTTP/2 itself, registered only with --http2: the run's requests
// really go over HTTP/2, many streams share one connection, a reset stream
// ends its subscription, and the server answers the same over both
// protocols. (The other checks run over HTTP/2 too; see run.mjs.)

import { assert, eq, show } from '../lib/harness.mjs';
import { h2Session, requestH1, requestH2, h2Stats } from '../lib/http.mjs';
import { expectConnected, expectSseEvent, sleep } from './common.mjs';

const H2 = 'RFC 9113; HTTP.md';

// One series' value from /metrics text.
function metric(text, series) {
  const esc = series.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${esc} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

// Headers HTTP/2 forbids in a response (RFC 9113 8.2.2).
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

// What may differ between two answers to the same read: the time, and how
// the connection is kept.
const VARYING = new Set(['date', 'connection', 'keep-alive']);

async function eventStreams(ctx) {
  return metric((await requestH2(ctx.base, { path: '/metrics' })).text, 'eventide_h2_event_streams');
}

// eventide_h2_event_streams once two reads 50 ms apart agree (at most 1 s).
async function settled(ctx) {
  let last = await eventStreams(ctx);
  for (let i = 0; i < 20; i++) {
    await sleep(50);
    const now = await eventStreams(ctx);
    if (now === last) return now;
    last = now;
  }
  return last;
}

export function addH2Checks(suite) {
  suite.add('h2.transport', H2, async (ctx) => {
    const r = await requestH2(ctx.base, { path: '/metrics' });
    const session = h2Session(ctx.base);
    assert(['h2', 'h2c'].includes(session.alpnProtocol), `session protocol ${show(session.alpnProtocol)}`);
    eq(r.version, '2', 'the answer came on an HTTP/2 stream');
    for (const h of CONNECTION_SPECIFIC) assert(!(h in r.headers), `a connection-specific header over HTTP/2: ${h}: ${r.headers[h]}`);
    const open = metric(r.text, 'eventide_protocol_connections{protocol="h2"}');
    const total = metric(r.text, 'eventide_protocol_connections_total{protocol="h2"}');
    assert(open >= 1, `the server counts ${open} open HTTP/2 connections`);
    assert(total >= h2Stats.sessions, `the server counts ${total} HTTP/2 connections, the suite opened ${h2Stats.sessions}`);
    assert(metric(r.text, 'eventide_h2_streams') >= 1, 'eventide_h2_streams does not count the stream asking');
    return `${session.alpnProtocol}; server: ${open} open, ${total} total HTTP/2 connections`;
  });

  suite.add('h2.multiplexed-writes-and-stream', `${H2}; STREAMS.md SSE`, async (ctx) => {
    // One connection: a live SSE stream and 24 concurrent writes and reads.
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`);
    const c = await expectConnected(s);
    const ids = Array.from({ length: 24 }, () => ctx.newId('mx'));
    const [writes, reads] = await Promise.all([
      Promise.all(ids.map((id) => ctx.rest.create(ctx.body(id)))),
      Promise.all(ids.map(() => requestH2(ctx.base, { path: `${ctx.tablePath}?limit=1` }))),
    ]);
    for (const r of reads) eq(r.status, 200, 'a concurrent read');
    const byPos = new Map(writes.map((w) => [w.position, w]));
    const positions = [...byPos.keys()].sort((a, b) => a - b);
    eq(positions, Array.from({ length: ids.length }, (_, i) => c.position + 1 + i), 'positions of the concurrent writes (single writer)');
    for (const p of positions) {
      const w = byPos.get(p);
      expectSseEvent(await s.next(), { name: 'update', position: p, data: w.json() }, `event at ${p}`);
    }
    return `${ids.length} writes and ${reads.length} reads beside a stream on one connection`;
  });

  suite.add('h2.reset-stream-ends-subscription', `${H2} 5.4.2; STREAMS.md`, async (ctx) => {
    const gauge = () => eventStreams(ctx);
    // The streams the check before this one reset may be counted for one
    // more loop turn: a /metrics request read with their RST_STREAM is
    // answered before the server's streams hear that they closed.
    const before = await settled(ctx);
    const streams = [];
    for (let i = 0; i < 3; i++) streams.push(await ctx.sse(`${ctx.tablePath}?stream=sse`));
    for (const s of streams) await expectConnected(s);
    eq(await gauge(), before + 3, 'eventide_h2_event_streams with three more open');
    for (const s of streams) s.close();  // RST_STREAM CANCEL
    let now;
    for (let i = 0; i < 20; i++) {
      now = await gauge();
      if (now === before) break;
      await sleep(50);
    }
    eq(now, before, 'eventide_h2_event_streams after the client reset them');
    // The connection goes on.
    const id = ctx.newId();
    await ctx.rest.create(ctx.body(id));
    eq((await ctx.rest.get(id)).status, 200, 'a request after the resets');
  });

  suite.add('h2.same-answers-as-http1', `${H2}; HTTP.md`, async (ctx) => {
    const id = ctx.newId('same');
    await ctx.rest.create(ctx.body(id));
    const json = { 'Content-Type': 'application/json' };
    const reads = [
      { path: ctx.recordPath(id) },
      { method: 'HEAD', path: ctx.recordPath(id) },
      { path: `${ctx.tablePath}?id=${encodeURIComponent(id)}` },
      { method: 'HEAD', path: `${ctx.tablePath}?id=${encodeURIComponent(id)}` },
      { path: ctx.recordPath(ctx.newId('none')) },
      { method: 'HEAD', path: ctx.recordPath(ctx.newId('none')) },
      { path: `/no-such-app-${ctx.run}/x` },
      { path: `${ctx.tablePath}?limit=0` },
      { path: `${ctx.tablePath}/a%zz` },
      { method: 'POST', path: ctx.tablePath, headers: json, body: '{"id":' },
      { method: 'POST', path: ctx.tablePath, headers: { 'Content-Type': 'text/plain' }, body: '{}' },
      { method: 'DELETE', path: ctx.tablePath },
      { method: 'OPTIONS', path: ctx.tablePath },
      { method: 'POST', path: `/${ctx.app}/graphql`, headers: json, body: '{"query":"subscription { nosuchtable { id } }"}' },
      ...(ctx.web ? [{ path: `/${ctx.web}/` }, { path: `/${ctx.web}/app.js`, headers: { 'Accept-Encoding': 'gzip' } }, { path: `/${ctx.web}` }] : []),
    ];
    const diffs = [];
    for (const req of reads) {
      const what = `${req.method ?? 'GET'} ${req.path}`;
      const [a, b] = [await requestH1(ctx.base, req), await requestH2(ctx.base, req)];
      if (a.status !== b.status) diffs.push(`${what}: status ${a.status} over HTTP/1.1, ${b.status} over HTTP/2`);
      if (!a.body.equals(b.body)) diffs.push(`${what}: body ${show(a.text.slice(0, 80))} over HTTP/1.1, ${show(b.text.slice(0, 80))} over HTTP/2`);
      const names = new Set([...Object.keys(a.headers), ...Object.keys(b.headers)]);
      for (const n of names) {
        if (VARYING.has(n)) continue;
        if (a.headers[n] !== b.headers[n]) diffs.push(`${what}: ${n} ${show(a.headers[n])} over HTTP/1.1, ${show(b.headers[n])} over HTTP/2`);
      }
    }
    eq(diffs, [], 'answers that differ between HTTP/1.1 and HTTP/2');
    return `${reads.length} requests answered alike`;
  });

  // Last: every check closed its streams (RST_STREAM), so the server holds
  // no event stream for this connection any more.
  suite.add('h2.event-streams-freed', `${H2}; STREAMS.md`, async (ctx) => {
    const left = await settled(ctx);
    eq(left, 0, 'eventide_h2_event_streams after every check closed its streams');
    const r = await requestH2(ctx.base, { path: '/metrics' });
    eq(metric(r.text, 'eventide_h2_streams'), 1, 'eventide_h2_streams (the /metrics request only)');
    return `${h2Stats.streams} SSE streams opened and freed`;
  });
}
