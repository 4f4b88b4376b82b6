// SSE checks: docs/STREAMS.md "Positions", "Topics", "Retained replay",
// "SSE"; SPEC.md section 6.

import { assert, eq, show, Skip } from '../lib/harness.mjs';
import { describe } from '../lib/sse.mjs';
import { WsClient } from '../lib/ws.mjs';
import { request } from '../lib/http.mjs';
import { expectConnected, readPreamble, expectSseEvent, sleep } from './common.mjs';

const SSE = 'STREAMS.md SSE';
const POS = 'STREAMS.md Positions';
const RET = 'STREAMS.md Retained replay';
const TOP = 'STREAMS.md Topics';

// Every record in the table, by paging the REST list.
async function listAll(ctx) {
  const out = [];
  let after = '';
  for (let i = 0; i < 100; i++) {
    const q = `?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const res = await request(ctx.base, { path: `${ctx.tablePath}${q}` });
    eq(res.status, 200, 'GET list');
    const page = res.json();
    out.push(...page);
    if (page.length < 1000) return out;
    after = String(page[page.length - 1].id);
  }
  throw new Error('table too large to list');
}

// A burst of writes on our own records; resolves with them in position order.
async function writeBurst(ctx, n, { concurrency = 4 } = {}) {
  const ids = [ctx.newId('b'), ctx.newId('b'), ctx.newId('b')];
  const writes = [];
  let next = 0;
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const id = ids[i % ids.length];
      const r = await ctx.rest.put(id, ctx.body(id, { title: `burst ${i}` }));
      writes.push({ id, position: r.position, record: r.json() });
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  writes.sort((a, b) => a.position - b.position);
  return writes;
}

// Asserts the events are exactly positions from..to, each one of ours.
function expectContiguous(events, from, to, byPos, what) {
  const ids = events.map((e) => Number(e.id));
  const want = [];
  for (let p = from; p <= to; p++) want.push(p);
  if (JSON.stringify(ids) !== JSON.stringify(want)) {
    const seen = new Set();
    const dup = ids.filter((p) => (seen.has(p) ? true : (seen.add(p), false)));
    const missing = want.filter((p) => !ids.includes(p));
    eq(ids, want, `${what}: event positions (duplicates ${show(dup)}, missing ${show(missing)})`);
  }
  for (const e of events) {
    const w = byPos.get(Number(e.id));
    assert(w, `${what}: event at ${e.id} is not one of this run's writes (is something else writing?)`);
    eq(e.type, 'update', `${what}: event name at ${e.id}`);
    eq(e.json, w.record, `${what}: data at ${e.id}`);
  }
}

export function addSseChecks(suite) {
  suite.add('sse.response-head', SSE, async (ctx) => {
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`);
    eq(s.headers['content-type'], 'text/event-stream', 'content-type');
    eq(s.headers['cache-control'], 'no-cache', 'cache-control');
    eq(s.headers['x-accel-buffering'], 'no', 'x-accel-buffering');
    assert(!('content-length' in s.headers), `a content-length on a stream: ${s.headers['content-length']}`);
    await s.next();
    assert(/^retry: [0-9]+\n\n/.test(s.body), `the body does not start with a retry: block: ${show(s.body.slice(0, 60))}`);
    eq(s.retries[0].beforeEvent, 0, 'retry: comes before the first event');
    await sleep(200);
    assert(!s.ended, 'the stream ended by itself');
    return `retry ${s.retryMs} ms; head ${show(s.rawHead.split('\r\n').slice(1).join(' | '))}`;
  });

  suite.add('sse.connected-position', SSE, async (ctx) => {
    const id = ctx.newId();
    const w = await ctx.rest.create(ctx.body(id));
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`);
    const c = await expectConnected(s);
    eq(c.position, w.position, 'connected.position vs the last write (single writer)');
    return `connected at ${c.position}`;
  });

  suite.add('sse.accept-header', SSE, async (ctx) => {
    const id = ctx.newId();
    await ctx.rest.create(ctx.body(id));
    const t = await ctx.sse(ctx.tablePath, { headers: { Accept: 'text/event-stream' } });
    eq(t.headers['content-type'], 'text/event-stream', 'table content-type');
    await expectConnected(t);
    const r = await ctx.sse(ctx.recordPath(id), { headers: { Accept: 'text/event-stream' } });
    const p = await readPreamble(r);
    eq(p.retained.length, 1, 'retained records on a record URL');
    const w = await ctx.rest.patch(id, { title: 'via accept' });
    expectSseEvent(await t.next(), { name: 'update', position: w.position, data: w.json() }, 'table stream');
    expectSseEvent(await r.next(), { name: 'update', position: w.position, data: w.json() }, 'record stream');
  });

  suite.add('sse.table.live-events', SSE, async (ctx) => {
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`);
    const c = await expectConnected(s);
    const id = ctx.newId();
    const w1 = await ctx.rest.create(ctx.body(id));
    const w2 = await ctx.rest.put(id, ctx.body(id, { title: 'replaced', author: 'cf' }));
    const w3 = await ctx.rest.patch(id, { content: 'merged' });
    const w4 = await ctx.rest.del(id);
    let ev = await s.next();
    let note = 'no synced on a fresh table subscription without retained';
    if (ev.type === 'message' && ev.json?.type === 'synced') {
      eq(ev.json.position, c.position, 'synced.position vs connected.position');
      note = 'a synced at the connected position before the live events';
      ev = await s.next();
    }
    assert(!(ev.type === 'message' && ev.json?.type === 'retained'), `retained records without ?retained=true: ${describe(ev)}`);
    expectSseEvent(ev, { name: 'update', position: w1.position, data: w1.json() }, 'POST');
    expectSseEvent(await s.next(), { name: 'update', position: w2.position, data: w2.json() }, 'PUT');
    expectSseEvent(await s.next(), { name: 'update', position: w3.position, data: w3.json() }, 'PATCH');
    expectSseEvent(await s.next(), { name: 'delete', position: w4.position, raw: JSON.stringify({ id }) }, 'DELETE');
    eq(w1.position, c.position + 1, 'first write after connect follows the connected position (single writer)');
    return note;
  });

  suite.add('sse.record.retained-and-isolation', TOP, async (ctx) => {
    const a = ctx.newId('a');
    const b = ctx.newId('b');
    await ctx.rest.create(ctx.body(a));
    await ctx.rest.create(ctx.body(b));
    const got = await ctx.rest.get(a);
    const s = await ctx.sse(`${ctx.recordPath(a)}?stream=sse`);
    const p = await readPreamble(s);
    eq(p.retained.length, 1, 'retained records on a record topic');
    eq(p.retained[0].id, a, 'retained.id');
    eq(p.retained[0].data, got.json(), 'retained.data vs GET');
    eq(p.synced.position, p.connected.position, 'synced.position vs connected.position (single writer)');
    await ctx.rest.put(b, ctx.body(b, { title: 'b2' }));
    const wa1 = await ctx.rest.put(a, ctx.body(a, { title: 'a2' }));
    const ws = ctx.track(await WsClient.connect(ctx.base, ctx.tablePath));
    await ws.nextJson();
    ws.send({ action: 'publish', topic: `${ctx.table}/${b}`, data: { to: 'b' } });
    ws.send({ action: 'publish', topic: ctx.table, data: { to: 'table' } });
    await ws.untilJson((j) => j.type === 'ack');
    await ws.untilJson((j) => j.type === 'ack');
    await ctx.rest.del(b);
    const wa2 = await ctx.rest.patch(a, { content: 'a3' });
    expectSseEvent(await s.next(), { name: 'update', position: wa1.position, data: wa1.json() }, 'PUT a');
    expectSseEvent(await s.next(), { name: 'update', position: wa2.position, data: wa2.json() }, 'PATCH a');
    const extra = await s.drain(150);
    eq(extra.map(describe), [], 'events for other records or the table topic on a record stream');
  });

  suite.add('sse.record.absent-then-created', RET, async (ctx) => {
    const id = ctx.newId('later');
    const s = await ctx.sse(`${ctx.recordPath(id)}?stream=sse`);
    const p = await readPreamble(s);
    eq(p.retained, [], 'retained records for a record that does not exist');
    const w = await ctx.rest.create(ctx.body(id));
    expectSseEvent(await s.next(), { name: 'update', position: w.position, data: w.json() }, 'create');
  });

  suite.add('sse.table.retained', RET, async (ctx) => {
    const keep = [ctx.newId('k'), ctx.newId('k')];
    const gone = ctx.newId('gone');
    for (const id of keep) await ctx.rest.create(ctx.body(id));
    await ctx.rest.create(ctx.body(gone));
    const last = await ctx.rest.del(gone);
    const all = await listAll(ctx);
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse&retained=true`);
    const p = await readPreamble(s);
    eq(p.synced.position, last.position, 'synced.position vs the last write (single writer)');
    eq(p.connected.position, last.position, 'connected.position');
    const ids = p.retained.map((r) => r.id);
    eq(new Set(ids).size, ids.length, 'each record retained once');
    eq([...ids].sort(), all.map((r) => r.id).sort(), 'retained ids vs the REST list');
    for (const r of p.retained) {
      const listed = all.find((x) => x.id === r.id);
      eq(r.data, listed, `retained ${r.id} vs the REST list`);
    }
    assert(!ids.includes(gone), 'a deleted record was retained');
    const w = await ctx.rest.patch(keep[0], { title: 'after sync' });
    expectSseEvent(await s.next(), { name: 'update', position: w.position, data: w.json() }, 'first live event');
    eq(w.position, p.synced.position + 1, 'live events continue from synced + 1');
    return `${p.retained.length} retained, synced at ${p.synced.position}`;
  });

  for (const how of ['header', 'query']) {
    suite.add(`sse.resume.${how}`, POS, async (ctx) => {
      const id = ctx.newId();
      const id2 = ctx.newId();
      const w = [];
      w.push(await ctx.rest.create(ctx.body(id)));
      w.push(await ctx.rest.create(ctx.body(id2)));
      w.push(await ctx.rest.put(id, ctx.body(id, { title: 't2' })));
      w.push(await ctx.rest.del(id2));
      w.push(await ctx.rest.patch(id, { content: 'c3' }));
      const from = w[0].position;
      const s = how === 'header'
        ? await ctx.sse(`${ctx.tablePath}?stream=sse`, { headers: { 'Last-Event-ID': String(from) } })
        : await ctx.sse(`${ctx.tablePath}?stream=sse&lastEventId=${from}`);
      await expectConnected(s);
      const names = ['update', 'update', 'update', 'delete', 'update'];
      for (let i = 1; i < w.length; i++) {
        const ev = await s.next();
        assert(!(ev.type === 'message'), `a notice on a resumed subscription: ${describe(ev)}`);
        expectSseEvent(ev, {
          name: names[i], position: w[i].position,
          ...(names[i] === 'delete' ? { raw: JSON.stringify({ id: id2 }) } : { data: w[i].json() }),
        }, `replayed entry ${i}`);
      }
      eq(w[w.length - 1].position - from, w.length - 1, 'positions of the writes are contiguous (single writer)');
      const live = await ctx.rest.patch(id, { title: 'live' });
      expectSseEvent(await s.next(), { name: 'update', position: live.position, data: live.json() }, 'live after replay');
      eq((await s.drain(100)).map(describe), [], 'events after the live one');
    });
  }

  suite.add('sse.resume.reconnect-like-eventsource', POS, async (ctx) => {
    // An EventSource reads some events, loses the connection, and comes back
    // with the last id it processed: it must get exactly what it missed.
    const ids = [ctx.newId(), ctx.newId()];
    const first = await ctx.sse(`${ctx.tablePath}?stream=sse&retained=true`);
    await readPreamble(first);
    const w = [];
    for (let i = 0; i < 5; i++) w.push(await ctx.rest.put(ids[i % 2], ctx.body(ids[i % 2], { title: `v${i}` })));
    await first.next();
    const seen = await first.next();
    expectSseEvent(seen, { name: 'update', position: w[1].position, data: w[1].json() }, 'second event before the drop');
    first.close();
    for (let i = 5; i < 8; i++) w.push(await ctx.rest.put(ids[i % 2], ctx.body(ids[i % 2], { title: `v${i}` })));
    const again = await ctx.sse(`${ctx.tablePath}?stream=sse&retained=true`, { headers: { 'Last-Event-ID': seen.lastEventId } });
    await expectConnected(again);
    for (let i = 2; i < 8; i++) {
      const ev = await again.next();
      assert(ev.type !== 'message', `a notice on a resumed subscription (retained=true does not apply when resuming): ${describe(ev)}`);
      expectSseEvent(ev, { name: 'update', position: w[i].position, data: w[i].json() }, `missed write ${i}`);
    }
    eq((await again.drain(100)).map(describe), [], 'events after the missed ones');
  });

  suite.add('sse.resume.record-topic', POS, async (ctx) => {
    const a = ctx.newId('a');
    const b = ctx.newId('b');
    const w0 = await ctx.rest.create(ctx.body(a));
    await ctx.rest.create(ctx.body(b));
    const wa1 = await ctx.rest.patch(a, { title: 'a1' });
    await ctx.rest.patch(b, { title: 'b1' });
    const wa2 = await ctx.rest.del(a);
    await ctx.rest.del(b);
    const s = await ctx.sse(`${ctx.recordPath(a)}?stream=sse`, { headers: { 'Last-Event-ID': String(w0.position) } });
    await expectConnected(s);
    expectSseEvent(await s.next(), { name: 'update', position: wa1.position, data: wa1.json() }, 'its update');
    expectSseEvent(await s.next(), { name: 'delete', position: wa2.position, raw: JSON.stringify({ id: a }) }, 'its delete');
    const wa3 = await ctx.rest.create(ctx.body(a, { title: 'reborn' }));
    expectSseEvent(await s.next(), { name: 'update', position: wa3.position, data: wa3.json() }, 'created again, live');
    eq((await s.drain(100)).map(describe), [], 'events of the other record');
  });

  suite.add('sse.topics.case-and-encoded-ids', TOP, async (ctx) => {
    const id = `${ctx.newId('x')} é ü?#`; // an encoded '/' is refused (docs/HTTP.md bad_path)
    const w = await ctx.rest.put(id, ctx.body(id));
    eq(w.json().id, id, 'PUT with an encoded id');
    const upper = await ctx.sse(`/${ctx.app}/${ctx.table.toUpperCase()}/${encodeURIComponent(id)}?stream=sse`);
    const p = await readPreamble(upper);
    eq(p.retained.map((r) => [r.id, r.data]), [[id, w.json()]], 'retained record through an upper-case table name and an encoded id');
    const t = await ctx.sse(`/${ctx.app}/${ctx.table.toUpperCase()}?stream=sse`);
    await expectConnected(t);
    const w2 = await ctx.rest.patch(id, { title: 'encoded' });
    expectSseEvent(await upper.next(), { name: 'update', position: w2.position, data: w2.json() }, 'record stream');
    expectSseEvent(await t.next(), { name: 'update', position: w2.position, data: w2.json() }, 'upper-case table stream');
  });

  suite.add('sse.resume.header-wins-over-query', POS, async (ctx) => {
    const id = ctx.newId();
    const w1 = await ctx.rest.create(ctx.body(id));
    const w2 = await ctx.rest.patch(id, { title: '2' });
    const w3 = await ctx.rest.patch(id, { title: '3' });
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse&lastEventId=${w1.position}`, { headers: { 'Last-Event-ID': String(w2.position) } });
    await expectConnected(s);
    expectSseEvent(await s.next(), { name: 'update', position: w3.position, data: w3.json() }, 'first event (after the header position)');
  });

  suite.add('sse.resume.spaces-around-position', POS, async (ctx) => {
    const id = ctx.newId();
    const w1 = await ctx.rest.create(ctx.body(id));
    const w2 = await ctx.rest.patch(id, { title: '2' });
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse&lastEventId=%20${w1.position}%20`);
    await expectConnected(s);
    const ev = await s.next();
    expectSseEvent(ev, { name: 'update', position: w2.position, data: w2.json() }, 'resumed from " N "');
  });

  suite.add('sse.resume.during-writes', POS, async (ctx) => {
    const from = await ctx.head();
    const burst = writeBurst(ctx, 40);
    await sleep(15);
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`, { headers: { 'Last-Event-ID': String(from) } });
    const writes = await burst;
    const to = writes[writes.length - 1].position;
    await expectConnected(s);
    const events = [];
    while (events.length === 0 || Number(events[events.length - 1].id) < to) events.push(await s.next());
    expectContiguous(events, from + 1, to, new Map(writes.map((w) => [w.position, w])), 'resumed during a burst');
    eq((await s.drain(100)).map(describe), [], 'events after the burst');
    return `${events.length} events ${from + 1}..${to}`;
  });

  suite.add('sse.retained.during-writes', RET, async (ctx) => {
    const burst = writeBurst(ctx, 40);
    await sleep(15);
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse&retained=true`);
    const writes = await burst;
    const to = writes[writes.length - 1].position;
    const p = await readPreamble(s);
    const state = new Map(p.retained.map((r) => [r.id, r.data]));
    const events = [];
    while (p.synced.position < to && (events.length === 0 || Number(events[events.length - 1].id) < to)) events.push(await s.next());
    expectContiguous(events, p.synced.position + 1, to, new Map(writes.map((w) => [w.position, w])), 'live after the snapshot');
    for (const e of events) state.set(e.json.id, e.json);
    for (const id of new Set(writes.map((w) => w.id))) {
      const final = writes.filter((w) => w.id === id).pop().record;
      eq(state.get(id), final, `snapshot + live events rebuild ${id}`);
    }
    return `snapshot at ${p.synced.position}, ${events.length} live events to ${to}`;
  });

  const malformed = ['abc', '-1', '007', '1.5', '18446744073709551616', '99999999999999999999999999', '+5', '0x10'];
  for (const bad of malformed) {
    suite.add(`sse.reset.malformed ${JSON.stringify(bad)}`, POS, async (ctx) => {
      const id = ctx.newId();
      await ctx.rest.create(ctx.body(id));
      const s = await ctx.sse(`${ctx.tablePath}?stream=sse`, { headers: { 'Last-Event-ID': bad } });
      const p = await readPreamble(s, { reset: ['unknown', 'expired'] });
      assert(p.retained.some((r) => r.id === id), 'the retained snapshot after a reset lacks a record of ours');
      const w = await ctx.rest.patch(id, { title: 'after reset' });
      expectSseEvent(await s.next(), { name: 'update', position: w.position, data: w.json() }, 'live after reset');
      return `reset ${show(p.reset)}, ${p.retained.length} retained`;
    });
  }

  // As ws.subscribe.empty-lastEventId: accepted either way, reported.
  suite.add('sse.resume.empty-last-event-id', POS, async (ctx) => {
    const id = ctx.newId();
    await ctx.rest.create(ctx.body(id));
    const seen = [];
    for (const [how, path, headers] of [
      ['header ""', `${ctx.recordPath(id)}?stream=sse`, { 'Last-Event-ID': '' }],
      ['query ""', `${ctx.recordPath(id)}?stream=sse&lastEventId=`, {}],
      ['query " "', `${ctx.recordPath(id)}?stream=sse&lastEventId=%20`, {}],
    ]) {
      const s = await ctx.sse(path, { headers });
      await expectConnected(s);
      const ev = await s.next();
      s.cursor = 0;  // read it again, from connected
      const reset = ev.json?.type === 'reset';
      const p = await readPreamble(s, reset ? { reset: ['unknown'] } : {});
      eq(p.retained.map((r) => r.id), [id], `retained for ${how}`);
      seen.push(`${how}: ${reset ? 'reset' : 'treated as absent'}`);
      s.close();
    }
    return `${seen.join('; ')} — STREAMS.md does not say`;
  });

  suite.add('sse.reset.malformed-query-on-record', POS, async (ctx) => {
    const id = ctx.newId();
    const c = await ctx.rest.create(ctx.body(id));
    const s = await ctx.sse(`${ctx.recordPath(id)}?stream=sse&lastEventId=abc`);
    const p = await readPreamble(s, { reset: ['unknown', 'expired'] });
    eq(p.retained.map((r) => r.id), [id], 'retained after the reset');
    eq(p.retained[0].data, c.json(), 'retained data');
  });

  suite.add('sse.reset.unknown-ahead-of-log', POS, async (ctx) => {
    const id = ctx.newId();
    await ctx.rest.create(ctx.body(id));
    const head = await ctx.head();
    for (const ahead of [String(head + 1000), '18446744073709551615']) {
      const s = await ctx.sse(`${ctx.tablePath}?stream=sse`, { headers: { 'Last-Event-ID': ahead } });
      const p = await readPreamble(s, { reset: ['unknown'] });
      assert(p.retained.some((r) => r.id === id), `no retained snapshot after reset for ${ahead}`);
      eq(p.synced.position, head, `synced position for ${ahead}`);
      s.close();
    }
  });

  suite.add('sse.resume.zero', POS, async (ctx) => {
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`, { headers: { 'Last-Event-ID': '0' } });
    await expectConnected(s);
    const ev = await s.next();
    if (ev.type === 'message' && ev.json?.type === 'reset') {
      eq(ev.json.reason, 'expired', 'reset reason for 0 when the log start is not retained');
      return 'position 1 is no longer retained (reset expired)';
    }
    eq(ev.id, '1', 'first entry after position 0');
  });

  suite.add('sse.ping', SSE, async (ctx) => {
    if (!ctx.pingMs) throw new Skip('pass --ping-ms N when the server runs with streams.sse_ping_ms: N');
    const id = ctx.newId();
    await ctx.rest.create(ctx.body(id));
    const s = await ctx.sse(`${ctx.recordPath(id)}?stream=sse`);
    const p = await readPreamble(s);
    await sleep(ctx.pingMs * 3 + 150);
    const pings = s.events.filter((e) => e.type === 'ping');
    assert(pings.length >= 2, `${pings.length} pings in ${ctx.pingMs * 3 + 150} ms`);
    for (const e of pings) {
      eq(e.lines, ['event: ping', 'data: {"type":"ping"}'], 'a ping block');
      eq(e.lastEventId, String(p.synced.position), 'Last-Event-ID after a ping');
    }
    eq(s.events.filter((e) => e.type !== 'ping').length, 3, 'only pings after synced');
    return `${pings.length} pings`;
  }, { timeoutMs: 10000 });

  suite.add('sse.http-errors', 'SPEC.md 12', async (ctx) => {
    const a = await ctx.sse(`/no-such-app-${ctx.run}/${ctx.table}?stream=sse`, { expectStatus: null });
    eq(a.status, 404, 'unknown app status');
    const t = await ctx.sse(`/${ctx.app}/no_such_table_${ctx.run}?stream=sse`, { expectStatus: null });
    eq(t.status, 404, 'unknown table status');
    return 'sse_disabled (404) is not testable on the demo app: SSE is on for every table';
  });
}
