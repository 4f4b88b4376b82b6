// The eventide server as the client tests run it: one process on a fixed
// port, restartable after a kill -9, its stderr log kept across restarts.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const START_MS = 15000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A free TCP port on 127.0.0.1 (bound and released).
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

export class EventideProcess {
  // `serveArgs`: the flags of `eventide serve` besides --listen. `live`: an
  // optional Set that holds the running process (for a watchdog to kill).
  constructor(bin, port, serveArgs, { tls = true, live = null } = {}) {
    this.bin = bin;
    this.port = port;
    this.serveArgs = serveArgs;
    this.live = live;
    this.base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.proc = null;
    this.log = '';
  }

  // Resolves once this run logged "listening"; throws if it exits first or
  // takes longer than 15 s.
  async start(note = '') {
    this.log += `--- start${note ? ' ' + note : ''}\n`;
    const from = this.log.length;
    const proc = spawn(this.bin, ['serve', '--listen', `127.0.0.1:${this.port}`, ...this.serveArgs],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    this.live?.add(proc);
    const exited = new Promise((r) => proc.once('exit', (code, signal) => {
      this.live?.delete(proc);
      // Not by kill9: the server died by itself.
      if (this.proc === proc) this.log += `--- exited by itself: code ${code}, signal ${signal}\n`;
      r();
    }));
    proc.stderr.on('data', (d) => { this.log += d; });
    const deadline = Date.now() + START_MS;
    while (Date.now() < deadline) {
      if (this.log.slice(from).includes('"msg":"listening"')) return;
      if (await Promise.race([exited.then(() => true), sleep(20).then(() => false)])) break;
    }
    throw new Error(`the server did not start:\n${this.log.slice(from)}`);
  }

  kill9() {
    if (!this.proc) return Promise.resolve();
    const p = this.proc;
    this.proc = null;
    this.log += '--- kill -9\n';
    if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGKILL');
    });
  }
}
