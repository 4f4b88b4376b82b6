#!/usr/bin/env node
// Checks the suite's own clients on canned bytes, no server needed: the SSE
// interpretation against the WHATWG rules, the SSE framing rules flagging
// broken streams, and the WebSocket frame codec. A suite whose parser agreed
// with a broken server would pass for the wrong reason.

import { isDeepStrictEqual } from 'node:util';
import { SseStream } from './lib/sse.mjs';
import { WsClient, acceptFor, frame, OP } from './lib/ws.mjs';

let failed = 0;
function check(name, actual, expected) {
  const ok = isDeepStrictEqual(actual, expected);
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`}`);
}

function parse(...pieces) {
  const s = new SseStream();
  for (const p of pieces) s._feedBody(Buffer.from(p, 'utf8'));
  return s;
}
const brief = (s) => s.events.map((e) => [e.type, e.data, e.lastEventId]);

// WHATWG event stream interpretation.
check('LF, CR and CRLF line ends',
  brief(parse('retry: 1\n\ndata: a\r\rdata: b\r\n\r\ndata: c\n\n')),
  [['message', 'a', ''], ['message', 'b', ''], ['message', 'c', '']]);
check('CRLF split across reads', brief(parse('data: a\r', '\n\r', '\n')), [['message', 'a', '']]);
check('one optional space after the colon',
  brief(parse('data:x\n\ndata:  y\n\n')), [['message', 'x', ''], ['message', ' y', '']]);
check('data lines joined by LF', brief(parse('data: 1\ndata:\ndata: 3\n\n')), [['message', '1\n\n3', '']]);
check('comments and unknown fields ignored', brief(parse(': hi\nfoo: bar\ndata: d\n\n')), [['message', 'd', '']]);
check('no data, no dispatch', brief(parse('event: x\n\nid: 5\n\n')), []);
check('id persists; id with NUL ignored',
  brief(parse('id: 7\ndata: a\n\nid: 8\0\ndata: b\n\n')), [['message', 'a', '7'], ['message', 'b', '7']]);
check('field without a colon', brief(parse('data\n\n')), [['message', '', '']]);
check('retry only if all digits', parse('retry: 12a\n\n').retryMs, null);
check('retry digits', parse('retry: 3000\n\n').retryMs, 3000);
check('event name resets after dispatch', brief(parse('event: update\ndata: a\n\ndata: b\n\n')), [['update', 'a', ''], ['message', 'b', '']]);
check('BOM at the start skipped', brief(parse('\uFEFFdata: a\n\n')), [['message', 'a', '']]);
check('UTF-8 split across reads', (() => {
  const s = new SseStream();
  const b = Buffer.from('data: é\n\n');
  s._feedBody(b.subarray(0, 7));
  s._feedBody(b.subarray(7));
  return s.events[0].data;
})(), 'é');
check('chunked transfer coding', (() => {
  const s = new SseStream();
  s._chunked = true;
  s._feedBody(Buffer.from('5\r\ndata:\r\n4\r\n a\n\n\r\n'));
  s._feedBody(Buffer.from('0\r\n\r\n'));
  return [brief(s), s.ended];
})(), [[['message', 'a', '']], true]);

// STREAMS.md framing.
const ok = 'retry: 3000\n\nevent: message\ndata: {"type":"connected","status":"ok","position":1}\n\n' +
  'event: update\nid: 2\ndata: {"id":"a"}\n\nevent: ping\ndata: {"type":"ping"}\n\n';
check('a conforming stream has no violations', parse(ok).violations, []);
const bad = {
  'no retry first': 'event: message\ndata: {"type":"connected","status":"ok","position":1}\n\n',
  'id on connected': 'retry: 1\n\nevent: message\nid: 1\ndata: {"type":"connected","status":"ok","position":1}\n\n',
  'update without id': 'retry: 1\n\nevent: update\ndata: {"id":"a"}\n\n',
  'ping with id': 'retry: 1\n\nevent: ping\nid: 3\ndata: {"type":"ping"}\n\n',
  'record id in id:': 'retry: 1\n\nevent: update\nid: msg-1\ndata: {"id":"msg-1"}\n\n',
  'no event line': 'retry: 1\n\ndata: {"type":"connected"}\n\n',
  'data split over two lines': 'retry: 1\n\nevent: update\nid: 2\ndata: {"id":\ndata: "a"}\n\n',
  'data not JSON': 'retry: 1\n\nevent: update\nid: 2\ndata: hello\n\n',
  'synced without id': 'retry: 1\n\nevent: message\ndata: {"type":"synced","position":4}\n\n',
};
for (const [name, text] of Object.entries(bad)) check(`framing flags: ${name}`, parse(text).violations.length > 0, true);
check('atBoundary mid-event', (() => { const s = parse('retry: 1\n\nevent: update\n'); return s.atBoundary(); })(), false);

// WebSocket codec.
check('RFC 6455 sample accept', acceptFor('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
const unmaskedServer = (op, payload, fin = true) => frame(op, payload, { fin, mask: false });
check('server frames: fragmented text reassembled', (() => {
  const c = new WsClient();
  c.socket = { destroyed: true };
  c._feed(Buffer.concat([unmaskedServer(OP.TEXT, '{"a":', false), unmaskedServer(OP.PING, 'p'), unmaskedServer(OP.CONT, '1}')]));
  return [c.messages.map((m) => m.kind), c.messages[1].json, c.errors];
})(), [['ping', 'text'], { a: 1 }, []]);
check('server frames: a masked frame is an error', (() => {
  const c = new WsClient();
  c._feed(frame(OP.TEXT, 'x'));
  return c.errors.length;
})(), 1);
check('server frames: 16- and 64-bit lengths', (() => {
  const c = new WsClient();
  c._feed(Buffer.concat([unmaskedServer(OP.TEXT, 'a'.repeat(300)), unmaskedServer(OP.TEXT, 'b'.repeat(70000))]));
  return c.messages.map((m) => m.payload.length);
})(), [300, 70000]);
check('client frames are masked and decode back', (() => {
  const f = frame(OP.TEXT, 'hello');
  const key = f.subarray(2, 6);
  const body = Buffer.from(f.subarray(6).map((b, i) => b ^ key[i & 3]));
  return [f[0], f[1], body.toString()];
})(), [0x81, 0x80 | 5, 'hello']);
check('close code parsed', (() => {
  const c = new WsClient();
  const p = Buffer.alloc(4); p.writeUInt16BE(1009, 0); p.write('ab', 2);
  c._feed(unmaskedServer(OP.CLOSE, p));
  return [c.closeFrame.code, c.closeFrame.reason];
})(), [1009, 'ab']);

console.log(failed ? `${failed} selftest checks FAILED` : 'selftest: all ok');
process.exit(failed ? 1 : 0);
