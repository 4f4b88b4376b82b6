// An SSE client over a raw socket. It does two jobs at once:
//
//  * interpretation, exactly as the WHATWG HTML "event stream interpretation"
//    rules (section 9.2.6): lines end in CRLF, LF or CR; "field: value" with one
//    optional space after the colon; data lines joined with LF; a blank line
//    dispatches (only if some data was given); ':' starts a comment; `id`
//    sets the last event ID unless it contains NUL; `retry` only if all ASCII
//    digits. The result is what an EventSource would hand to its listeners.
//
//  * framing, as docs/STREAMS.md serves it: every block of lines ends in a
//    blank line, `retry:` comes first, `id:` only on update/delete/publish and
//    the `synced` notice, `ping` without id. Departures are collected in
//    `violations` and checks assert it stays empty.

//
// Over HTTP/2 (run.mjs --http2) the stream is one stream of the run's
// HTTP/2 session: the same interpretation and framing checks on its DATA,
// `rawHead` rebuilt from the response headers ("HTTP/2 200" first), and
// close() resets that stream (RST_STREAM CANCEL), as a browser closing an
// EventSource does.

import http2 from 'node:http2';
import { parseHead, hostPort, connectSocket, currentTransport, h2Session, h2RequestHeaders, h2ResponseHead, assertH2, h2Stats } from './http.mjs';

// Event names that carry a position (STREAMS.md, SSE): `id:` must be there.
const POSITIONED = new Set(['update', 'delete', 'publish']);

export class SseStream {
  constructor() {
    this.status = 0;
    this.headers = {};
    this.rawHead = '';
    this.events = [];         // dispatched events, in order
    this.retries = [];        // {value, beforeEvent}: each valid retry field seen
    this.blocks = [];         // raw blocks: arrays of lines, each ended by a blank line
    this.violations = [];     // framing departures from STREAMS.md
    this.body = '';           // every body byte, decoded as UTF-8
    this.lastEventId = '';    // the client's Last-Event-ID
    this.retryMs = null;
    this.ended = false;
    this.cursor = 0;          // next() reads from here
    // Interpretation state.
    this._line = '';
    this._afterCr = false;
    this._type = '';
    this._data = '';
    this._hasData = false;
    this._blockLines = [];
    this._blockId = null;
    this._waiters = new Set();
    this._decoder = new TextDecoder('utf-8');
    this._chunked = false;
    this._chunkBuf = Buffer.alloc(0);
    this._chunkLeft = -1;     // bytes left in the current chunk; -1: reading a size line
  }

  // Opens `path` (with its query) on `base`. Resolves once the response head
  // has arrived; the body is read from then on.
  static open(base, path, opts = {}) {
    if (currentTransport() === 'h2') return SseStream.openH2(base, path, opts);
    const { headers = {}, timeoutMs = 3000, method = 'GET', body } = opts;
    const s = new SseStream();
    const { host, port, prefix } = hostPort(base);
    return new Promise((resolve, reject) => {
      const sock = connectSocket(base, () => {
        let req = `${method} ${prefix}${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n`;
        for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
        if (body !== undefined) req += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
        sock.write(req + '\r\n' + (body ?? ''));
      });
      s.socket = sock;
      let buf = Buffer.alloc(0);
      let haveHead = false;
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`SSE ${path}: no response head in ${timeoutMs} ms`)); }, timeoutMs);
      sock.on('data', (d) => {
        if (haveHead) { s._feedBody(d); return; }
        buf = Buffer.concat([buf, d]);
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        haveHead = true;
        clearTimeout(timer);
        s.rawHead = buf.subarray(0, i).toString('latin1');
        try { Object.assign(s, parseHead(s.rawHead)); } catch (e) { sock.destroy(); reject(e); return; }
        s._chunked = /chunked/i.test(s.headers['transfer-encoding'] ?? '');
        resolve(s);
        if (buf.length > i + 4) s._feedBody(buf.subarray(i + 4));
      });
      const onEnd = () => {
        if (!haveHead) { clearTimeout(timer); reject(new Error(`SSE ${path}: closed before the response head`)); }
        s.ended = true;
        s._wake();
      };
      sock.on('end', onEnd);
      sock.on('close', onEnd);
      sock.on('error', () => {});
    });
  }

  // As open(), as a stream of the run's HTTP/2 session.
  static openH2(base, path, { headers = {}, timeoutMs = 3000, method = 'GET', body } = {}) {
    const s = new SseStream();
    const { prefix } = hostPort(base);
    const h = h2RequestHeaders(method, `${prefix}${path}`, headers);
    if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      let session;
      let stream;
      try {
        session = h2Session(base);
        stream = session.request(h, { endStream: body === undefined });
      } catch (e) { reject(e); return; }
      h2Stats.streams++;
      s.stream = stream;
      s.protocol = 'h2';
      let haveHead = false;
      const timer = setTimeout(() => { stream.close(http2.constants.NGHTTP2_CANCEL); reject(new Error(`SSE ${path} over HTTP/2: no response head in ${timeoutMs} ms`)); }, timeoutMs);
      stream.on('response', (hd) => {
        haveHead = true;
        clearTimeout(timer);
        try {
          assertH2(session, `SSE ${path}`);
          if (hd[':status'] === undefined) throw new Error(`SSE ${path}: an answer without :status`);
        } catch (e) { stream.close(http2.constants.NGHTTP2_CANCEL); reject(e); return; }
        Object.assign(s, h2ResponseHead(hd));
        s.rawHead = [`HTTP/2 ${s.status}`, ...s.rawHeaders.map(([k, v]) => `${k}: ${v}`)].join('\r\n');
        resolve(s);
      });
      stream.on('data', (d) => { if (haveHead) s._feedBody(d); });
      const onEnd = () => {
        if (!haveHead) { clearTimeout(timer); reject(new Error(`SSE ${path} over HTTP/2: the stream ended before the response head (RST_STREAM code ${stream.rstCode})`)); }
        s.ended = true;
        s._wake();
      };
      stream.on('end', onEnd);
      stream.on('close', onEnd);
      stream.on('error', () => {});
      if (body !== undefined) stream.end(body);
    });
  }

  close() {
    if (this.stream) { if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_CANCEL); return; }
    this.socket?.destroy();
  }

  _feedBody(bytes) {
    if (!this._chunked) { this._feedText(this._decoder.decode(bytes, { stream: true })); return; }
    this._chunkBuf = Buffer.concat([this._chunkBuf, bytes]);
    for (;;) {
      if (this._chunkLeft < 0) {
        const eol = this._chunkBuf.indexOf('\r\n');
        if (eol < 0) return;
        this._chunkLeft = parseInt(this._chunkBuf.subarray(0, eol).toString('latin1'), 16);
        this._chunkBuf = this._chunkBuf.subarray(eol + 2);
        if (this._chunkLeft === 0) { this.ended = true; this._wake(); return; }
      }
      if (this._chunkBuf.length < this._chunkLeft + 2) {
        // Hand over what there is of this chunk now (minus its CRLF later).
        const take = Math.min(this._chunkBuf.length, this._chunkLeft);
        if (take > 0) {
          this._feedText(this._decoder.decode(this._chunkBuf.subarray(0, take), { stream: true }));
          this._chunkBuf = this._chunkBuf.subarray(take);
          this._chunkLeft -= take;
        }
        return;
      }
      this._feedText(this._decoder.decode(this._chunkBuf.subarray(0, this._chunkLeft), { stream: true }));
      this._chunkBuf = this._chunkBuf.subarray(this._chunkLeft + 2);
      this._chunkLeft = -1;
    }
  }

  _feedText(text) {
    // A UTF-8 BOM at the very start of the stream is skipped by the rules.
    if (this.body.length === 0 && text.startsWith('\uFEFF')) text = text.slice(1);
    this.body += text;
    for (const c of text) {
      if (this._afterCr && c === '\n') { this._afterCr = false; continue; }
      this._afterCr = false;
      if (c === '\r' || c === '\n') {
        this._afterCr = c === '\r';
        this._onLine(this._line);
        this._line = '';
      } else {
        this._line += c;
      }
    }
    this._wake();
  }

  _onLine(line) {
    if (line === '') { this._dispatch(); return; }
    this._blockLines.push(line);
    if (line[0] === ':') return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') this._type = value;
    else if (field === 'data') { this._data += value + '\n'; this._hasData = true; }
    else if (field === 'id') {
      if (!value.includes('\0')) { this.lastEventId = value; this._blockId = value; }
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) {
        this.retryMs = Number(value);
        this.retries.push({ value: this.retryMs, beforeEvent: this.events.length });
      }
    }
  }

  _dispatch() {
    const lines = this._blockLines;
    this._blockLines = [];
    if (lines.length > 0) this.blocks.push(lines);
    if (this._hasData) {
      let data = this._data;
      if (data.endsWith('\n')) data = data.slice(0, -1);
      const ev = {
        type: this._type === '' ? 'message' : this._type,
        data,
        lastEventId: this.lastEventId,
        id: this._blockId,          // the id field of this very block, or null
        lines,
      };
      try { ev.json = JSON.parse(data); } catch { ev.json = undefined; }
      this._checkFraming(ev);
      this.events.push(ev);
    } else if (lines.length > 0 && !lines.every((l) => l.startsWith('retry:') || l.startsWith(':'))) {
      this.violations.push(`a block with no data: ${JSON.stringify(lines)}`);
    }
    this._type = '';
    this._data = '';
    this._hasData = false;
    this._blockId = null;
  }

  // STREAMS.md's framing, one dispatched block at a time.
  _checkFraming(ev) {
    const where = `event #${this.events.length} ${JSON.stringify(ev.lines)}`;
    if (this.events.length === 0 && this.retries.length === 0) this.violations.push(`no retry: before the first event (${where})`);
    const names = ev.lines.filter((l) => l.startsWith('event:'));
    if (names.length !== 1) this.violations.push(`not exactly one event: line in ${where}`);
    if (ev.lines.filter((l) => l.startsWith('data:')).length !== 1) this.violations.push(`not exactly one data: line in ${where}`);
    if (ev.json === undefined) this.violations.push(`data is not JSON in ${where}`);
    const notice = ev.type === 'message' ? ev.json?.type : undefined;
    const wantsId = POSITIONED.has(ev.type) || notice === 'synced';
    if (wantsId && ev.id === null) this.violations.push(`no id: on ${where}`);
    if (!wantsId && ev.lines.some((l) => l.startsWith('id:'))) this.violations.push(`an id: on ${where}`);
    if (ev.id !== null && !/^(0|[1-9][0-9]*)$/.test(ev.id)) this.violations.push(`id is not a position in ${where}`);
    if (!['message', 'update', 'delete', 'publish', 'ping'].includes(ev.type)) this.violations.push(`unknown event name in ${where}`);
    if (ev.type === 'ping' && ev.data !== '{"type":"ping"}') this.violations.push(`ping data in ${where}`);
    if (ev.type === 'message' && !['connected', 'reset', 'retained', 'synced'].includes(notice)) this.violations.push(`message with an unknown type in ${where}`);
  }

  _wake() { for (const w of [...this._waiters]) w(); }

  _waitChange(deadline) {
    return new Promise((resolve) => {
      const left = deadline - Date.now();
      const done = () => { clearTimeout(t); this._waiters.delete(done); resolve(); };
      const t = setTimeout(done, Math.max(0, left));
      this._waiters.add(done);
    });
  }

  // The next event (pings included unless skipPings), or throws on timeout.
  async next(timeoutMs = 2000, { skipPings = true } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.events.length) {
        const ev = this.events[this.cursor++];
        if (skipPings && ev.type === 'ping') continue;
        return ev;
      }
      if (this.ended) throw new Error(`stream ended; body so far: ${JSON.stringify(this.body.slice(-400))}`);
      if (Date.now() >= deadline) throw new Error(`no event within ${timeoutMs} ms; last bytes: ${JSON.stringify(this.body.slice(-300))}`);
      await this._waitChange(deadline);
    }
  }

  // Reads events until one matches `pred`; returns [match, skipped].
  async until(pred, timeoutMs = 2000, opts) {
    const deadline = Date.now() + timeoutMs;
    const skipped = [];
    for (;;) {
      const ev = await this.next(Math.max(1, deadline - Date.now()), opts);
      if (pred(ev)) return [ev, skipped];
      skipped.push(ev);
    }
  }

  // Waits `ms` and returns the events that arrived (pings excluded by default).
  async drain(ms, { skipPings = true } = {}) {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.events.slice(this.cursor).filter((e) => !skipPings || e.type !== 'ping');
    this.cursor = this.events.length;
    return out;
  }

  // True when the bytes so far end exactly at a block boundary.
  atBoundary() { return this._line === '' && this._blockLines.length === 0; }
}

export function describe(ev) {
  return `${ev.type}${ev.id !== null ? ` id=${ev.id}` : ''} ${ev.data.slice(0, 160)}`;
}
