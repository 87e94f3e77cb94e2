#!/usr/bin/env python3
"""Node vs redis-server, side by side, same client (redis-benchmark), same box.

Starts Debian's redis-server (--save "" --appendonly no) and autocache-node on loopback,
drives both with identical redis-benchmark runs (SET/GET, -P 1 and -P 16, -c 50, -r 1000000,
-d 32), repeats each run and reports medians and node/Redis ratios; then loads 1M keys
(16-byte keys, 32-byte values) into each and reports bytes per key from INFO memory.
With --write, replaces the results section of BENCHMARKS.md.
"""
import argparse
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/autocache-target"))
NODE = os.path.join(TARGET, "release", "autocache-node")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not answer PING")


def taskset(cpus):
    return ["taskset", "-c", cpus] if cpus else []


def start_redis(port, cpus):
    p = subprocess.Popen(taskset(cpus) + ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(port)
    return p


def start_node(port, cpus, threads, data_dir):
    args = taskset(cpus) + [NODE, "--port", str(port), "--data-dir", data_dir]
    if threads:
        args += ["--threads", str(threads)]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(port)
    return p


def bench(port, test, pipeline, n, cpus):
    cmd = taskset(cpus) + ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50",
                           "-n", str(n), "-t", test, "-P", str(pipeline), "-r", "1000000", "-d", "32",
                           "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split('","')]
        if cols and cols[0].upper().startswith(test.upper()):
            return float(cols[1]), float(cols[5]) if len(cols) > 5 else 0.0  # rps, p50 ms
    raise RuntimeError(f"no result in redis-benchmark output: {out!r}")


def info_field(port, field):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "memory"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    raise RuntimeError(f"{field} not in INFO memory")


def bytes_per_key(port, keys):
    subprocess.run(["redis-cli", "-p", str(port), "flushall"], capture_output=True)
    time.sleep(0.5)
    before = info_field(port, "used_memory")
    value = b"v" * 32
    chunk = []
    for i in range(keys):
        k = b"key:%012d" % i
        chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\n" + k + b"\r\n$32\r\n" + value + b"\r\n")
    data = b"".join(chunk)
    r = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data, capture_output=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError(f"pipe load failed: {r.stdout[-300:]!r}")
    dbsize = int(subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True,
                                text=True).stdout.strip())
    time.sleep(0.5)  # let the node's allocator statistics refresh (10 ms tick)
    after = info_field(port, "used_memory")
    return (after - before) / dbsize, dbsize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md results")
    args = ap.parse_args()
    if not os.path.exists(NODE):
        sys.exit(f"{NODE} missing: run `make release` first")

    setups = [
        # (label, server cpus, client cpus, node threads)
        ("pinned: server on cpu1, client on cpu0", "1", "0", 1),
        ("unpinned: 2 cores shared", None, None, 0),
    ]
    rows = []
    import tempfile
    for label, scpu, ccpu, threads in setups:
        rport, nport = free_port(), free_port()
        with tempfile.TemporaryDirectory() as d:
            redis = start_redis(rport, scpu)
            node = start_node(nport, scpu, threads, d)
            try:
                for test in ("set", "get"):
                    for pipeline in (1, 16):
                        n = args.requests * (4 if pipeline > 1 else 1)
                        rr, nr = [], []
                        for _ in range(args.reps):  # interleave so drift hits both alike
                            rr.append(bench(rport, test, pipeline, n, ccpu)[0])
                            nr.append(bench(nport, test, pipeline, n, ccpu)[0])
                        r_med, n_med = statistics.median(rr), statistics.median(nr)
                        rows.append((label, test.upper(), pipeline, r_med, n_med, n_med / r_med))
                        print(f"{label:40} {test.upper():4} -P {pipeline:<3} redis {r_med:>10.0f}  "
                              f"node {n_med:>10.0f}  ratio {n_med / r_med:.2f}", flush=True)
            finally:
                redis.terminate()
                node.terminate()
                redis.wait()
                node.wait()

    rport, nport = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d:
        redis = start_redis(rport, None)
        node = start_node(nport, None, 0, d)
        try:
            rb, rk = bytes_per_key(rport, args.keys)
            nb, nk = bytes_per_key(nport, args.keys)
        finally:
            redis.terminate()
            node.terminate()
            redis.wait()
            node.wait()
    print(f"bytes/key ({args.keys} keys, 16 B keys, 32 B values): redis {rb:.1f} ({rk} keys)  "
          f"node {nb:.1f} ({nk} keys)  ratio {nb / rb:.2f}")

    if args.write:
        write_results(rows, (rb, nb, args.keys), args)


def write_results(rows, mem, args):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    redis_ver = subprocess.run(["redis-server", "--version"], capture_output=True,
                               text=True).stdout.split()[2]
    lines = [
        "<!-- results:start -->",
        f"Run {datetime.date.today()} on {platform.node()} ({os.cpu_count()} cores), commit `{commit}`, "
        f"redis-server {redis_ver}; medians of {args.reps} interleaved runs.",
        "",
        "| setup | test | pipeline | redis-server rps | autocache-node rps | node/redis |",
        "|---|---|---|---|---|---|",
    ]
    for label, test, p, r, n, ratio in rows:
        lines.append(f"| {label} | {test} | -P {p} | {r:,.0f} | {n:,.0f} | **{ratio:.2f}×** |")
    rb, nb, keys = mem
    lines += [
        "",
        f"| memory ({keys:,} keys, 16-byte keys, 32-byte values) | redis-server | autocache-node | node/redis |",
        "|---|---|---|---|",
        f"| bytes per key (INFO used_memory delta / DBSIZE) | {rb:.1f} | {nb:.1f} | **{nb / rb:.2f}×** |",
        "<!-- results:end -->",
    ]
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    start, end = text.index("<!-- results:start -->"), text.index("<!-- results:end -->")
    text = text[:start] + "\n".join(lines) + text[end + len("<!-- results:end -->"):]
    open(path, "w").write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
