// The seed documents' literal curl sessions (shared/seeds 000 and 002),
// adapted to the base URL and to SPEC.md: the SSE `id:` carries the entry's
// position, not the record id the "Yeti" document shows (SPEC.md 6), and the
// connected notice carries a position. Record ids get this run's prefix so the
// suite can run again on the same data.

import { assert, eq, show, Skip } from '../lib/harness.mjs';
import { request } from '../lib/http.mjs';
import { SseStream } from '../lib/sse.mjs';
import { expectConnected, readPreamble, sleep } from './common.mjs';

const DOC = 'SPEC.md 6 (seed form)';

// The exact lines of an event block as SPEC.md writes them: event, id, data.
function expectBlock(ev, name, position, what) {
  eq(ev.lines, [`event: ${name}`, `id: ${position}`, `data: ${ev.data}`], `${what}: the block's lines`);
}

export function addSeedChecks(suite) {
  // 000: Terminal 1 subscribes to the table, terminal 2 POSTs, terminal 1 shows it.
  suite.add('seed000.quick-example', DOC, async (ctx) => {
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`);
    const head = await ctx.head();
    const c = await expectConnected(s);
    eq(s.blocks[1], ['event: message', `data: {"type":"connected","status":"ok","position":${head}}`], 'the connected block, byte for byte');
    eq(c.position, head, 'connected position');
    const id = `${ctx.newId('msg-1')}`;
    const seed = { id, title: 'Hello', content: 'Real-time works!' };
    const post = await request(ctx.base, {
      method: 'POST', path: ctx.tablePath, headers: { 'Content-Type': 'application/json' },
      body: `{"id": "${id}", "title": "Hello", "content": "Real-time works!"}`,
    });
    eq(post.status, 201, 'POST status');
    const position = Number(post.headers['event-position']);
    const ev = await s.next();
    eq(ev.type, 'update', 'event name');
    expectBlock(ev, 'update', position, 'update');
    assert(ev.id !== id, 'the id: field carries the record id (SPEC.md 6 puts the position there)');
    for (const [k, v] of Object.entries(seed)) eq(ev.json[k], v, `data.${k}`);
    eq(ev.json, post.json(), 'event data vs the POST answer');
    const get = await ctx.rest.get(id);
    eq(get.status, 200, 'GET after the POST');
    eq(get.json(), post.json(), 'GET vs POST');
    return `event: update / id: ${position} / data: ${ev.data.slice(0, 80)}…`;
  });

  // 002 "Testing": listen on the table (curl --max-time 60), POST test-1.
  suite.add('seed002.testing-session', DOC, async (ctx) => {
    const s = await ctx.sse(`${ctx.tablePath}?stream=sse`);
    await expectConnected(s);
    const id = ctx.newId('test-1');
    const post = await request(ctx.base, {
      method: 'POST', path: ctx.tablePath, headers: { 'Content-Type': 'application/json' },
      body: `{"id":"${id}","title":"Live","content":"SSE is working"}`,
    });
    eq(post.status, 201, 'POST status');
    const ev = await s.next();
    expectBlock(ev, 'update', Number(post.headers['event-position']), 'update');
    eq([ev.json.id, ev.json.title, ev.json.content], [id, 'Live', 'SSE is working'], 'data fields');
  });

  // 002 "Record-Level Subscriptions" and "Event Types": message on connect,
  // update on POST and PUT, delete on DELETE, on the record's own stream.
  suite.add('seed002.record-level-event-types', DOC, async (ctx) => {
    const id = ctx.newId('msg-1');
    const s = await ctx.sse(`${ctx.recordPath(id)}?stream=sse`);
    const p = await readPreamble(s);
    eq(p.retained, [], 'retained state of a record not yet created');
    const post = await request(ctx.base, { method: 'POST', path: ctx.tablePath, body: `{"id":"${id}","title":"Hello","content":"World"}` });
    eq(post.status, 201, 'POST');
    const put = await request(ctx.base, { method: 'PUT', path: ctx.recordPath(id), body: '{"title":"Hello again","content":"World"}' });
    eq(put.status, 200, 'PUT');
    const del = await request(ctx.base, { method: 'DELETE', path: ctx.recordPath(id) });
    eq(del.status, 200, 'DELETE');
    const e1 = await s.next();
    expectBlock(e1, 'update', Number(post.headers['event-position']), 'POST');
    const e2 = await s.next();
    expectBlock(e2, 'update', Number(put.headers['event-position']), 'PUT');
    eq(e2.json.title, 'Hello again', 'PUT data');
    const e3 = await s.next();
    expectBlock(e3, 'delete', Number(del.headers['event-position']), 'DELETE');
    eq(e3.data, `{"id":"${id}"}`, 'delete data, byte for byte');
    const tail = s.body.slice(s.body.lastIndexOf('event: delete'));
    eq(tail, `event: delete\nid: ${del.headers['event-position']}\ndata: {"id":"${id}"}\n\n`, 'the delete event\'s bytes');
  });

  // 002 "GraphQL Subscriptions": the seed's curl session (graphql-sse,
  // distinct connections; docs/GRAPHQL.md): `event: next` with the position
  // as `id:` and only the selected fields, in selection order.
  suite.add('seed002.graphql-subscription', 'SPEC.md 6 GraphQL subscriptions over SSE', async (ctx) => {
    const s = ctx.track(await SseStream.open(ctx.base, `/${ctx.app}/graphql`, {
      method: 'POST',
      headers: { Accept: 'text/event-stream', 'Content-Type': 'application/json' },
      body: `{"query": "subscription { ${ctx.table} { id title content } }"}`,
    }));
    assert((s.headers['content-type'] ?? '').startsWith('text/event-stream'),
      `a stream (answered ${s.status} ${show(s.body.slice(0, 120))})`);
    await sleep(100);
    const id = ctx.newId('gql');
    const post = await request(ctx.base, {
      method: 'POST', path: ctx.tablePath, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id, title: 'Live', content: 'SSE is working', author: 'ann' }),
    });
    eq(post.status, 201, 'POST');
    const ev = await s.next();
    expectBlock(ev, 'next', Number(post.headers['event-position']), 'the next event');
    eq(ev.data, `{"data":{"${ctx.table}":{"id":"${id}","title":"Live","content":"SSE is working"}}}`,
      'only the selected fields, in selection order');
  });

  // SPEC.md 6: a query naming an unknown table or field answers 400 with the
  // GraphQL errors array.
  suite.add('graphql.errors', 'SPEC.md 6 GraphQL subscriptions over SSE', async (ctx) => {
    for (const query of ['subscription { nosuchtable { id } }', `subscription { ${ctx.table} { id nosuchfield } }`]) {
      const r = await request(ctx.base, {
        method: 'POST', path: `/${ctx.app}/graphql`,
        headers: { Accept: 'text/event-stream', 'Content-Type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      eq(r.status, 400, query);
      const body = JSON.parse(r.body);
      assert(Array.isArray(body.errors) && body.errors.length > 0 && typeof body.errors[0].message === 'string',
        `an errors array: ${show(r.body)}`);
      assert(Array.isArray(body.errors[0].locations), `the error has locations: ${show(r.body)}`);
    }
  });
}
