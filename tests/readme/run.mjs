// Runs the commands of README.md against a live server, so the README cannot
// drift from the code.
//
//   node tests/readme/run.mjs --bin EVENTIDE --build BUILD_DIR --root REPO
//
// Every fenced ```sh or ```js block of the README is preceded by a marker
// line, an HTML comment a reader does not see:
//
//   <!-- test -->               run it; every command must succeed (curl
//                               fails on an HTTP error status)
//   <!-- test: errors -->       run it; HTTP error statuses are what it shows
//   <!-- test: stream -->       it does not end by itself: stopped after a
//                               few seconds, which counts as success
//   <!-- test: background N --> started and left running (a second
//                               terminal); its output is named N
//   <!-- test: stopped -->      run with the server stopped (SIGTERM first)
//   <!-- not tested: WHY -->    not run, and the reason
//
// and may be followed by expectations, each a substring of the output:
//
//   <!-- expect: TEXT -->       of this block
//   <!-- expect N: TEXT -->     of the background block N, by now (waited
//                               for up to a few seconds)
//
// A block with no marker is an error, so a new command cannot escape the test.
// The blocks run in order, from a scratch directory holding `data/` (the
// server's) and a link `build` to the build directory, against one server
// started as `make run` starts it (eventide.yaml) but on a free port:
// `localhost:9996` in a block is rewritten to that port, and curl gets -k's
// companion --max-time. A ```js block runs under node with the `ws` package of
// tests/clients.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    bin: { type: 'string' },
    build: { type: 'string' },
    root: { type: 'string' },
    readme: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
for (const k of ['bin', 'build', 'root']) {
  if (!args[k]) {
    console.error(`usage: run.mjs --bin EVENTIDE --build BUILD_DIR --root REPO [--readme FILE]`);
    process.exit(2);
  }
}
const readmePath = args.readme ?? join(args.root, 'README.md');
const STREAM_SECONDS = 3;
const BLOCK_SECONDS = 30;
const WAIT_MS = 5000;

// ---- Parsing ---------------------------------------------------------------

// Blocks in README order: {line, lang, mode, name, code, expect: [{name, text}]}.
function parseReadme(text) {
  const lines = text.split('\n');
  const blocks = [];
  const problems = [];
  let marker = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const m = line.match(/^<!--\s*(test(?::\s*(\w+)(?:\s+(\S+))?)?|not tested:.*?)\s*-->\s*$/);
    if (m) {
      marker = m[1].startsWith('not tested')
        ? { skip: true, line: i + 1 }
        : { mode: m[2] ?? 'run', name: m[3] ?? null, line: i + 1 };
      continue;
    }
    const fence = line.match(/^```(\w*)/);
    if (!fence) {
      if (line.trim() !== '') marker = null;
      continue;
    }
    const lang = fence[1];
    const start = i + 1;
    const body = [];
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i]);
    const runnable = ['sh', 'bash', 'shell', 'js', 'javascript'].includes(lang);
    if (!runnable) {
      marker = null;
      continue;
    }
    if (!marker) {
      problems.push(`README.md:${start}: a \`\`\`${lang} block with no <!-- test --> or <!-- not tested: … --> marker`);
      continue;
    }
    const block = { line: start, lang, ...marker, code: body.join('\n'), expect: [] };
    marker = null;
    // Expectations: the comment lines right after the fence.
    while (i + 1 < lines.length) {
      const e = lines[i + 1].match(/^<!--\s*expect(?:\s+(\S+))?:\s?(.*?)\s*-->\s*$/);
      if (!e) break;
      block.expect.push({ name: e[1] ?? null, text: e[2] });
      i++;
    }
    if (block.mode && !['run', 'errors', 'stream', 'background', 'stopped'].includes(block.mode)) {
      problems.push(`README.md:${block.line - 1}: unknown test mode '${block.mode}'`);
    }
    if (block.mode === 'background' && !block.name) {
      problems.push(`README.md:${block.line - 1}: a background block needs a name`);
    }
    blocks.push(block);
  }
  return { blocks, problems };
}

// ---- The server ------------------------------------------------------------

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

class Server {
  constructor(dir) {
    this.dir = dir;
    this.log = '';
    this.proc = null;
    this.port = 0;
  }
  async start() {
    this.proc = spawn(args.bin, [
      'serve', '--config', join(args.root, 'eventide.yaml'), '--apps', join(args.root, 'apps'),
      '--data', join(this.dir, 'data'), '--listen', '127.0.0.1:0', '--tls', 'auto',
    ], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (d) => { this.log += d.toString(); };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const m = this.log.match(/"msg":"listening","addr":"127\.0\.0\.1:(\d+)"/);
      if (m) {
        this.port = Number(m[1]);
        return;
      }
      if (this.proc.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`the server did not start:\n${this.log}`);
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([exited, sleep(10000)]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

// ---- Running blocks --------------------------------------------------------

// Bash prelude: curl fails on HTTP errors (unless the block shows them), and a
// streaming curl (-N) is stopped after a few seconds, which is success.
function prelude(block) {
  const fail = block.mode === 'errors' ? '' : '--fail-with-body';
  return `set -eo pipefail
curl() {
  local stream=0 a rc=0
  for a in "$@"; do case "$a" in --no-buffer|-[a-zA-Z]*N*) stream=1;; esac; done
  if [ $stream = 1 ]; then
    command curl ${fail} --max-time ${STREAM_SECONDS} "$@" || rc=$?
    if [ $rc = 28 ]; then rc=0; fi
    return $rc
  fi
  command curl ${fail} --max-time 20 "$@"
}
`;
}

function rewrite(code, port) {
  return code.replaceAll('localhost:9996', `localhost:${port}`);
}

// Runs a block to its end (or, for a stream block, for STREAM_SECONDS) and
// returns {code, output}. A background block returns its live process.
function runBlock(block, dir, port) {
  let cmd, argv, env = { ...process.env };
  if (block.lang === 'js' || block.lang === 'javascript') {
    const file = join(dir, `block-${block.line}.cjs`);
    writeFileSync(file, rewrite(block.code, port));
    cmd = process.execPath;
    argv = [file];
    env.NODE_PATH = join(args.root, 'tests/clients/node_modules');
  } else {
    cmd = 'bash';
    argv = ['-c', prelude(block) + rewrite(block.code, port)];
  }
  const proc = spawn(cmd, argv, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const run = { proc, output: '', code: null };
  proc.stdout.on('data', (d) => { run.output += d.toString(); });
  proc.stderr.on('data', (d) => { run.output += d.toString(); });
  run.done = new Promise((resolve) => proc.once('close', (code, signal) => {
    run.code = code ?? signal;
    resolve();
  }));
  return run;
}

function killGroup(proc) {
  try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* already gone */ }
}

async function finish(run, seconds) {
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; killGroup(run.proc); }, seconds * 1000);
  await run.done;
  clearTimeout(timer);
  return timedOut;
}

async function main() {
  const { blocks, problems } = parseReadme(readFileSync(readmePath, 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'eventide-readme-'));
  symlinkSync(args.build, join(dir, 'build'));
  const server = new Server(dir);
  const background = new Map();
  let ran = 0, skipped = 0;
  const fail = (block, why, output) => {
    problems.push(`README.md:${block.line}: ${why}\n--- block ---\n${block.code}\n--- output ---\n${output ?? ''}`);
  };
  try {
    if (problems.length === 0) await server.start();
    for (const block of problems.length === 0 ? blocks : []) {
      if (block.skip) {
        skipped++;
        continue;
      }
      if (block.mode === 'stopped') await server.stop();
      const run = runBlock(block, dir, server.port);
      ran++;
      if (block.mode === 'background') {
        background.set(block.name, run);
        await sleep(500);  // let it connect before the next block writes
      } else {
        const timedOut = await finish(run, block.mode === 'stream' ? STREAM_SECONDS : BLOCK_SECONDS);
        if (timedOut && block.mode !== 'stream') {
          fail(block, `did not finish within ${BLOCK_SECONDS} s`, run.output);
          break;
        }
        if (!timedOut && run.code !== 0) {
          fail(block, `exited with ${run.code}`, run.output);
          break;
        }
      }
      for (const e of block.expect) {
        const target = e.name ? background.get(e.name) : run;
        if (!target) {
          fail(block, `expects output of '${e.name}', which no earlier background block has`);
          continue;
        }
        const deadline = Date.now() + (e.name ? WAIT_MS : 0);
        while (!target.output.includes(e.text) && Date.now() < deadline) await sleep(50);
        if (!target.output.includes(e.text)) {
          fail(block, `output${e.name ? ` of '${e.name}'` : ''} lacks: ${e.text}`, target.output);
        }
      }
      if (problems.length) break;
    }
  } finally {
    for (const run of background.values()) killGroup(run.proc);
    await server.stop();
    if (problems.length) console.log(`--- server log ---\n${server.log.split('\n').slice(-30).join('\n')}`);
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
  if (problems.length) {
    for (const p of problems) console.log(`FAIL ${p}`);
    process.exit(1);
  }
  console.log(`ok   README.md: ${ran} blocks run against a live server, ${skipped} marked not tested`);
}

await main();
