#!/usr/bin/env python3
"""REST write benchmark for docs/PERFORMANCE.md (issue 3), in one run:

  - the log library's own group-commit rate (wal_bench, `always`, payload of
    the size a REST create's log entry has) at 1, 16 and 256 appenders;
  - durable REST creates/s (eventide-load) at 1, 16 and 256 connections with
    --fsync always and --fsync never, server pinned to core 0 and the load
    generator to core 1;
  - RSS per 100,000 stored records of 200 bytes.

Usage: scripts/bench_rest.py [--build build] [--seconds 5]
Everything runs against 127.0.0.1, in a scratch directory under the build
directory (a real disk, not tmpfs), and stops by itself.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--seconds", type=float, default=5)
ap.add_argument("--records", type=int, default=100000)
args = ap.parse_args()
B = os.path.abspath(args.build)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTIDE = f"{B}/src/server/eventide"
LOAD = f"{B}/tools/eventide-load"
WALBENCH = f"{B}/tests/bench/wal_bench"
ncpu = os.cpu_count() or 1
SERVER_CPU, LOAD_CPU = "0", ("1" if ncpu > 1 else "0")

# A 200-byte record: {"title":...,"content":...} padded to 200 bytes of JSON.
def body_template():
    base = '{"title":"load {seq}","content":"'
    tail = '"}'
    pad = 200 - len(base.replace("{seq}", "1000000")) - len(tail)
    return base + "x" * pad + tail

BODY = body_template()

def start_server(data, fsync):
    log = open(os.path.join(data, "server.log"), "w")
    p = subprocess.Popen(["taskset", "-c", SERVER_CPU, EVENTIDE, "serve", "--apps", f"{SRC}/apps",
                          "--data", data, "--listen", "127.0.0.1:0", "--tls", "off",
                          "--fsync", fsync], stderr=log, stdout=subprocess.DEVNULL)
    for _ in range(300):
        text = open(os.path.join(data, "server.log")).read()
        m = re.search(r'"msg":"listening","addr":"[^"]*:(\d+)"', text)
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            sys.exit("server exited:\n" + text)
        time.sleep(0.02)
    p.kill()
    sys.exit("server did not start")

def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()

def load(port, conns, seconds=None, requests=None):
    cmd = ["taskset", "-c", LOAD_CPU, LOAD, "rest", "--url",
           f"http://127.0.0.1:{port}/realtime-demo/message", "-c", str(conns), "--body", BODY,
           "--json"]
    cmd += ["-n", str(requests), "-d", "300s"] if requests else ["-d", f"{seconds}s"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return json.loads(out.strip().splitlines()[-1])

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

scratch = tempfile.mkdtemp(prefix="bench-rest-", dir=B)
results = {"machine": {"cpus": ncpu, "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU}}
try:
    # The log's own group-commit rate, payload = a REST create's entry size.
    # The record plus "id" (a UUID) and the two timestamps the server adds,
    # plus the event's own fields (wal/FORMAT.md section 5).
    entry = len(BODY) + 43 + 2 * 43 + 10 + 14 + 8 + 37 + 2 + 2
    env = dict(os.environ, EVENTIDE_BENCH_SECONDS=str(args.seconds), EVENTIDE_BENCH_DIR=scratch,
               EVENTIDE_BENCH_PAYLOAD=str(entry))
    out_json = os.path.join(scratch, "wal_bench.json")
    wb = subprocess.run([WALBENCH, f"--benchmark_filter=BM_Append/payload:{entry}/sync:0/",
                         f"--benchmark_out={out_json}", "--benchmark_out_format=json"],
                        capture_output=True, text=True, env=env)
    log_rates = {}
    try:
        for b in json.load(open(out_json))["benchmarks"]:
            m = re.search(r"outstanding:(\d+)", b["name"])
            if m:
                log_rates[int(m.group(1))] = b["items_per_second"]
    except (OSError, ValueError, KeyError):
        print(wb.stderr, file=sys.stderr)
    results["log_always"] = log_rates
    for fsync in ("always", "never"):
        for conns in (1, 16, 256):
            data = tempfile.mkdtemp(dir=scratch)
            p, port = start_server(data, fsync)
            r = load(port, conns, seconds=args.seconds)
            stop(p)
            results[f"rest_{fsync}_{conns}"] = r
            print(f"{fsync:6} c={conns:3}: {r['requests_per_second']:9.0f} creates/s  "
                  f"p50 {r['latency_ms']['p50']:.3f} ms  p99 {r['latency_ms']['p99']:.3f} ms  "
                  f"status {r['status']} errors {r['errors']}", flush=True)
            shutil.rmtree(data, ignore_errors=True)
    # Memory: RSS growth per stored record.
    data = tempfile.mkdtemp(dir=scratch)
    p, port = start_server(data, "never")
    time.sleep(0.2)
    before = rss_kib(p.pid)
    r = load(port, 16, requests=args.records)
    time.sleep(0.5)
    after = rss_kib(p.pid)
    stop(p)
    stored = r["status"].get("201", 0)
    per = (after - before) * 1024 / max(1, stored)
    results["memory"] = {"records": stored, "rss_before_kib": before, "rss_after_kib": after,
                         "bytes_per_record": per, "record_bytes": 200, "ratio": per / 200}
    print(f"memory: {stored} records, RSS {before} -> {after} KiB: {per:.0f} B/record "
          f"= {per/200:.2f}x the 200-byte record")
finally:
    shutil.rmtree(scratch, ignore_errors=True)

print("\nlog library group commit (always), same run:")
for n, v in sorted(results.get("log_always", {}).items()):
    rest = results.get(f"rest_always_{n}", {}).get("requests_per_second", 0)
    print(f"  {n:3} appenders: {v:9.0f}/s   REST always c={n}: {rest:9.0f}/s = {100*rest/v:5.1f}%")
print(json.dumps(results))
