// A WebSocket client over a raw socket (RFC 6455), written to misbehave on
// purpose when asked: frames can be sent unmasked, fragmented, binary, with
// control frames between fragments, or as any bytes at all. Server frames are
// parsed strictly (the server must not mask; RSV bits must be clear).

import crypto from 'node:crypto';
import { parseHead, hostPort, connectSocket } from './http.mjs';

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key) {
  return crypto.createHash('sha1').update(key + GUID).digest('base64');
}

// Builds one client frame. `mask` false sends it unmasked (a protocol error).
export function frame(opcode, payload, { fin = true, mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload ?? '', 'utf8');
  const len = data.length;
  let head;
  if (len < 126) { head = Buffer.alloc(2); head[1] = len; }
  else if (len < 65536) { head = Buffer.alloc(4); head[1] = 126; head.writeUInt16BE(len, 2); }
  else { head = Buffer.alloc(10); head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, masked]);
}

export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export class WsClient {
  constructor() {
    this.status = 0;
    this.headers = {};
    this.messages = [];      // {kind:'text'|'binary'|'ping'|'pong'|'close', payload, text?, json?, code?, reason?}
    this.errors = [];        // framing errors in what the server sent
    this.cursor = 0;
    this.closedTcp = false;
    this.closeFrame = null;  // the server's Close, once received
    this.autoPong = true;    // answer the server's keep-alive Pings
    this._buf = Buffer.alloc(0);
    this._frag = null;       // {opcode, parts}
    this._waiters = new Set();
  }

  // Performs the opening handshake. Resolves with the client whether or not
  // the server upgraded (check `status`); a refusal's body is in `body`.
  static connect(base, path, { key = crypto.randomBytes(16).toString('base64'), headers, method = 'GET', timeoutMs = 3000 } = {}) {
    const c = new WsClient();
    c.key = key;
    const { host, port, prefix } = hostPort(base);
    const h = headers ?? {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
    };
    return new Promise((resolve, reject) => {
      // Always HTTP/1.1 (TLS with ALPN http/1.1 for https://): WebSocket is
      // not offered over HTTP/2.
      const sock = connectSocket(base, () => {
        let req = `${method} ${prefix}${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n`;
        for (const [k, v] of Object.entries(h)) if (v !== undefined) req += `${k}: ${v}\r\n`;
        sock.write(req + '\r\n');
      });
      c.socket = sock;
      let haveHead = false;
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`WS ${path}: no handshake answer in ${timeoutMs} ms`)); }, timeoutMs);
      sock.on('data', (d) => {
        if (haveHead && c.status === 101) { c._feed(d); return; }
        buf = Buffer.concat([buf, d]);
        if (!haveHead) {
          const i = buf.indexOf('\r\n\r\n');
          if (i < 0) return;
          haveHead = true;
          try { Object.assign(c, parseHead(buf.subarray(0, i).toString('latin1'))); } catch (e) { clearTimeout(timer); sock.destroy(); reject(e); return; }
          buf = buf.subarray(i + 4);
          if (c.status === 101) {
            clearTimeout(timer);
            resolve(c);
            if (buf.length) c._feed(buf);
            return;
          }
        }
        // A refusal: read its body (Content-Length) before resolving.
        const n = Number(c.headers['content-length'] ?? -1);
        if (n >= 0 && buf.length >= n) { clearTimeout(timer); c.body = buf.subarray(0, n).toString('utf8'); resolve(c); }
      });
      const onEnd = () => {
        c.closedTcp = true;
        c._wake();
        if (!haveHead) { clearTimeout(timer); reject(new Error(`WS ${path}: closed before an answer`)); return; }
        if (c.status !== 101 && c.body === undefined) { clearTimeout(timer); c.body = buf.toString('utf8'); resolve(c); }
      };
      sock.on('end', onEnd);
      sock.on('close', onEnd);
      sock.on('error', () => {});
    });
  }

  close() { this.socket?.destroy(); }
  sendRaw(bytes) { if (!this.socket.destroyed) this.socket.write(bytes); }
  sendFrame(opcode, payload, opts) { this.sendRaw(frame(opcode, payload, opts)); }
  send(obj) { this.sendFrame(OP.TEXT, typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  _feed(d) {
    this._buf = Buffer.concat([this._buf, d]);
    for (;;) {
      const b = this._buf;
      if (b.length < 2) break;
      const fin = (b[0] & 0x80) !== 0;
      const rsv = b[0] & 0x70;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) break; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) break; len = Number(b.readBigUInt64BE(2)); off = 10; }
      if (masked) off += 4;
      if (b.length < off + len) break;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (masked) {
        this.errors.push('the server masked a frame');
        const key = b.subarray(off - 4, off);
        for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
      }
      if (rsv) this.errors.push(`RSV bits set (0x${rsv.toString(16)})`);
      this._buf = b.subarray(off + len);
      this._onFrame(fin, opcode, payload);
    }
    this._wake();
  }

  _onFrame(fin, opcode, payload) {
    if (opcode >= 8) {
      if (!fin || payload.length > 125) this.errors.push(`bad control frame (opcode ${opcode})`);
      if (opcode === OP.CLOSE) {
        const m = { kind: 'close', payload, code: payload.length >= 2 ? payload.readUInt16BE(0) : null, reason: payload.subarray(2).toString('utf8') };
        this.closeFrame = m;
        this.messages.push(m);
      } else if (opcode === OP.PING) {
        this.messages.push({ kind: 'ping', payload });
        if (this.autoPong) this.sendFrame(OP.PONG, payload);
      } else if (opcode === OP.PONG) {
        this.messages.push({ kind: 'pong', payload });
      } else {
        this.errors.push(`unknown control opcode ${opcode}`);
      }
      return;
    }
    if (opcode === OP.CONT) {
      if (!this._frag) { this.errors.push('continuation without a start'); return; }
      this._frag.parts.push(payload);
    } else {
      if (this._frag) this.errors.push('new data frame inside a fragmented message');
      this._frag = { opcode, parts: [payload] };
    }
    if (!fin) return;
    const whole = Buffer.concat(this._frag.parts);
    const op = this._frag.opcode;
    this._frag = null;
    if (op === OP.TEXT) {
      const m = { kind: 'text', payload: whole, text: whole.toString('utf8') };
      try { m.json = JSON.parse(m.text); } catch { m.json = undefined; }
      this.messages.push(m);
    } else if (op === OP.BINARY) {
      this.messages.push({ kind: 'binary', payload: whole });
    } else {
      this.errors.push(`unknown data opcode ${op}`);
    }
  }

  _wake() { for (const w of [...this._waiters]) w(); }
  _waitChange(deadline) {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this._waiters.delete(done); resolve(); };
      const t = setTimeout(done, Math.max(0, deadline - Date.now()));
      this._waiters.add(done);
    });
  }

  // The next message of the given kinds (default: text and close), in order.
  async next(timeoutMs = 2000, kinds = ['text', 'binary', 'close']) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++];
        if (kinds.includes(m.kind)) return m;
      }
      if (this.closedTcp) throw new Error('connection closed');
      if (Date.now() >= deadline) throw new Error(`no message within ${timeoutMs} ms`);
      await this._waitChange(deadline);
    }
  }

  // The next text message's JSON.
  async nextJson(timeoutMs = 2000) {
    const m = await this.next(timeoutMs);
    if (m.kind !== 'text') throw new Error(`wanted a text message, got ${m.kind}${m.code ? ` ${m.code}` : ''}`);
    if (m.json === undefined) throw new Error(`text is not JSON: ${m.text.slice(0, 200)}`);
    return m.json;
  }

  // Reads JSON messages until `pred` matches; returns [match, skipped].
  async untilJson(pred, timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    const skipped = [];
    for (;;) {
      const j = await this.nextJson(Math.max(1, deadline - Date.now()));
      if (pred(j)) return [j, skipped];
      skipped.push(j);
    }
  }

  // Waits for any message (read or not) matching `pred`, without moving the
  // cursor: for replies whose order relative to others is not specified.
  async find(pred, timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (this.closedTcp) throw new Error('connection closed');
      if (Date.now() >= deadline) throw new Error(`no matching message within ${timeoutMs} ms`);
      await this._waitChange(deadline);
    }
  }

  // Waits for the server's Close frame (skipping anything before it).
  async waitClose(timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closeFrame) return this.closeFrame;
      if (this.closedTcp) throw new Error('TCP closed without a Close frame');
      if (Date.now() >= deadline) throw new Error(`no Close frame within ${timeoutMs} ms`);
      await this._waitChange(deadline);
    }
  }

  // Waits for the TCP connection to end.
  async waitTcpClose(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedTcp) {
      if (Date.now() >= deadline) throw new Error(`connection still open after ${timeoutMs} ms`);
      await this._waitChange(deadline);
    }
  }

  // Waits `ms`; returns the JSON messages that arrived.
  async drainJson(ms) {
    await new Promise((r) => setTimeout(r, ms));
    const out = [];
    while (this.cursor < this.messages.length) {
      const m = this.messages[this.cursor++];
      if (m.kind === 'text') out.push(m.json ?? m.text);
    }
    return out;
  }
}
