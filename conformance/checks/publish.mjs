// Publish checks: a publish is a log entry (resumable like any other) that
// changes no record. SPEC.md sections 4 and 6; docs/STREAMS.md.

import { eq } from '../lib/harness.mjs';
import { expectConnected, expectSseEvent, expectWsEvent } from './common.mjs';

const DOC = 'SPEC.md 4/6 publish';

// Publishes through a WebSocket on `path`; resolves with the ack's seq.
async function publish(ctx, topic, data) {
  const c = await ctx.ws(ctx.tablePath);
  await c.nextJson();  // subscribed
  c.send({ action: 'publish', topic, data, ref: 'pub' });
  const [ack] = await c.untilJson((m) => m.type === 'ack' || m.type === 'error');
  eq(ack.type, 'ack', `publish to ${topic}: ${JSON.stringify(ack)}`);
  c.close();
  return ack.seq;
}

export function addPublishChecks(suite) {
  suite.add('publish.resumable', DOC, async (ctx) => {
    const id = ctx.newId();
    const w0 = await ctx.rest.create(ctx.body(id));
    const tableData = { kind: 'resumable', run: ctx.run, nested: { a: [1, 'two', null] } };
    const seqTable = await publish(ctx, ctx.table, tableData);
    const seqRecord = await publish(ctx, `${ctx.table}/${id}`, { kind: 'to the record' });
    const w1 = await ctx.rest.patch(id, { title: 'after the publishes' });
    eq([seqTable, seqRecord, w1.position], [w0.position + 1, w0.position + 2, w0.position + 3], 'positions (single writer)');

    const t = await ctx.sse(`${ctx.tablePath}?stream=sse`, { headers: { 'Last-Event-ID': String(w0.position) } });
    await expectConnected(t);
    expectSseEvent(await t.next(), { name: 'publish', position: seqTable, data: tableData }, 'table publish replayed on the table topic');
    expectSseEvent(await t.next(), { name: 'publish', position: seqRecord, data: { kind: 'to the record' } }, 'record publish replayed on the table topic');
    expectSseEvent(await t.next(), { name: 'update', position: w1.position, data: w1.json() }, 'the write after them');

    const r = await ctx.sse(`${ctx.recordPath(id)}?stream=sse&lastEventId=${w0.position}`);
    await expectConnected(r);
    expectSseEvent(await r.next(), { name: 'publish', position: seqRecord, data: { kind: 'to the record' } }, 'record publish replayed on the record topic (the table publish is not)');
    expectSseEvent(await r.next(), { name: 'update', position: w1.position, data: w1.json() }, 'record topic: the write after it');

    const c = await ctx.ws(`${ctx.tablePath}?lastEventId=${w0.position}`);
    await c.nextJson();
    expectWsEvent(await c.nextJson(), { type: 'Publish', seq: seqTable, id: null, data: tableData }, 'WS resume: table publish');
    expectWsEvent(await c.nextJson(), { type: 'Publish', seq: seqRecord, id, data: { kind: 'to the record' } }, 'WS resume: record publish');
  });

  suite.add('publish.changes-no-record', DOC, async (ctx) => {
    const id = ctx.newId();
    const ghost = ctx.newId('ghost');
    await ctx.rest.create(ctx.body(id));
    const before = await ctx.rest.get(id);
    const listBefore = await ctx.rest.get(undefined);
    await publish(ctx, `${ctx.table}/${id}`, { id, title: 'hijacked', content: 'x' });
    await publish(ctx, ctx.table, { id: ghost, title: 'ghost', content: 'x' });
    const after = await ctx.rest.get(id);
    eq(after.status, 200, 'GET after publish');
    eq(after.json(), before.json(), 'record after a publish to its topic');
    eq(after.headers.etag, before.headers.etag, 'ETag (position of the write that produced it)');
    eq((await ctx.rest.get(ghost)).status, 404, 'a record named in a table publish');
    const listAfter = await ctx.rest.get(undefined);
    eq(listAfter.json().length, listBefore.json().length, 'list length after the publishes');
    const p = await ctx.rest.patch(id, { content: 'patched' });
    eq(p.json().title, before.json().title, 'a later PATCH merges into the record as it was');
  });
}
