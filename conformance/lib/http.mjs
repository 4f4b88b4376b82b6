// A minimal HTTP/1.1 client over a raw socket. The suite does not use fetch
// for anything whose bytes it checks: it wants the status line and headers as
// sent, including the ones fetch hides (content-length on a stream, the
// refusal answers to a WebSocket handshake).
//
// With setTransport('h2') (run.mjs --http2) request() goes over HTTP/2
// instead, through node:http2: prior knowledge for an http:// base, ALPN h2
// for https://. Every request and SSE stream of the run shares one HTTP/2
// session per origin, as a browser shares its connection; a session that
// ends (GOAWAY, error) is replaced by the next request. Each answer is
// checked to have come over HTTP/2 (the session's ALPN protocol and a
// :status), so a run cannot fall back to HTTP/1.1 unnoticed.

import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';

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
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`only http:// and https:// base URLs are supported (got ${base})`);
  const secure = u.protocol === 'https:';
  return { host: u.hostname, port: Number(u.port || (secure ? 443 : 80)), prefix: u.pathname.replace(/\/$/, ''), secure };
}

// A TCP connection to the base URL's host, under TLS (ALPN http/1.1, any
// certificate: the server's own is self-signed) for https://. `onReady`
// runs once bytes may be written.
export function connectSocket(base, onReady) {
  const { host, port, secure } = hostPort(base);
  if (!secure) {
    const sock = net.connect({ host, port });
    sock.on('connect', onReady);
    return sock;
  }
  const sock = tls.connect({ host, port, servername: host === '127.0.0.1' ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  sock.on('secureConnect', onReady);
  return sock;
}

// ---- The transport: HTTP/1.1 (the default) or HTTP/2 ----

let transport = 'http/1.1';
// What went over HTTP/2 in this run (run.mjs reports it).
export const h2Stats = { sessions: 0, requests: 0, streams: 0, protocols: new Set() };
const h2Sessions = new Map();  // origin -> ClientHttp2Session

export function setTransport(t) {
  if (t !== 'http/1.1' && t !== 'h2') throw new Error(`unknown transport ${t}`);
  transport = t;
}
export function currentTransport() { return transport; }

// The run's HTTP/2 session to the base URL's origin (made on first use).
export function h2Session(base) {
  const u = new URL(base);
  let s = h2Sessions.get(u.origin);
  if (s && !s.closed && !s.destroyed) return s;
  s = http2.connect(u.origin, u.protocol === 'https:'
    ? { rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: u.hostname === '127.0.0.1' ? undefined : u.hostname }
    : {});
  h2Stats.sessions++;
  const forget = () => { if (h2Sessions.get(u.origin) === s) h2Sessions.delete(u.origin); };
  s.on('goaway', forget);
  s.on('close', forget);
  s.on('error', forget);  // each stream on it reports the error
  h2Sessions.set(u.origin, s);
  return s;
}

// Closes the run's HTTP/2 sessions (so the process can exit by itself).
export function closeH2Sessions() {
  for (const s of h2Sessions.values()) s.close();
  h2Sessions.clear();
}

// Throws unless `session` negotiated HTTP/2: "h2c" is node's name for prior
// knowledge over TCP, "h2" for ALPN under TLS.
export function assertH2(session, what) {
  const p = session.alpnProtocol;
  if (p !== 'h2' && p !== 'h2c') throw new Error(`${what}: the session's protocol is ${JSON.stringify(p)}, not HTTP/2`);
  h2Stats.protocols.add(p);
}

// HTTP/2 forbids connection-specific request headers (RFC 9113 8.2.2), and
// Host becomes :authority (node sets it from the origin).
const H1_ONLY = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

// Request headers for node:http2 from HTTP/1.1-style ones.
export function h2RequestHeaders(method, path, headers) {
  const h = { ':method': method, ':path': path };
  for (const [k, v] of Object.entries(headers)) {
    const lk = k.toLowerCase();
    if (!H1_ONLY.has(lk) && v !== undefined) h[lk] = String(v);
  }
  return h;
}

// A node:http2 response header object as parseHead shapes HTTP/1.1's.
export function h2ResponseHead(h) {
  const headers = {};
  const rawHeaders = [];
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(':')) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      rawHeaders.push([k, String(one)]);
      headers[k] = k in headers ? `${headers[k]}, ${one}` : String(one);
    }
  }
  return { version: '2', status: Number(h[':status']), reason: '', headers, rawHeaders };
}

// Sends one request and resolves with {status, headers, rawHeaders, body
// (Buffer), text, json()}: over HTTP/1.1 on a fresh connection
// (Connection: close), or as a stream of the run's HTTP/2 session.
// `raw` (a string or Buffer) replaces the whole request when given
// (HTTP/1.1 only).
export function request(base, opts = {}) {
  if (transport === 'h2') return requestH2(base, opts);
  return requestH1(base, opts);
}

// As request(), over HTTP/2 whatever the transport.
export function requestH2(base, { method = 'GET', path = '/', headers = {}, body, raw, timeoutMs = 5000 } = {}) {
  if (raw !== undefined) return Promise.reject(new Error('a raw request has no meaning over HTTP/2'));
  const { prefix } = hostPort(base);
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const h = h2RequestHeaders(method, `${prefix}${path}`, headers);
  if (b) {
    if (!('content-type' in h)) h['content-type'] = 'application/json';
    h['content-length'] = String(b.length);
  }
  return new Promise((resolve, reject) => {
    let session;
    let stream;
    try {
      session = h2Session(base);
      stream = session.request(h, { endStream: !b });
    } catch (e) { reject(e); return; }
    h2Stats.requests++;
    let head = null;
    const parts = [];
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${method} ${path} over HTTP/2: no complete answer in ${timeoutMs} ms`)), timeoutMs);
    function finish(err, value) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      if (err) reject(err); else resolve(value);
    }
    stream.on('response', (hd) => {
      try {
        assertH2(session, `${method} ${path}`);
        if (hd[':status'] === undefined) throw new Error(`${method} ${path}: an answer without :status`);
        head = h2ResponseHead(hd);
      } catch (e) { finish(e); }
    });
    stream.on('data', (d) => parts.push(d));
    stream.on('end', () => {
      if (!head) { finish(new Error(`${method} ${path} over HTTP/2: the stream ended before the response head`)); return; }
      const bodyBuf = Buffer.concat(parts);
      const text = bodyBuf.toString('utf8');
      finish(null, { ...head, body: bodyBuf, text, json() { return JSON.parse(text); } });
    });
    stream.on('close', () => finish(new Error(`${method} ${path} over HTTP/2: the stream closed (RST_STREAM code ${stream.rstCode}) before the answer was complete`)));
    stream.on('error', (e) => finish(new Error(`${method} ${path} over HTTP/2: ${e.message}`)));
    if (b) stream.end(b);
  });
}

// As request(), over HTTP/1.1 whatever the transport.
export function requestH1(base, { method = 'GET', path = '/', headers = {}, body, raw, timeoutMs = 5000 } = {}) {
  const { host, port, prefix } = hostPort(base);
  return new Promise((resolve, reject) => {
    const sock = connectSocket(base, () => {
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
  return new Promise((resolve, reject) => {
    const sock = connectSocket(base, () => sock.write(raw));
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no close within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => {
      clearTimeout(timer);
      const out = [];
      let off = 0;
      while (off < buf.length) {
        const i = buf.indexOf('\r\n\r\n', off);
        if (i < 0) break;
        let head;
        try { head = parseHead(buf.subarray(off, i).toString('latin1')); } catch (e) {
          reject(new Error(`answer #${out.length + 1}: ${e.message}`));
          return;
        }
        const n = heads.includes(out.length) ? 0 : Number(head.headers['content-length'] ?? 0);
        const text = buf.subarray(i + 4, i + 4 + n).toString('utf8');
        out.push({ ...head, text, json() { return JSON.parse(text); } });
        off = i + 4 + n;
      }
      resolve(out);
    });
  });
}
