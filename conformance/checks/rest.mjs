// REST checks, over whichever transport the run uses (HTTP/1.1, or HTTP/2
// with --http2): every method on a record and a table, the headers of a
// write and a read (Event-Position, ETag, Location, Content-Length), HEAD,
// OPTIONS, the error answers of docs/HTTP.md "Errors", and the static files'
// ETag and 304 (with --web APP). SPEC.md sections 4, 5 and 12.

import { CheckError, assert, eq, show, Skip } from '../lib/harness.mjs';
import { pipelined, request } from '../lib/http.mjs';
import zlib from 'node:zlib';

const REST = 'SPEC.md 4 REST';
const ERR = 'HTTP.md Errors';
const STATIC = 'HTTP.md Static files';

// The body is exactly what Content-Length says.
function expectLength(r, what) {
  const cl = r.headers['content-length'];
  assert(cl !== undefined, `${what}: no content-length`);
  eq(Number(cl), r.body.length, `${what}: content-length vs the body's bytes`);
}

function expectJson(r, status, what) {
  eq(r.status, status, `${what}: status (${show(r.text.slice(0, 160))})`);
  eq(r.headers['content-type'], 'application/json', `${what}: content-type`);
  expectLength(r, what);
  return r.json();
}

// The canonical error body, SPEC.md 5: {"error":{"code","message"[,"field"]}}.
function expectError(r, status, code, what) {
  const j = expectJson(r, status, what);
  eq(j?.error?.code, code, `${what}: error.code (${show(r.text.slice(0, 200))})`);
  assert(typeof j.error.message === 'string' && j.error.message.length > 0, `${what}: error.message ${show(j.error.message)}`);
  // RFC 9110 15.5.6: a 405 names the methods the resource does take.
  if (status === 405) assert(/^[A-Z]+(, [A-Z]+)*$/.test(r.headers.allow ?? ''), `${what}: 405 without an Allow header (${show(r.headers.allow)})`);
  return j.error;
}

function positionOf(r, what) {
  const p = Number(r.headers['event-position']);
  assert(Number.isInteger(p) && p > 0, `${what}: Event-Position ${show(r.headers['event-position'])}`);
  return p;
}

export function addRestChecks(suite) {
  suite.add('rest.methods', REST, async (ctx) => {
    const id = ctx.newId('m');
    const json = { 'Content-Type': 'application/json' };
    const post = await request(ctx.base, { method: 'POST', path: ctx.tablePath, headers: json, body: ctx.body(id, { author: 'cf' }) });
    const created = expectJson(post, 201, 'POST');
    eq([created.id, created.title, created.author], [id, `title of ${id}`, 'cf'], 'POST: the record');
    const p1 = positionOf(post, 'POST');
    eq(post.headers.etag, `"${p1}"`, 'POST: ETag is the position');
    assert(/^(fsync|batch|none|jetstream;replicas=\d+)$/.test(post.headers['event-durability'] ?? ''), `POST: Event-Durability ${show(post.headers['event-durability'])}`);
    eq(post.headers.location, ctx.recordPath(id), 'POST: Location');

    const get = await request(ctx.base, { path: ctx.recordPath(id) });
    eq(expectJson(get, 200, 'GET'), created, 'GET: the record as the POST answered it');
    eq(get.headers.etag, `"${p1}"`, 'GET: ETag (the position of the write that produced it)');
    eq(positionOf(get, 'GET'), p1, 'GET: Event-Position');

    const put = await request(ctx.base, { method: 'PUT', path: ctx.recordPath(id), headers: json, body: { title: 'replaced', content: 'new' } });
    const replaced = expectJson(put, 200, 'PUT');
    eq([replaced.id, replaced.title, replaced.content, 'author' in replaced], [id, 'replaced', 'new', false], 'PUT replaces the record');
    const p2 = positionOf(put, 'PUT');
    eq(p2, p1 + 1, 'PUT: position (single writer)');
    eq(put.headers.etag, `"${p2}"`, 'PUT: ETag');

    const patch = await request(ctx.base, { method: 'PATCH', path: ctx.recordPath(id), headers: json, body: { content: 'patched' } });
    const merged = expectJson(patch, 200, 'PATCH');
    eq([merged.title, merged.content], ['replaced', 'patched'], 'PATCH merges');
    eq(positionOf(patch, 'PATCH'), p2 + 1, 'PATCH: position');

    const list = await request(ctx.base, { path: `${ctx.tablePath}?id=${encodeURIComponent(id)}` });
    eq(expectJson(list, 200, 'GET list'), [merged], 'GET list filtered by id');
    eq(positionOf(list, 'GET list'), p2 + 1, 'GET list: Event-Position of the projection');

    const del = await request(ctx.base, { method: 'DELETE', path: ctx.recordPath(id) });
    eq(del.status, 200, `DELETE: status ${show(del.text)}`);
    expectLength(del, 'DELETE');
    eq(positionOf(del, 'DELETE'), p2 + 2, 'DELETE: position');

    expectError(await request(ctx.base, { path: ctx.recordPath(id) }), 404, 'not_found', 'GET after DELETE');
    expectError(await request(ctx.base, { method: 'PATCH', path: ctx.recordPath(id), headers: json, body: { content: 'x' } }), 404, 'not_found', 'PATCH after DELETE');
    expectError(await request(ctx.base, { method: 'DELETE', path: ctx.recordPath(id) }), 404, 'not_found', 'DELETE after DELETE');
    const again = await request(ctx.base, { method: 'PUT', path: ctx.recordPath(id), headers: json, body: ctx.body(id) });
    expectJson(again, 201, 'PUT creating the record again');
    return `positions ${p1}..${positionOf(again, 'PUT again')}`;
  });

  suite.add('rest.head', 'RFC 9110 9.3.2; HTTP.md', async (ctx) => {
    const id = ctx.newId('h');
    await ctx.rest.create(ctx.body(id));
    const get = await request(ctx.base, { path: ctx.recordPath(id) });
    const head = await request(ctx.base, { method: 'HEAD', path: ctx.recordPath(id) });
    eq(head.status, 200, 'HEAD of a record: status');
    eq(head.body.length, 0, 'HEAD of a record: no body');
    eq(head.headers['content-length'], String(get.body.length), "HEAD of a record: content-length is the GET's");
    eq(head.headers.etag, get.headers.etag, 'HEAD of a record: ETag');
    eq(head.headers['content-type'], get.headers['content-type'], 'HEAD of a record: content-type');
    const listPath = `${ctx.tablePath}?id=${encodeURIComponent(id)}`;
    const listGet = await request(ctx.base, { path: listPath });
    const listHead = await request(ctx.base, { method: 'HEAD', path: listPath });
    eq([listHead.status, listHead.body.length], [200, 0], 'HEAD of a list: status, no body');
    eq(listHead.headers['content-length'], String(listGet.body.length), "HEAD of a list: content-length is the GET's");
    // An error answer to a HEAD has no body either (RFC 9110 9.3.2): over
    // HTTP/2 DATA on it is a stream error; over a kept-alive HTTP/1.1
    // connection the body would be read as the next answer.
    const missing = await request(ctx.base, { method: 'HEAD', path: ctx.recordPath(ctx.newId('none')) });
    eq(missing.status, 404, 'HEAD of a missing record: status');
    eq(missing.body.length, 0, 'HEAD of a missing record: no body');
    const table = await request(ctx.base, { method: 'HEAD', path: `/${ctx.app}/no_such_table_${ctx.run}` });
    eq([table.status, table.body.length], [404, 0], 'HEAD of an unknown table: status, no body');
  });

  // HTTP/1.1 framing: a HEAD's answer ends after its head, so the next
  // answer on a kept-alive connection starts right there.
  suite.add('rest.head-keep-alive', 'RFC 9110 9.3.2; RFC 9112 6.3', async (ctx) => {
    const { host } = new URL(ctx.base);
    const path = `${new URL(ctx.base).pathname.replace(/\/$/, '')}${ctx.recordPath(ctx.newId('none'))}`;
    const raw = `HEAD ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
      `HEAD /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    let r;
    try {
      r = await pipelined(ctx.base, raw, { heads: [0, 1] });
    } catch (e) {
      throw new CheckError(`the answers after a HEAD do not parse (a body after the HEAD's head?): ${e.message}`);
    }
    eq(r.map((x) => x.status), [404, 200, 200], 'statuses of HEAD (missing), HEAD, GET on one connection');
    eq(r[2].json()?.status, 'ok', 'the GET after the HEADs');
  });

  suite.add('rest.options', 'HTTP.md', async (ctx) => {
    const t = await request(ctx.base, { method: 'OPTIONS', path: ctx.tablePath });
    eq(t.status, 204, 'OPTIONS on a table: status');
    eq(t.body.length, 0, 'OPTIONS: no body');
    assert(!('content-length' in t.headers) || t.headers['content-length'] === '0', `a 204 with content-length ${t.headers['content-length']}`);
    eq(t.headers.allow, 'GET, HEAD, POST, OPTIONS', 'allow on a table');
    const r = await request(ctx.base, { method: 'OPTIONS', path: ctx.recordPath(ctx.newId()) });
    eq([r.status, r.headers.allow], [204, 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS'], 'OPTIONS on a record');
  });

  suite.add('rest.errors', ERR, async (ctx) => {
    const json = { 'Content-Type': 'application/json' };
    const head = await ctx.head();
    const id = ctx.newId('e');
    await ctx.rest.create(ctx.body(id));
    const cases = [
      [{ path: `/no-such-app-${ctx.run}/${ctx.table}` }, 404, 'unknown_app'],
      [{ path: `/${ctx.app}/no_such_table_${ctx.run}` }, 404, 'unknown_table'],
      [{ path: ctx.recordPath(ctx.newId('none')) }, 404, 'not_found'],
      [{ method: 'POST', path: ctx.tablePath, headers: json, body: '{"id": "x", ' }, 400, 'invalid_json'],
      [{ method: 'POST', path: ctx.tablePath, headers: json, body: { id: ctx.newId('v'), content: 'no title' } }, 400, 'validation_failed', 'title'],
      [{ method: 'POST', path: ctx.tablePath, headers: json, body: ctx.body(id) }, 409, 'conflict'],
      [{ method: 'PUT', path: ctx.recordPath(id), headers: json, body: ctx.body(`${id}-other`) }, 400, 'id_mismatch'],
      [{ method: 'POST', path: ctx.tablePath, headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(ctx.body(ctx.newId('t'))) }, 415, 'unsupported_media_type'],
      [{ method: 'DELETE', path: ctx.tablePath }, 405, 'method_not_allowed'],
      [{ method: 'POST', path: ctx.recordPath(id), headers: json, body: ctx.body(id) }, 405, 'method_not_allowed'],
      [{ path: `${ctx.tablePath}?limit=0` }, 400, 'bad_parameter', 'limit'],
      [{ path: `${ctx.tablePath}?no_such_field=1` }, 400, 'unknown_field', 'no_such_field'],
      [{ path: `${ctx.tablePath}/a%zz` }, 400, 'bad_path'],
      [{ path: `${ctx.tablePath}?x=%zz` }, 400, 'bad_query'],
      [{ method: 'GET', path: `/${ctx.app}/graphql` }, 405, 'method_not_allowed'],
      [{ method: 'POST', path: `/${ctx.app}/graphql`, headers: json, body: '{"query":"subscription { x { id } }"}' }, 406, 'not_acceptable'],
    ];
    for (const [req, status, code, field] of cases) {
      const what = `${req.method ?? 'GET'} ${req.path}`;
      const e = expectError(await request(ctx.base, req), status, code, what);
      if (field !== undefined) eq(e.field, field, `${what}: error.field`);
    }
    eq(await ctx.head(), head + 1, 'only the setup write was logged');
    return `${cases.length} error answers`;
  });

  suite.add('rest.static-etag-304', STATIC, async (ctx) => {
    if (!ctx.web) throw new Skip('pass --web APP when APP serves static files (run-local.sh writes them)');
    const app = ctx.web;
    const redirect = await request(ctx.base, { path: `/${app}` });
    eq([redirect.status, redirect.headers.location], [301, `/${app}/`], `/${app} redirects to /${app}/`);
    const index = await request(ctx.base, { path: `/${app}/` });
    eq(index.status, 200, 'index: status');
    expectLength(index, 'index');
    assert((index.headers['content-type'] ?? '').startsWith('text/html'), `index: content-type ${show(index.headers['content-type'])}`);
    eq(index.headers['cache-control'], 'no-cache', 'index: cache-control');
    const etag = index.headers.etag;
    assert(/^"[^"]+"$/.test(etag ?? ''), `index: a strong ETag, got ${show(etag)}`);
    const same = await request(ctx.base, { path: `/${app}/`, headers: { 'If-None-Match': etag } });
    eq([same.status, same.body.length, same.headers.etag], [304, 0, etag], 'If-None-Match with the ETag: 304, no body, the ETag');
    const other = await request(ctx.base, { path: `/${app}/`, headers: { 'If-None-Match': '"not-it"' } });
    eq([other.status, other.text], [200, index.text], 'If-None-Match with another ETag: the file');

    const plain = await request(ctx.base, { path: `/${app}/app.js` });
    eq(plain.status, 200, 'app.js: status');
    expectLength(plain, 'app.js');
    const gz = await request(ctx.base, { path: `/${app}/app.js`, headers: { 'Accept-Encoding': 'gzip' } });
    eq([gz.status, gz.headers['content-encoding'], gz.headers.vary], [200, 'gzip', 'accept-encoding'], 'app.js gzip: status, content-encoding, vary');
    expectLength(gz, 'app.js gzip');
    eq(zlib.gunzipSync(gz.body).toString('utf8'), plain.text, 'the gzip copy inflates to the file');
    assert(gz.headers.etag !== plain.headers.etag, 'the gzip copy has its own ETag');
    const gz304 = await request(ctx.base, { path: `/${app}/app.js`, headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag } });
    eq([gz304.status, gz304.body.length], [304, 0], 'If-None-Match with the gzip ETag: 304');
    const head = await request(ctx.base, { method: 'HEAD', path: `/${app}/app.js` });
    eq([head.status, head.body.length, head.headers['content-length'], head.headers.etag],
      [200, 0, String(plain.body.length), plain.headers.etag], 'HEAD app.js: no body, the length and ETag of the GET');
    return `index ${etag}, app.js ${plain.body.length} bytes, ${gz.body.length} gzipped`;
  });

  suite.add('server.metrics', 'SPEC.md 12 (/metrics)', async (ctx) => {
    const r = await request(ctx.base, { path: '/metrics' });
    eq(r.status, 200, '/metrics status');
    expectLength(r, '/metrics');
    assert((r.headers['content-type'] ?? '').startsWith('text/plain'), `/metrics content-type ${show(r.headers['content-type'])}`);
    const m = /^eventide_protocol_connections\{protocol="(http\/1\.1|h2)"\} \d+$/m.exec(r.text);
    assert(m, 'no eventide_protocol_connections series');
    return `${r.body.length} bytes`;
  });
}
