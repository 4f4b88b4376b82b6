// A minimal HTTP/1.1 client over a raw socket. The suite does not use fetch
// for anything whose bytes it checks: it wants the status line and headers as
// sent, including the ones fetch hides (content-length on a stream, the
// refusal answers to a WebSocket handshake).

import net from 'node:net';

// Parses "HTTP/1.1 200 OK\r\nk: v\r\n..." (without the final blank line).
export function parseHead(text) {
  const lines = text.split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers = {};
  const rawHeaders = [];
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
    const name = line.slice(0, i).toLowerCase();
    const value = line.slice(i + 1).trim();
    rawHeaders.push([name, value]);
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { version: m[1], status: Number(m[2]), reason: m[3] ?? '', headers, rawHeaders };
}

// Decodes a complete chunked body; returns null while incomplete.
function dechunk(buf) {
  const parts = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(off, eol).toString('latin1').split(';')[0], 16);
    if (Number.isNaN(size)) throw new Error('bad chunk size');
    off = eol + 2;
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < off + size + 2) return null;
    parts.push(buf.subarray(off, off + size));
    off += size + 2;
  }
}

export function hostPort(base) {
  const u = new URL(base);
  if (u.protocol !== 'http:') throw new Error(`only http:// base URLs are supported (got ${base})`);
  return { host: u.hostname, port: Number(u.port || 80), prefix: u.pathname.replace(/\/$/, '') };
}

// Sends one request on a fresh connection (Connection: close) and resolves
// with {status, headers, rawHeaders, body (Buffer), text, json()}.
// `raw` (a string or Buffer) replaces the whole request when given.
export function request(base, { method = 'GET', path = '/', headers = {}, body, raw, timeoutMs = 5000 } = {}) {
  const { host, port, prefix } = hostPort(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let head = null;
    let bodyStart = 0;
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${method} ${path}: no complete answer in ${timeoutMs} ms`)), timeoutMs);
    function finish(err, value) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(value);
    }
    function tryComplete(ended) {
      if (!head) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) { if (ended) finish(new Error('connection closed before the response head')); return; }
        try { head = parseHead(buf.subarray(0, i).toString('latin1')); } catch (e) { finish(e); return; }
        bodyStart = i + 4;
      }
      const rest = buf.subarray(bodyStart);
      let bodyBuf = null;
      if (method === 'HEAD' || head.status === 204 || head.status === 304) bodyBuf = Buffer.alloc(0);
      else if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) bodyBuf = dechunk(rest);
      else if (head.headers['content-length'] !== undefined) {
        const n = Number(head.headers['content-length']);
        if (rest.length >= n) bodyBuf = rest.subarray(0, n);
      } else if (ended) bodyBuf = rest;
      if (bodyBuf === null) { if (ended) finish(new Error('connection closed mid-body')); return; }
      const text = bodyBuf.toString('utf8');
      finish(null, {
        ...head, body: bodyBuf, text,
        json() { return JSON.parse(text); },
      });
    }
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); tryComplete(false); });
    sock.on('end', () => tryComplete(true));
    sock.on('close', () => tryComplete(true));
    sock.on('error', (e) => finish(e));
    sock.on('connect', () => {
      if (raw !== undefined) { sock.write(raw); return; }
      // A Buffer is sent as it is (bytes that are not UTF-8, for the UTF-8 checks).
      const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const h = { Host: `${host}:${port}`, Connection: 'close', ...headers };
      if (b) {
        if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
        h['Content-Length'] = String(b.length);
      }
      let req = `${method} ${prefix}${path} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(h)) req += `${k}: ${v}\r\n`;
      req += '\r\n';
      sock.write(b ? Buffer.concat([Buffer.from(req, 'latin1'), b]) : Buffer.from(req, 'latin1'));
    });
  });
}

// The REST calls the suite makes for its own writes. Each returns the
// response with `position` (the Event-Position header as a BigInt-free Number;
// positions in a test run stay far below 2^53).
export class Rest {
  constructor(base, app, table) {
    this.base = base;
    this.app = app;
    this.table = table;
  }
  url(id, query = '') {
    return `/${this.app}/${this.table}${id === undefined ? '' : `/${encodeURIComponent(id)}`}${query}`;
  }
  async write(method, id, body, expectStatus) {
    const r = await request(this.base, { method, path: this.url(id), body });
    const pos = r.headers['event-position'];
    r.position = pos === undefined ? undefined : Number(pos);
    if (expectStatus !== undefined) {
      const ok = Array.isArray(expectStatus) ? expectStatus.includes(r.status) : r.status === expectStatus;
      if (!ok) throw new Error(`${method} ${this.url(id)} answered ${r.status} ${r.text.slice(0, 200)} (wanted ${expectStatus})`);
      if (r.status < 300 && !Number.isInteger(r.position)) throw new Error(`${method} ${this.url(id)}: no Event-Position header`);
    }
    return r;
  }
  create(body) { return this.write('POST', undefined, body, 201); }
  put(id, body) { return this.write('PUT', id, body, [200, 201]); }
  patch(id, body) { return this.write('PATCH', id, body, 200); }
  del(id) { return this.write('DELETE', id, undefined, 200); }
  get(id) { return request(this.base, { path: this.url(id) }); }
}

// Sends `raw` (several pipelined requests, the last with Connection: close)
// on one connection and resolves with every response, in order, once the
// server closes: [{status, headers, text, json()}]. `heads`: indexes of HEAD
// requests (their answers carry no body).
export function pipelined(base, raw, { heads = [], timeoutMs = 5000 } = {}) {
  const { host, port } = hostPort(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no close within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('connect', () => sock.write(raw));
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const out = [];
      let off = 0;
      while (off < buf.length) {
        const i = buf.indexOf('\r\n\r\n', off);
        if (i < 0) break;
        const head = parseHead(buf.subarray(off, i).toString('latin1'));
        const n = heads.includes(out.length) ? 0 : Number(head.headers['content-length'] ?? 0);
        const text = buf.subarray(i + 4, i + 4 + n).toString('utf8');
        out.push({ ...head, text, json() { return JSON.parse(text); } });
        off = i + 4 + n;
      }
      resolve(out);
    });
  });
}
