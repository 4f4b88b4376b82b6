// The compatibility dialects: docs/DIALECTS.md, SPEC.md section 7, seeds 003
// (AYB) and 004 (SnackBase). They run only with --compat APP, an app whose
// tables `posts` (key id, title: String!, published: Boolean) and `comments`
// (key id, post_id: String, body: String!) have REST, SSE and WebSocket on,
// and which the server config names as compat_app.

import { assert, eq, includes, show, Skip } from '../lib/harness.mjs';
import { Rest, request } from '../lib/http.mjs';
import { SseStream } from '../lib/sse.mjs';
import { ISO_MS } from './common.mjs';

const AYB = 'DIALECTS.md AYB';
const SBW = 'DIALECTS.md SnackBase WebSocket';
const SBS = 'DIALECTS.md SnackBase SSE';
const POS = 'DIALECTS.md Positions';

function compat(ctx) {
  if (!ctx.compat) throw new Skip('pass --compat APP when the server runs with compat_app: APP');
  return {
    posts: new Rest(ctx.base, ctx.compat, 'posts'),
    comments: new Rest(ctx.base, ctx.compat, 'comments'),
  };
}

// A dialect's SSE stream, with its own framing checked as it is read: every
// event unnamed (no `event:` line, so an EventSource's `message`), one
// `data:` line of JSON, `id:` only on data events and `synced`, a `retry:`
// before the first event. Departures are thrown when the check ends.
async function openSse(ctx, path, headers = {}) {
  const s = ctx.track(await SseStream.open(ctx.base, path, { headers }));
  s.dialectViolations = [];
  const check = (ev) => {
    const where = JSON.stringify(ev.lines);
    if (s.events.indexOf(ev) === 0 && s.retries.length === 0) s.dialectViolations.push(`no retry: before ${where}`);
    if (ev.lines.some((l) => l.startsWith('event:'))) s.dialectViolations.push(`an event: line in ${where}`);
    if (ev.lines.filter((l) => l.startsWith('data:')).length !== 1) s.dialectViolations.push(`not one data: line in ${where}`);
    if (ev.json === undefined) s.dialectViolations.push(`data is not JSON in ${where}`);
    const positioned = isDataEvent(ev.json) || ev.json?.action === 'synced' || ev.json?.type === 'synced';
    if (positioned && ev.id === null) s.dialectViolations.push(`no id: on ${where}`);
    if (!positioned && ev.id !== null) s.dialectViolations.push(`an id: on ${where}`);
  };
  const push = s.events.push.bind(s.events);
  s.events.push = (ev) => { const n = push(ev); check(ev); return n; };
  for (const ev of s.events) check(ev);
  ctx.dialectStreams = [...(ctx.dialectStreams ?? []), s];
  return s;
}

function verifyDialectFraming(ctx) {
  for (const s of ctx.dialectStreams ?? []) {
    if (s.dialectViolations.length) throw new Error(`dialect SSE framing: ${s.dialectViolations.join('; ')}`);
  }
}

// A data event of either dialect (not a notice, not a retained record).
function isDataEvent(j) {
  if (!j || j.retained) return false;
  if (['create', 'update', 'delete'].includes(j.action)) return true;
  return typeof j.type === 'string' && /\.(create|update|delete)$/.test(j.type);
}

// Reads until `n` data events arrived; returns them.
async function dataEvents(s, n, timeoutMs = 3000) {
  const out = [];
  while (out.length < n) {
    const ev = await s.next(timeoutMs);
    if (isDataEvent(ev.json)) out.push(ev);
  }
  return out;
}

function post(ctx, tag = 'p') {
  const id = ctx.newId(tag);
  return { id, title: `title of ${id}`, published: true };
}

function comment(ctx, tag = 'c') {
  const id = ctx.newId(tag);
  return { id, post_id: 'p', body: `body of ${id}` };
}

export function addDialectChecks(suite) {
  const add = (name, doc, fn, o) => suite.add(name, doc, async (ctx) => {
    const d = await fn(ctx, compat(ctx));
    verifyDialectFraming(ctx);
    return d;
  }, o);

  add('dialects.ayb.connect', AYB, async (ctx) => {
    const head = await ctx.head();
    const s = await openSse(ctx, '/api/realtime?tables=posts');
    eq(s.status, 200, 'status');
    eq(s.headers['content-type'], 'text/event-stream', 'content-type');
    eq(s.headers['cache-control'], 'no-cache', 'cache-control');
    assert(!('content-length' in s.headers), 'no content-length on a stream');
    const ev = await s.next();
    eq(ev.type, 'message', 'the connected notice is unnamed');
    includes(ev.json, { action: 'connected', position: head }, 'connected');
    eq(ev.id, null, 'id: on connected');
    return `retry ${s.retryMs}`;
  });

  add('dialects.ayb.events', AYB, async (ctx, t) => {
    const s = await openSse(ctx, '/api/realtime?tables=posts');
    await s.next(); // connected
    const p = post(ctx);
    const c = await t.posts.create(p);
    const u = await t.posts.patch(p.id, { title: 'edited' });
    const d = await t.posts.del(p.id);
    const [e1, e2, e3] = await dataEvents(s, 3);
    eq(e1.json, { action: 'create', table: 'posts', record: c.json() }, 'create');
    eq(e1.id, String(c.position), 'create id: (its position)');
    eq(e2.json, { action: 'update', table: 'posts', record: u.json() }, 'update');
    eq(e2.id, String(u.position), 'update id:');
    eq(e3.json, { action: 'delete', table: 'posts', record: u.json() }, 'delete (the last state)');
    eq(e3.id, String(d.position), 'delete id:');
  });

  add('dialects.ayb.several-tables', `${AYB}; ${POS}`, async (ctx, t) => {
    const s = await openSse(ctx, '/api/realtime?tables=Posts,%20comments');
    eq(s.status, 200, 'status');
    await s.next();
    const want = [];
    for (let i = 0; i < 4; i++) {
      want.push((await t.posts.create(post(ctx))).position);
      want.push((await t.comments.create(comment(ctx))).position);
    }
    const got = await dataEvents(s, want.length);
    eq(got.map((e) => Number(e.id)), want, 'one id sequence over both tables, in order');
    eq(got.map((e) => e.json.table), ['posts', 'comments', 'posts', 'comments', 'posts', 'comments', 'posts', 'comments'], 'tables (canonical names)');
  });

  add('dialects.ayb.resume', `${AYB}; ${POS}`, async (ctx, t) => {
    const first = await t.posts.create(post(ctx));
    const want = [];
    for (let i = 0; i < 3; i++) {
      want.push((await t.comments.create(comment(ctx))).position);
      want.push((await t.posts.create(post(ctx))).position);
    }
    const s = await openSse(ctx, '/api/realtime?tables=posts,comments', { 'Last-Event-ID': String(first.position) });
    const got = await dataEvents(s, want.length);
    eq(got.map((e) => Number(e.id)), want, 'resumed from Last-Event-ID');
    const live = await t.posts.create(post(ctx));
    eq(Number((await dataEvents(s, 1))[0].id), live.position, 'then live');
    const q = await openSse(ctx, `/api/realtime?tables=posts,comments&lastEventId=${want[4]}`, { 'Last-Event-ID': String(want[3]) });
    const fromHeader = await dataEvents(q, 3);
    eq(fromHeader.map((e) => Number(e.id)), [want[4], want[5], live.position], 'the header wins over ?lastEventId');
  });

  add('dialects.ayb.retained', `${AYB}; DIALECTS.md Retained replay`, async (ctx, t) => {
    await t.posts.create(post(ctx));
    await t.comments.create(comment(ctx));
    const head = await ctx.head();
    const s = await openSse(ctx, '/api/realtime?tables=posts,comments&retained=true');
    await s.next(); // connected
    const retained = [];
    let ev = await s.next();
    while (ev.json?.retained) {
      eq(ev.json.action, 'create', 'a retained record looks like its create');
      retained.push(ev.json);
      ev = await s.next();
    }
    includes(ev.json, { action: 'synced', position: head }, 'synced after the retained records');
    eq(ev.id, String(head), 'synced id:');
    const list = async (rest) => (await request(ctx.base, { path: rest.url(undefined, '?limit=1000') })).json();
    const posts = await list(t.posts);
    const comments = await list(t.comments);
    if (posts.length < 1000 && comments.length < 1000) {
      eq(retained.map((r) => [r.table, r.record]), [...posts.map((r) => ['posts', r]), ...comments.map((r) => ['comments', r])],
        'the retained records: every post, then every comment (the REST lists)');
    }
  });

  add('dialects.ayb.reset', `${AYB}; ${POS}`, async (ctx) => {
    const head = await ctx.head();
    const s = await openSse(ctx, '/api/realtime?tables=posts', { 'Last-Event-ID': 'not-a-position' });
    eq(s.status, 200, 'a malformed id never fails the request');
    await s.next();
    const reset = await s.next();
    includes(reset.json, { action: 'reset', reason: 'unknown', position: head }, 'reset');
    const [synced] = await s.until((e) => e.json?.action === 'synced', 4000);
    eq(synced.json.position, head, 'synced position');
  });

  add('dialects.ayb.errors', AYB, async (ctx) => {
    const unknown = await request(ctx.base, { path: '/api/realtime?tables=posts,no_such_table' });
    eq(unknown.status, 404, 'unknown table');
    eq(unknown.json().error.code, 'unknown_table', 'code');
    assert(unknown.json().error.message.includes('no_such_table'), `the message names the table: ${unknown.text}`);
    const none = await request(ctx.base, { path: '/api/realtime' });
    eq(none.status, 400, 'no tables');
  });

  add('dialects.snackbase.ws.flow', SBW, async (ctx, t) => {
    const ws = await ctx.ws('/api/v1/realtime/ws');
    ws.send({ action: 'subscribe', collection: 'posts', operations: ['create', 'update'] });
    eq(await ws.nextJson(), { status: 'subscribed', collection: 'posts' }, 'subscribed');
    const p = post(ctx);
    const c = await t.posts.create(p);
    const u = await t.posts.patch(p.id, { published: false });
    await t.posts.del(p.id);
    const after = await t.posts.create(post(ctx));
    const m1 = await ws.nextJson();
    includes(m1, { type: 'posts.create', data: c.json(), seq: c.position }, 'create');
    assert(ISO_MS.test(m1.timestamp), `timestamp ${show(m1.timestamp)}`);
    includes(await ws.nextJson(), { type: 'posts.update', data: u.json(), seq: u.position }, 'update');
    includes(await ws.nextJson(), { type: 'posts.create', seq: after.position }, 'the delete is filtered out');
    ws.send({ action: 'ping' });
    eq(await ws.nextJson(), { type: 'pong' }, 'pong');
    ws.send({ action: 'subscribe', collection: 'no_such_collection' });
    includes(await ws.nextJson(), { type: 'error', code: 'unknown_collection' }, 'unknown collection');
    ws.send('{not json');
    includes(await ws.nextJson(), { type: 'error', code: 'invalid_json' }, 'invalid JSON');
    ws.send({ action: 'unsubscribe', collection: 'posts' });
    eq(await ws.nextJson(), { status: 'unsubscribed', collection: 'posts' }, 'unsubscribed');
    await t.posts.create(post(ctx));
    ws.send({ action: 'ping' });
    eq(await ws.nextJson(), { type: 'pong' }, 'nothing after unsubscribe');
  });

  add('dialects.snackbase.ws.resume', `${SBW}; ${POS}`, async (ctx, t) => {
    const first = await t.comments.create(comment(ctx));
    const want = [];
    for (let i = 0; i < 3; i++) want.push((await t.comments.create(comment(ctx))).position);
    const ws = await ctx.ws('/api/v1/realtime/ws');
    ws.send({ action: 'subscribe', collection: 'comments', lastEventId: String(first.position) });
    eq(await ws.nextJson(), { status: 'subscribed', collection: 'comments' }, 'subscribed');
    const got = [];
    for (let i = 0; i < want.length; i++) got.push((await ws.nextJson()).seq);
    eq(got, want, 'every entry after lastEventId');
    ws.send({ action: 'subscribe', collection: 'posts', lastEventId: 'x' });
    eq(await ws.nextJson(), { status: 'subscribed', collection: 'posts' }, 'subscribed');
    includes(await ws.nextJson(), { type: 'reset', collection: 'posts', reason: 'unknown' }, 'a bad position resets');
    const [synced] = await ws.untilJson((j) => j.type === 'synced', 4000);
    eq(synced.collection, 'posts', 'synced collection');
  });

  add('dialects.snackbase.sse', `${SBS}; ${POS}`, async (ctx, t) => {
    const s = await openSse(ctx, '/api/v1/realtime/subscribe?collection=posts&collection=comments');
    eq(s.status, 200, 'status');
    includes((await s.next()).json, { type: 'connected' }, 'connected');
    const a = await t.comments.create(comment(ctx));
    const b = await t.posts.create(post(ctx));
    const [ea, eb] = await dataEvents(s, 2);
    includes(ea.json, { type: 'comments.create', data: a.json(), seq: a.position }, 'comment event');
    eq(ea.id, String(a.position), 'id: = seq');
    includes(eb.json, { type: 'posts.create', seq: b.position }, 'post event');
    const c = await t.posts.create(post(ctx));
    const again = await openSse(ctx, '/api/v1/realtime/subscribe?collection=posts&collection=comments', { 'Last-Event-ID': String(a.position) });
    const resumed = await dataEvents(again, 2);
    eq(resumed.map((e) => e.json.seq), [b.position, c.position], 'resumed from Last-Event-ID');
    const unknown = await request(ctx.base, { path: '/api/v1/realtime/subscribe?collection=no_such_collection' });
    eq(unknown.status, 404, 'unknown collection');
    eq(unknown.json().error.code, 'unknown_collection', 'code');
  });

  add('dialects.metrics', 'DIALECTS.md Metrics', async (ctx) => {
    const s = await openSse(ctx, '/api/realtime?tables=posts');
    await s.next();
    const r = await request(ctx.base, { path: '/metrics' });
    const ayb = /eventide_subscribers\{dialect="ayb"\} (\d+)/.exec(r.text);
    const snackbase = /eventide_subscribers\{dialect="snackbase"\} (\d+)/.exec(r.text);
    assert(ayb && Number(ayb[1]) >= 1, `an ayb subscriber counted: ${ayb?.[0]}`);
    assert(snackbase, 'a snackbase series');
    return `${ayb[0]}; ${snackbase[0]}`;
  });
}
