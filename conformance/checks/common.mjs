// Helpers shared by the checks: reading an SSE subscription's preamble
// (connected, reset, retained..., synced) and matching events to writes.

import { assert, eq, includes, show } from '../lib/harness.mjs';
import { describe } from '../lib/sse.mjs';

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The `connected` event that opens every SSE stream (STREAMS.md SSE).
export async function expectConnected(s) {
  const ev = await s.next();
  eq(ev.type, 'message', `first event name (${describe(ev)})`);
  assert(ev.json && ev.json.type === 'connected', `first event is not connected: ${describe(ev)}`);
  eq(ev.json.status, 'ok', 'connected.status');
  assert(Number.isInteger(ev.json.position) && ev.json.position >= 0, `connected.position is not a position: ${show(ev.json.position)}`);
  eq(ev.id, null, 'id: on connected');
  eq(ev.lastEventId, '', 'Last-Event-ID after connected');
  return ev.json;
}

// Reads connected, then an optional reset, then retained events up to the
// synced notice. `reset`: undefined (none allowed) or a list of reasons.
export async function readPreamble(s, { reset } = {}) {
  const connected = await expectConnected(s);
  const out = { connected, reset: null, retained: [], synced: null };
  let ev = await s.next();
  if (reset !== undefined) {
    assert(ev.type === 'message' && ev.json?.type === 'reset', `wanted a reset after connected, got ${describe(ev)}`);
    eq(ev.id, null, 'id: on reset');
    assert(reset.includes(ev.json.reason), `reset.reason ${show(ev.json.reason)} not one of ${show(reset)}`);
    assert(Number.isInteger(ev.json.position), `reset.position is not a position: ${describe(ev)}`);
    out.reset = ev.json;
    ev = await s.next();
  }
  while (ev.type === 'message' && ev.json?.type === 'retained') {
    eq(ev.id, null, 'id: on retained');
    assert(typeof ev.json.id === 'string' || typeof ev.json.id === 'number', `retained without an id: ${describe(ev)}`);
    assert(ev.json.data && typeof ev.json.data === 'object', `retained without data: ${describe(ev)}`);
    out.retained.push(ev.json);
    ev = await s.next();
  }
  assert(ev.type === 'message' && ev.json?.type === 'synced', `wanted synced after the retained records, got ${describe(ev)}`);
  assert(Number.isInteger(ev.json.position), `synced.position: ${describe(ev)}`);
  eq(ev.id, String(ev.json.position), 'synced id: vs its position');
  eq(ev.lastEventId, String(ev.json.position), 'Last-Event-ID after synced');
  out.synced = ev.json;
  return out;
}

// Asserts an SSE event is the event of one of our writes:
// {name, position, data (deep-equal JSON) or raw (exact data text)}.
export function expectSseEvent(ev, { name, position, data, raw }, what) {
  eq(ev.type, name, `${what}: event name (${describe(ev)})`);
  eq(ev.id, String(position), `${what}: id: (the entry's position)`);
  eq(ev.lastEventId, String(position), `${what}: Last-Event-ID after it`);
  if (raw !== undefined) eq(ev.data, raw, `${what}: data`);
  if (data !== undefined) eq(ev.json, data, `${what}: data`);
}

// Waits for the Update/Delete/Publish WS message with `seq`.
export function expectWsEvent(m, { type, seq, id, data }, what) {
  eq(m.message_type, type, `${what}: message_type (${show(m)})`);
  if (seq !== undefined) eq(m.seq, seq, `${what}: seq`);
  else assert(Number.isInteger(m.seq) && m.seq > 0, `${what}: seq ${show(m.seq)} is not a position`);
  assert(typeof m.timestamp === 'string' && ISO_MS.test(m.timestamp), `${what}: timestamp ${show(m.timestamp)} is not ISO-8601 UTC with milliseconds`);
  if (id === null) assert(!('id' in m), `${what}: an "id" on a table-topic publish: ${show(m)}`);
  else if (id !== undefined) eq(m.id, id, `${what}: id`);
  if (data !== undefined) eq(m.data, data, `${what}: data`);
  assert(!('topic' in m), `${what}: event frames name no topic (STREAMS.md): ${show(m)}`);
}

export { includes };
