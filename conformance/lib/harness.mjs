// Checks, their timeouts, and the report: one line per check, then a summary.
//
// A check is an async function of a context. It passes by returning (an
// optional detail string), fails by throwing. Sockets it opens are registered
// with ctx.track() and destroyed when it ends, however it ends. A failed
// assertion (assert/eq/includes, or contradiction() naming another document)
// shows the server contradicting the check's clause and is marked
// [CONTRADICTS …]; anything else (a timeout, a missing event, a dropped
// connection) is marked [vs …] with the clause it was checking.

import { isDeepStrictEqual, inspect } from 'node:util';

export class CheckError extends Error {}

export class Contradiction extends Error {
  constructor(doc, message) {
    super(message);
    this.doc = doc;
  }
}

export class Skip extends Error {}

// Throws a Contradiction naming the document and section the server departs from.
export function contradiction(doc, message) { throw new Contradiction(doc, message); }

const show = (v) => {
  if (v === undefined) return 'undefined';
  try { return JSON.stringify(v); } catch { return inspect(v, { depth: 6, breakLength: Infinity, compact: true }); }
};

export function assert(cond, message) {
  if (!cond) throw new CheckError(message);
}

export function eq(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) throw new CheckError(`${what}: got ${show(actual)}, want ${show(expected)}`);
}

// Every key of `expected` is in `actual` with the same value.
export function includes(actual, expected, what) {
  for (const [k, v] of Object.entries(expected)) {
    if (!actual || !isDeepStrictEqual(actual[k], v)) throw new CheckError(`${what}: ${k} is ${show(actual?.[k])}, want ${show(v)} (in ${show(actual)})`);
  }
}

export { show };

export class Suite {
  // `skip(name)`: a reason not to run a check in this run (it is reported
  // as skipped with that reason), or null.
  constructor({ filter, skip } = {}) {
    this.checks = [];
    this.results = [];
    this.filter = filter;
    this.skip = skip;
  }

  // `doc` names the clause a check holds the server to (e.g. "STREAMS.md SSE");
  // a failed assertion is reported as contradicting it.
  add(name, doc, fn, { timeoutMs = 5000 } = {}) { this.checks.push({ name, doc, fn, timeoutMs }); }

  async run(makeContext) {
    for (const c of this.checks) {
      if (this.filter && !c.name.includes(this.filter)) continue;
      const why = this.skip?.(c.name);
      if (why) {
        this.results.push({ name: c.name, status: 'skip', detail: why, ms: 0 });
        console.log(`skip ${c.name} (0 ms) — ${why}`);
        continue;
      }
      const resources = [];
      const ctx = makeContext({ track: (r) => { resources.push(r); return r; } });
      const started = Date.now();
      let timer;
      let result;
      try {
        const detail = await Promise.race([
          (async () => { const d = await c.fn(ctx); if (ctx.verify) ctx.verify(); return d; })(),
          new Promise((_, reject) => {
            timer = setTimeout(() => { const e = new CheckError(`timed out after ${c.timeoutMs} ms`); e.timeout = true; reject(e); }, c.timeoutMs);
          }),
        ]);
        result = { name: c.name, status: 'ok', detail: detail ?? '' };
      } catch (e) {
        if (e instanceof Skip) result = { name: c.name, status: 'skip', detail: e.message };
        else if (e?.framing) result = { name: c.name, status: 'FAIL', detail: `[CONTRADICTS STREAMS.md SSE framing] ${e.message}`, contradiction: true };
        else if (e instanceof Contradiction) result = { name: c.name, status: 'FAIL', detail: `[CONTRADICTS ${e.doc}] ${e.message}`, contradiction: true };
        else if (e instanceof CheckError && !e.timeout) result = { name: c.name, status: 'FAIL', detail: `[CONTRADICTS ${c.doc}] ${e.message}`, contradiction: true };
        else result = { name: c.name, status: 'FAIL', detail: `[vs ${c.doc}] ${e?.message ?? String(e)}` };
      } finally {
        clearTimeout(timer);
        for (const r of resources) { try { r.close(); } catch { /* already gone */ } }
      }
      result.ms = Date.now() - started;
      this.results.push(result);
      const detail = result.detail ? ` — ${String(result.detail).replace(/\n/g, '\\n')}` : '';
      console.log(`${result.status.padEnd(4)} ${c.name} (${result.ms} ms)${detail}`);
    }
    const failed = this.results.filter((r) => r.status === 'FAIL');
    const skipped = this.results.filter((r) => r.status === 'skip');
    const passed = this.results.filter((r) => r.status === 'ok');
    const contradictions = failed.filter((r) => r.contradiction);
    console.log(`\n${this.results.length} checks: ${passed.length} ok, ${failed.length} FAIL` +
      ` (${contradictions.length} contradicting SPEC.md/STREAMS.md), ${skipped.length} skipped`);
    for (const r of failed) console.log(`  FAIL ${r.name}`);
    return failed.length === 0 && passed.length > 0;
  }
}
