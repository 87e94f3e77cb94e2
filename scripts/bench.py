#!/usr/bin/env python3
"""`make bench`: AutoCache against Debian's redis-server, same box, same clients, one command.

Starts redis-server (--save "" --appendonly no) and autocache-node on loopback and runs, in one
go, every section below; each measurement is repeated with the servers interleaved and the
median reported. The server runs pinned to cpu1 and the client to cpu0 (both servers get one
core: the node runs with --threads 1), except in the "unpinned" rows where everything shares
both cores and the node uses all of them.

Sections (add one by writing a function that returns Rows and listing it in section_list):
  redis-benchmark  SET/GET at -P 1 and -P 16 (-c 50 -r 1000000 -d 32), pinned and unpinned;
                   LPUSH, LPOP, SADD, HSET, ZADD, LRANGE_100 at -P 16
  loadtest         autocache-loadtest, zipf 0.99 over 1M keys, 90:10 GET:SET, pipeline
                   1/4/16/64 (the chart), after loading every key once
  memory           bytes per key: 1M SETs of 16-byte keys and 32-byte values through
                   redis-cli --pipe, INFO used_memory delta / DBSIZE
  proxy            redis-benchmark SET/GET -P 1/16 straight to a cluster-mode node (control +
                   1 node owning every slot) vs through an autocache-proxy in front of it, and
                   through a proxy in front of 3 nodes (--threads 1 each); req/s, p50, p99;
                   unpinned
  tiers            (a) --storage memory vs --storage tiered, everything in memory:
                   redis-benchmark SET/GET -P 1/16, pinned and unpinned; (b) 10x maxmemory of
                   1 KiB random values: autocache-loadtest zipf 0.99 GET-only against a tiered
                   node with --maxmemory vs a memory node holding it all, and the share of GETs
                   each tier served (INFO tiers deltas); (c) the same with half the values
                   demoted to an S3 cold tier on moto_server (skipped if it is not installed)
  migration        control + 2 nodes, N keys on node A: autocachectl migrate of slots 0-8191
                   to B (and back) timed until control lists no move: keys/s, MB/s; then the
                   p50/p99 of an open-loop autocache-loadtest --cluster and the throughput of a
                   closed-loop one, idle vs during a migration
  metrics          the same node without --metrics-addr vs with it and /metrics scraped
                   every second: redis-benchmark SET/GET -P 1/16, pinned and unpinned

Each section labels its own columns (baseline, ours, ratio): redis-server vs autocache-node,
direct vs through the proxy, --storage memory vs tiered, the goal vs the measured migration
speed, before vs during a migration. Prints one table per section with the command behind each
row. With --write, rewrites the results section of BENCHMARKS.md and bench/throughput.svg.
BENCH_QUICK=1 shrinks every run to a smoke test, and then writes (with --write) into a
scratch directory, never over the real results. AUTOCACHE_BIN_DIR=DIR takes the binaries
from DIR instead of $CARGO_TARGET_DIR/release.
"""
import argparse
import csv
import dataclasses
import datetime
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/autocache-target"))
BIN = os.environ.get("AUTOCACHE_BIN_DIR") or os.path.join(TARGET, "release")
NODE = os.path.join(BIN, "autocache-node")
PROXY = os.path.join(BIN, "autocache-proxy")
CONTROL = os.path.join(BIN, "autocache-control")
CTL = os.path.join(BIN, "autocachectl")
LOADTEST = os.path.join(BIN, "autocache-loadtest")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
MiB = 1 << 20

# Run sizes: full, and the smoke-test sizes of BENCH_QUICK=1.
SCALE = {
    "reps": 1 if QUICK else 3,
    "requests": 20_000 if QUICK else 200_000,  # redis-benchmark -n at -P 1 (x4 at -P 16)
    # -t lpush,...: 1M each, so that the fastest (LPUSH, ~1.7M req/s) runs long enough to settle.
    "types_requests": 20_000 if QUICK else 1_000_000,
    "keys": 100_000 if QUICK else 1_000_000,  # loadtest keyspace and memory test
    "duration": "1s" if QUICK else "4s",  # each loadtest run
    # tiers (b)/(c): maxmemory of the tiered node; the dataset is 10x that in 1 KiB values.
    "tier_maxmemory": 16 * MiB if QUICK else 64 * MiB,
    "tier_value": 1024,
    # migration: keys moved (issue 5: 1M keys of 32 bytes), open-loop rate of the client load.
    "migration_keys": 100_000 if QUICK else 1_000_000,
    "migration_value": 32,
    "migration_rate": 20_000,
}
PIPELINES = (1, 4, 16, 64)
SERVERS = ("redis", "node")
LABEL = {"redis": "redis-server", "node": "autocache-node"}
MIGRATION_GOAL = 100_000  # keys/s per node pair (issue 5)
VS_REDIS = ("redis-server", "autocache-node", "node/redis")
# What the baseline, ours and ratio columns mean, per Row.section (default VS_REDIS).
COLUMNS = {
    "proxy vs direct": ("direct to the node", "through the proxy", "proxy/direct"),
    "tiers: all hot": ("--storage memory", "--storage tiered", "tiered/memory"),
    "tiers: 10x maxmemory": ("memory, all of it", "tiered, maxmemory", "tiered/memory"),
    "tiers: S3 cold": ("memory, all of it", "tiered + S3 (moto)", "tiered+S3/memory"),
    "migration": ("goal", "measured", "measured/goal"),
    "migration: client": ("no migration", "during migration", "during/idle"),
    "metrics": ("no --metrics-addr", "--metrics-addr, scraped 1/s", "with/without"),
}


@dataclasses.dataclass
class Setup:
    """Where the processes run: cpus for taskset (None: anywhere) and node worker threads."""
    name: str
    server_cpus: str | None
    client_cpus: str | None
    node_threads: int


PINNED = Setup("pinned", "1", "0", 1)
UNPINNED = Setup("unpinned", None, None, 0)
ONE_WORKER = Setup("unpinned, one worker", None, None, 1)


@dataclasses.dataclass
class Row:
    """One line of the table: `base` is the section's baseline column (redis-server, direct,
    --storage memory, the goal, idle: see COLUMNS), `ours` what we measure against it."""
    section: str
    workload: str
    unit: str
    base: float | None
    ours: float | None
    command: str
    lower_is_better: bool = False
    note: str = ""

    def ratio(self):
        if not self.base or self.ours is None:
            return None
        return self.ours / self.base

    def columns(self):
        return COLUMNS.get(self.section, VS_REDIS)


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(cpus):
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


def redis_cli(port, *args, **kw):
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                          capture_output=True, text=kw.pop("text", True), timeout=60, **kw)


def wait_until(what, cond, timeout, interval=0.05):
    """Polls `cond` until it returns something true (returned); RuntimeError after `timeout`."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_ping(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        if redis_cli(port, "ping").stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING")


def wait_port(port, proc, timeout=30):
    """Until something accepts TCP connections on `port` (a gRPC or HTTP listener)."""
    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False
    wait_until(f"a listener on port {port}", up, timeout)


class Procs:
    """Processes started for one part of a section, with a scratch directory for their data
    and logs; all stopped (SIGTERM, then SIGKILL) and the directory removed on exit."""

    def __init__(self):
        self.procs = []
        self.tmp = tempfile.TemporaryDirectory(prefix="autocache-bench-")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for _, p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def start(self, name, cmd, cpus=None, env=None):
        with open(self.path(name + ".log"), "wb") as log:
            p = subprocess.Popen(taskset(cpus) + cmd, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
        self.procs.append((name, p))
        return p

    def log_tail(self, name, lines=15):
        try:
            with open(self.path(name + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def started(self, name, proc, wait):
        """Runs `wait()`; a failure carries the end of the process's log."""
        try:
            wait()
        except RuntimeError as e:
            raise RuntimeError(f"{name}: {e}\n--- {name} log ---\n{self.log_tail(name)}") from None


def start_node(procs, name, setup=UNPINNED, extra=(), env=None):
    """An autocache-node on a free loopback port with its data under the scratch dir; its
    RESP port once it answers PING."""
    port = free_port()
    cmd = [NODE, "--bind", "127.0.0.1", "--port", str(port), "--data-dir", procs.path(name),
           *extra]
    if setup.node_threads:
        cmd += ["--threads", str(setup.node_threads)]
    p = procs.start(name, cmd, setup.server_cpus, env)
    procs.started(name, p, lambda: wait_ping(port, p))
    return port


class Servers(Procs):
    """redis-server and autocache-node on loopback, pinned per `setup`; stopped on exit."""

    def __init__(self, setup):
        super().__init__()
        self.setup = setup
        self.ports = {}

    def __enter__(self):
        try:
            port = free_port()
            p = self.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                                     "--logfile", ""], self.setup.server_cpus)
            self.started("redis", p, lambda: wait_ping(port, p))
            self.ports["redis"] = port
            self.ports["node"] = start_node(self, "node", self.setup)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self


class Cluster:
    """autocache-control and `n` cluster-mode nodes (unpinned, heartbeat 100 ms) inside
    `procs`, the slots split evenly in node order (or all on the first node unless `spread`),
    every node running the resulting map."""

    def __init__(self, procs, name, n, spread=True, setup=UNPINNED):
        self.procs = procs
        port = free_port()
        self.control = f"127.0.0.1:{port}"
        p = procs.start(f"{name}-control", [CONTROL, "--addr", self.control, "--data-dir",
                                            procs.path(f"{name}-control")])
        procs.started(f"{name}-control", p, lambda: wait_port(port, p))
        self.nodes = []
        for i in range(n):
            grpc = f"127.0.0.1:{free_port()}"
            self.nodes.append(start_node(procs, f"{name}-node{i}", setup, [
                "--control", self.control, "--grpc-addr", grpc, "--heartbeat-interval",
                "100ms"]))
        wait_until(f"{n} nodes to register with control",
                   lambda: len(self.status()["nodes"]) == n, 60)
        owners = n if spread else 1
        per = 16384 // owners
        for i in range(owners):
            first, last = i * per, 16383 if i == owners - 1 else (i + 1) * per - 1
            self.ctl("assign", "--slots", f"{first}-{last}", "--to", self.addr(i))
        self.wait_settled()

    def addr(self, i):
        return f"127.0.0.1:{self.nodes[i]}"

    def ctl(self, *args):
        r = subprocess.run([CTL, "--control", self.control, "--json", *args],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"autocachectl {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout) if r.stdout.strip() else None

    def status(self):
        return self.ctl("status")

    def wait_settled(self, timeout=120):
        """No move listed and every node heartbeating the latest epoch."""
        def settled():
            s = self.status()
            return not s["moves"] and all(n["epoch"] >= s["epoch"] for n in s["nodes"])
        wait_until("the slot map to settle", settled, timeout)


def start_proxy(procs, name, control, cpus=None):
    """An autocache-proxy watching `control` (on `cpus`, if given); its port once it routes
    every slot."""
    port = free_port()
    p = procs.start(name, [PROXY, "--addr", f"127.0.0.1:{port}", "--control", control], cpus)

    def ready():
        wait_ping(port, p)
        wait_until("the proxy to route all 16384 slots", lambda: "cluster_slots_ok:16384" in
                   redis_cli(port, "cluster", "info").stdout, 60)
    procs.started(name, p, ready)
    return port


def interleaved(ports, run):
    """Median of SCALE['reps'] runs of `run(name, port)` per server in `ports` ({name:
    port}), alternating servers so that drift on the box hits all alike. `run` returns a
    number or a dict of numbers."""
    results = {name: [] for name in ports}
    for _ in range(SCALE["reps"]):
        for name, port in ports.items():
            results[name].append(run(name, port))
    return {name: median_of(vals) for name, vals in results.items()}


def median_of(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    if isinstance(vals[0], dict):
        return {k: median_of([v.get(k) for v in vals]) for k in vals[0]}
    return statistics.median(vals)


def shown(cmd):
    """A command line as the table shows it: the port is whichever server the row names."""
    out = []
    for i, a in enumerate(cmd):
        if i > 0 and cmd[i - 1] in ("-p", "--port"):
            a = "PORT"
        if a == LOADTEST:
            a = "autocache-loadtest"
        out.append(a if a and " " not in a and '"' not in a else json.dumps(a))
    return " ".join(out)


def info(port, section):
    """{field: text} of one INFO section."""
    out = {}
    for line in redis_cli(port, "info", section).stdout.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def pipe_load(port, keys, size, random_values=True):
    """SET key:%012d (the loadtest's key names) for every index below `keys` through
    redis-cli --pipe, with `size`-byte values: random (incompressible) unless told."""
    head = b"$%d\r\n" % size
    chunk = 10_000
    # redis-cli's output (error replies among it) goes to a file: a pipe nobody reads while
    # we write its input would fill up and stall both.
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                             stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        try:
            for first in range(0, keys, chunk):
                n = min(chunk, keys - first)
                vals = os.urandom(n * size) if random_values else b"v" * (n * size)
                p.stdin.write(b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n" % (first + j)
                                       + head + vals[j * size:(j + 1) * size] + b"\r\n"
                                       for j in range(n)))
            p.stdin.close()
            p.wait(timeout=1800)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out.seek(0)
        text = out.read()
    text = text.decode(errors="replace")
    if f"errors: 0, replies: {keys}" not in text:
        summary = text.strip().splitlines()[-1] if text.strip() else "no output"
        raise RuntimeError(f"redis-cli --pipe of {keys:,} SETs: {summary}; first reply: "
                           f"{text.splitlines()[0] if text else ''}")


# ---------------------------------------------------------------- redis-benchmark


def redis_benchmark_cmd(port, tests, pipeline, n):
    return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(n),
            "-t", tests, "-P", str(pipeline), "-r", "1000000", "-d", "32", "--csv"]


def redis_benchmark_stats(port, tests, pipeline, n, cpus):
    """{test name: {"rps", "p50", "p99" (ms)}} from one redis-benchmark run."""
    cmd = taskset(cpus) + redis_benchmark_cmd(port, tests, pipeline, n)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    stats = {}
    for row in csv.reader(io.StringIO(out)):
        # Skip the header and "LPUSH (needed to benchmark LRANGE)", the LRANGE set-up run.
        # Columns: test, rps, avg, min, p50, p95, p99, max latency (ms).
        if len(row) > 6 and row[0] != "test" and "needed" not in row[0]:
            stats[row[0].split(" ")[0]] = {"rps": float(row[1]), "p50": float(row[4]),
                                           "p99": float(row[6])}
    return stats


def redis_benchmark(port, tests, pipeline, n, cpus):
    """{test name: requests per second} from one redis-benchmark run."""
    return {t: s["rps"] for t, s in redis_benchmark_stats(port, tests, pipeline, n,
                                                           cpus).items()}


def section_redis_benchmark():
    rows = []
    for setup in (PINNED, UNPINNED):
        with Servers(setup) as s:
            for test in ("set", "get"):
                for p in (1, 16):
                    n = SCALE["requests"] * (4 if p > 1 else 1)
                    med = interleaved(s.ports, lambda name, port: redis_benchmark(
                        port, test, p, n, setup.client_cpus).get(test.upper()))
                    rows.append(Row("redis-benchmark", f"{test.upper()} -P {p} ({setup.name})",
                                    "req/s", med["redis"], med["node"],
                                    shown(redis_benchmark_cmd(0, test, p, n))))
                    report_progress(rows[-1])
    with Servers(PINNED) as s:
        tests = "lpush,lpop,sadd,hset,zadd,lrange_100"
        n = SCALE["types_requests"]
        med = interleaved(s.ports, lambda name, port: redis_benchmark(port, tests, 16, n,
                                                                      PINNED.client_cpus))
        cmd = shown(redis_benchmark_cmd(0, tests, 16, n))
        for test in ("LPUSH", "LPOP", "SADD", "HSET", "ZADD", "LRANGE_100"):
            rows.append(Row("redis-benchmark", f"{test} -P 16 (pinned)", "req/s",
                            (med["redis"] or {}).get(test), (med["node"] or {}).get(test), cmd))
            report_progress(rows[-1])
    return rows


# ---------------------------------------------------------------- autocache-loadtest


def loadtest_cmd(port, *extra):
    return [LOADTEST, "--port", str(port), "--clients", "50", "--threads", "1", *extra,
            "--no-progress"]


def workload_args(pipeline):
    return ["--pipeline", str(pipeline), "--keyspace", str(SCALE["keys"]),
            "--key-pattern", "zipf:0.99", "--ratio", "1:9", "--data-size", "32",
            "--duration", SCALE["duration"]]


def run_loadtest(cmd, cpus):
    """The JSON report of one autocache-loadtest run of `cmd`."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        r = subprocess.run(taskset(cpus) + cmd + ["--json", f.name], capture_output=True,
                           text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"autocache-loadtest failed: {r.stderr.strip()}")
        return json.load(open(f.name))


def loadtest(port, pipeline, cpus):
    """The loadtest JSON report of one run of the loadtest section's workload."""
    return run_loadtest(loadtest_cmd(port, *workload_args(pipeline)), cpus)


def populate(port, cpus):
    """Every key of the keyspace once, so GETs hit."""
    cmd = taskset(cpus) + loadtest_cmd(port, "--pipeline", "64", "--keyspace", str(SCALE["keys"]),
                                       "--key-pattern", "sequential", "--ratio", "1:0",
                                       "--requests", str(SCALE["keys"]))
    subprocess.run(cmd, capture_output=True, check=True, timeout=900)


def section_loadtest(chart):
    """redis-server and a standalone node, each pinned to the server core; for the chart also
    autocache-proxy in front of one cluster-mode node, the two sharing that same core (control
    unpinned, idle once the slots are assigned)."""
    rows = []
    with Servers(PINNED) as s:
        ports = dict(s.ports)
        try:
            behind = Cluster(s, "chart", 1, setup=PINNED)
            ports["proxy"] = start_proxy(s, "chart-proxy", behind.control, PINNED.server_cpus)
        except (RuntimeError, OSError) as e:
            print(f"  (chart: no proxy series: {first_line(e)})", flush=True)
        for port in ports.values():
            populate(port, PINNED.client_cpus)
        for p in PIPELINES:
            def run(name, port):
                rep = loadtest(port, p, PINNED.client_cpus)
                lat = rep["total"]["latency_ms"]
                return {"ops": rep["total"]["ops_per_sec"], "p50": lat["p50"],
                        "p90": lat["p90"], "p99": lat["p99"], "p99.9": lat["p99.9"],
                        "errors": rep["total"]["errors"] + rep["total"]["failed"]}
            med = interleaved(ports, run)
            chart["throughput"][p] = {n: med[n]["ops"] for n in ports}
            chart["latency"][p] = {n: {k: med[n][k] for k in ("p50", "p90", "p99", "p99.9")}
                                   for n in ports}
            cmd = shown(loadtest_cmd(0, *workload_args(p)))
            note = "" if not (med["node"]["errors"] or med["redis"]["errors"]) else "errors!"
            rows.append(Row("autocache-loadtest", f"zipf 0.99, 90:10 GET:SET, -P {p} (pinned)",
                            "ops/s", med["redis"]["ops"], med["node"]["ops"], cmd, note=note))
            report_progress(rows[-1])
            if p in (1, 16):
                rows.append(Row("autocache-loadtest", f"  p99 latency at -P {p}", "ms",
                                med["redis"]["p99"], med["node"]["p99"], cmd,
                                lower_is_better=True))
                report_progress(rows[-1])
    return rows


# ---------------------------------------------------------------- memory


def info_field(port, field):
    for line in redis_cli(port, "info", "memory").stdout.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    raise RuntimeError(f"{field} not in INFO memory")


def bytes_per_key(port, keys):
    redis_cli(port, "flushall")
    time.sleep(0.5)  # let the node's allocator statistics refresh (10 ms tick)
    before = info_field(port, "used_memory")
    value = b"v" * 32
    data = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\n" + b"key:%012d" % i + b"\r\n$32\r\n" + value
                    + b"\r\n" for i in range(keys))
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"], input=data,
                       capture_output=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError(f"pipe load failed: {r.stdout[-300:]!r}")
    dbsize = int(redis_cli(port, "dbsize").stdout.strip())
    time.sleep(0.5)
    after = info_field(port, "used_memory")
    return (after - before) / dbsize


def section_memory():
    keys = SCALE["keys"]
    with Servers(UNPINNED) as s:
        vals = {name: bytes_per_key(s.ports[name], keys) for name in SERVERS}
    row = Row("memory", f"bytes per key ({keys:,} keys, 16 B keys, 32 B values)", "bytes",
              vals["redis"], vals["node"],
              f"redis-cli --pipe < {keys} x SET key:%012d <32 B>; "
              "INFO used_memory delta / DBSIZE", lower_is_better=True)
    report_progress(row)
    return [row]


# ---------------------------------------------------------------- proxy


PROXY_GOAL = {1: 0.9, 16: 0.7}  # proxy/direct at -P 1 and -P 16 (issue 6)


def section_proxy():
    """redis-benchmark straight to a cluster-mode node owning every slot vs through a proxy in
    front of it, and through a proxy in front of 3 nodes; interleaved, unpinned (the proxy
    needs a core of its own as much as the node and the client do)."""
    sec = "proxy vs direct"
    rows = []
    with Procs() as procs:
        one = Cluster(procs, "one", 1)
        # Three nodes on two cores run one worker each, as three redis-servers would: with a
        # worker per core each, their threads crowd out the proxy and the client (7-11 %
        # fewer requests/s through the proxy at -P 16).
        three = Cluster(procs, "three", 3, setup=ONE_WORKER)
        ports = {"direct": one.nodes[0],
                 "proxy": start_proxy(procs, "proxy-one", one.control),
                 "proxy3": start_proxy(procs, "proxy-three", three.control)}
        for test in ("set", "get"):
            for p in (1, 16):
                n = SCALE["requests"] * (4 if p > 1 else 1)
                med = interleaved(ports, lambda name, port: redis_benchmark_stats(
                    port, test, p, n, None).get(test.upper()))
                d, x, x3 = (med[k] or {} for k in ("direct", "proxy", "proxy3"))
                cmd = shown(redis_benchmark_cmd(0, test, p, n))
                goal = f"goal {PROXY_GOAL[p]}x"
                for row in (
                        Row(sec, f"{test.upper()} -P {p}, proxy -> 1 node (unpinned)", "req/s",
                            d.get("rps"), x.get("rps"), cmd, note=goal),
                        Row(sec, "  p50 latency", "ms", d.get("p50"), x.get("p50"), cmd, True),
                        Row(sec, "  p99 latency", "ms", d.get("p99"), x.get("p99"), cmd, True),
                        Row(sec, f"{test.upper()} -P {p}, proxy -> 3 nodes, 1 worker each "
                            "(vs direct to 1)", "req/s", d.get("rps"), x3.get("rps"), cmd,
                            note=goal)):
                    rows.append(row)
                    report_progress(row)
    return rows


# ---------------------------------------------------------------- tiers


def wait_flushed(port, timeout=600):
    """Until a tiered node's write-behind has caught up (INFO tiers dirty_keys:0)."""
    wait_until("the write-behind to flush", lambda: info(port, "tiers").get(
        "dirty_keys", "0") == "0", timeout, 0.1)


def tier_counters(port):
    """GET calls (INFO commandstats), loads into memory (warm_loads: from RocksDB, cold
    promotions included), cold promotions, keyspace misses."""
    tiers, stats = info(port, "tiers"), info(port, "stats")
    calls = info(port, "commandstats").get("cmdstat_get", "calls=0").split(",")[0]
    return {"gets": int(calls.split("=")[1]), "loads": int(tiers.get("warm_loads", 0)),
            "cold": int(tiers.get("cold_promotions", 0)),
            "misses": int(stats.get("keyspace_misses", 0))}


def tiers_hot():
    """(a) --storage memory vs tiered, no maxmemory: every key stays in memory, the tiered
    node also writes each change behind to RocksDB. After every run, until the write-behind
    has drained, so that it does not run into the next measurement."""
    sec = "tiers: all hot"
    rows = []
    for setup in (PINNED, UNPINNED):
        with Procs() as procs:
            ports = {"memory": start_node(procs, "memory", setup, ["--storage", "memory"]),
                     "tiered": start_node(procs, "tiered", setup, ["--storage", "tiered"])}
            for test in ("set", "get"):
                for p in (1, 16):
                    n = SCALE["requests"] * (4 if p > 1 else 1)
                    # Writes run 5x as long (-P 16: ~14 s): RocksDB flushes and compacts
                    # behind them, and a 2.5 s burst ends before most of that work (a 16 MB
                    # memtable measured +27 % in bursts, -7 % over 4M SETs).
                    if test == "set":
                        n *= 5

                    def run(name, port):
                        rps = redis_benchmark(port, test, p, n, setup.client_cpus)
                        wait_flushed(port)
                        return rps.get(test.upper())
                    med = interleaved(ports, run)
                    rows.append(Row(sec, f"{test.upper()} -P {p} ({setup.name})", "req/s",
                                    med["memory"], med["tiered"],
                                    shown(redis_benchmark_cmd(0, test, p, n)), note="goal 0.8x"))
                    report_progress(rows[-1])
    return rows


def start_cold_node(procs, args, warm_max, seg):
    """(c): moto_server (unpinned) with a bucket, and a node with `args` plus an S3 cold tier
    on it, the warm tier bounded to `warm_max` bytes, segments of `seg` bytes. Its port, or
    None when moto_server is not installed."""
    moto = shutil.which("moto_server")
    if not moto:
        return None
    port = free_port()
    p = procs.start("moto", [moto, "-H", "127.0.0.1", "-p", str(port)])
    procs.started("moto", p, lambda: wait_port(port, p))
    url = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(url + "/bench", method="PUT"),
                           timeout=30).read()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1")
    return start_node(procs, "cold", PINNED, args + [
        "--s3-bucket", "bench", "--s3-endpoint", url, "--s3-path-style",
        "--warm-max-bytes", str(warm_max), "--s3-segment-bytes", str(seg)], env)


def wait_demoted(port, timeout):
    """Until the demoter stopped moving values to S3 (cold_keys unchanged for 3 s); their
    count."""
    last, since, deadline = -1, time.time(), time.time() + timeout
    while time.time() < deadline:
        n = int(info(port, "tiers").get("cold_keys", 0))
        if n != last:
            last, since = n, time.time()
        elif n > 0 and time.time() - since >= 3:
            return n
        time.sleep(0.25)
    raise RuntimeError(f"demotion to S3 did not settle in {timeout} s (cold_keys {last})")


def layout(port):
    """Where the keys are, from INFO tiers."""
    t = info(port, "tiers")
    text = (f"after loading: {int(t.get('memory_keys', 0)):,} keys in memory, "
            f"{int(t.get('warm_only_keys', 0)):,} only in RocksDB")
    if "cold_keys" in t:
        text += f" ({int(t['cold_keys']):,} of them pointers to S3)"
    return text


def tiers_big():
    """(b) a dataset 10x the tiered node's maxmemory (random 1 KiB values), zipf 0.99 GETs,
    against a memory node holding all of it; (c) the same with an S3 cold tier holding about
    half. GET-only, so the split of GETs between tiers comes from INFO deltas: memory = GETs -
    warm_loads, RocksDB = warm_loads - cold_promotions, S3 = cold_promotions."""
    maxmem, size = SCALE["tier_maxmemory"], SCALE["tier_value"]
    keys = 10 * maxmem // size
    tiered = ["--storage", "tiered", "--maxmemory", str(maxmem), "--maxmemory-policy",
              "allkeys-lru"]
    big, cold = [], []
    with Procs() as procs:
        ports = {"memory": start_node(procs, "memory", PINNED, ["--storage", "memory"]),
                 "tiered": start_node(procs, "tiered", PINNED, tiered)}
        cold_note = ""
        try:
            # Segments are built in memory, which used_memory counts against maxmemory: the
            # 8mb default with a 16mb maxmemory gets SETs refused with OOM.
            cold_port = start_cold_node(procs, tiered, keys * size // 2, maxmem // 16)
            if cold_port is None:
                cold_note = "skipped: moto_server not installed (pip install 'moto[server]')"
            else:
                ports["cold"] = cold_port
        except (RuntimeError, OSError) as e:
            cold_note = f"FAILED to start: {first_line(e)}"
        loaded = {}
        for name, port in list(ports.items()):
            t0 = time.time()
            try:
                pipe_load(port, keys, size)
            except RuntimeError as e:
                if name != "cold":
                    raise
                cold_note = f"FAILED loading: {first_line(e)}"
                del ports["cold"]
                continue
            wait_flushed(port)
            loaded[name] = time.time() - t0
        if "cold" in ports:
            try:
                wait_demoted(ports["cold"], 120 if QUICK else 600)
            except RuntimeError as e:
                cold_note = f"FAILED: {first_line(e)}"
                del ports["cold"]
        notes = {name: layout(port) for name, port in ports.items() if name != "memory"}
        mb = maxmem // MiB
        for p in (1, 16):
            args = ["--pipeline", str(p), "--keyspace", str(keys), "--key-pattern", "zipf:0.99",
                    "--ratio", "0:1", "--duration", SCALE["duration"]]
            for port in ports.values():  # warm-up: the hot keys find their tier
                run_loadtest(loadtest_cmd(port, *args), PINNED.client_cpus)

            def run(name, port):
                before = tier_counters(port)
                rep = run_loadtest(loadtest_cmd(port, *args), PINNED.client_cpus)
                after = tier_counters(port)
                d = {k: after[k] - before[k] for k in after}
                gets = d["gets"] or 1
                return {"ops": rep["total"]["ops_per_sec"],
                        "p99": rep["total"]["latency_ms"]["p99"],
                        "memory": 100 * (d["gets"] - d["loads"]) / gets,
                        "warm": 100 * (d["loads"] - d["cold"]) / gets,
                        "cold": 100 * d["cold"] / gets, "misses": d["misses"],
                        "errors": rep["total"]["errors"] + rep["total"]["failed"]}
            med = interleaved(ports, run)
            cmd = shown(loadtest_cmd(0, *args))
            m = med["memory"]
            for name, sec, out in (("tiered", "tiers: 10x maxmemory", big),
                                   ("cold", "tiers: S3 cold", cold)):
                r = med.get(name)
                if r is None:
                    continue
                bad = "errors! " if r["errors"] or m["errors"] else ""
                bad += f"{r['misses']:,.0f} misses! " if r["misses"] else ""
                what = (f"10x maxmemory {mb}mb" if name == "tiered" else
                        f"maxmemory {mb}mb, --warm-max-bytes half the values, S3 on moto")
                out.append(Row(sec, f"zipf 0.99 GET, {keys:,} x {size} B random values "
                               f"({what}), -P {p} (pinned)", "ops/s", m["ops"], r["ops"], cmd,
                               note=f"{bad}goal 0.5x" + (f"; {notes[name]}" if p == 1 else "")))
                out.append(Row(sec, "  p99 latency", "ms", m["p99"], r["p99"], cmd, True))
                shares = [("memory", "memory"), ("warm", "RocksDB (warm_loads)")]
                if name == "cold":
                    shares.append(("cold", "S3 (cold_promotions)"))
                for k, label in shares:
                    out.append(Row(sec, f"  GETs served from {label}", "%", None, r[k], cmd,
                                   note="share of the run's GETs, INFO deltas"))
                for row in out[-2 - len(shares):]:
                    report_progress(row)
        secs = ", ".join(f"{n} {s:.1f} s" for n, s in loaded.items())
        print(f"  (loading {keys:,} keys + write-behind drain: {secs})", flush=True)
    if not cold:
        cold.append(Row("tiers: S3 cold", "zipf 0.99 GET with an S3 cold tier on moto_server",
                        "", None, None, "", note=cold_note or "not measured"))
        report_progress(cold[-1])
    return big + cold


def section_tiers():
    return tiers_hot() + tiers_big()


# ---------------------------------------------------------------- migration


def dbsize(port):
    return int(redis_cli(port, "dbsize").stdout.strip())


def migrate_timed(cluster, slots, src, dst):
    """`autocachectl migrate` of `slots` from node `src` to node `dst`, which returns once
    control lists no move (it polls every 200 ms); (seconds, keys the target gained)."""
    before = dbsize(cluster.nodes[dst])
    t0 = time.monotonic()
    r = subprocess.run([CTL, "--control", cluster.control, "migrate", "--slots", slots,
                        "--from", cluster.addr(src), "--to", cluster.addr(dst)],
                       capture_output=True, text=True, timeout=1800)
    secs = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"autocachectl migrate: {r.stderr.strip()}")
    cluster.wait_settled()
    return secs, dbsize(cluster.nodes[dst]) - before


def cluster_loadtest_cmd(cluster, *extra):
    seeds = ",".join(cluster.addr(i) for i in range(len(cluster.nodes)))
    return [LOADTEST, "--cluster", seeds, "--clients", "50", "--threads", "1", *extra,
            "--no-progress"]


def section_migration():
    """Control + 2 nodes (unpinned), every key on node A. Migration speed: slots 0-8191 moved
    back and forth SCALE['reps'] times with nothing else running, median. Then a client
    (autocache-loadtest --cluster, following MOVED/ASK) idle vs while the same slots move:
    open loop at a fixed rate for latency, closed loop for throughput; each run lasts as long
    as an unloaded migration took, so the 'during' one falls inside the slower loaded one."""
    keys, size = SCALE["migration_keys"], SCALE["migration_value"]
    half = "0-8191"
    rows, client = [], []
    with Procs() as procs:
        c = Cluster(procs, "mig", 2, spread=False)
        pipe_load(c.nodes[0], keys, size)
        owner, runs = 0, []
        for _ in range(SCALE["reps"]):
            secs, moved = migrate_timed(c, half, owner, 1 - owner)
            owner = 1 - owner
            runs.append({"keys": moved / secs, "mb": moved * (16 + size) / secs / 1e6,
                         "secs": secs, "moved": moved})
        med = median_of(runs)
        ctl_cmd = (f"autocachectl --control CONTROL migrate --slots {half} --from A --to B "
                   "(waits until control lists no move)")
        rows.append(Row("migration", f"{med['moved']:,.0f} keys x {size} B (slots {half}) "
                        "between 2 nodes, no client load", "keys/s", MIGRATION_GOAL,
                        med["keys"], ctl_cmd,
                        note=f"{med['secs']:.2f} s, {1000 * med['secs'] / 8192:.2f} ms per "
                        "slot; " + (f"median of {len(runs)}, alternating A->B, B->A"
                                    if len(runs) > 1 else "one run")))
        rows.append(Row("migration", "  payload moved (16 B keys + values)", "MB/s", None,
                        med["mb"], ctl_cmd, note="no goal set"))
        for row in rows:
            report_progress(row)

        window = f"{max(500, int(med['secs'] * 1000))}ms"
        workload = ["--keyspace", str(keys), "--key-pattern", "uniform", "--ratio", "1:9",
                    "--data-size", str(size)]
        rate = ["--rate", str(SCALE["migration_rate"])]
        for kind, extra in (("open", rate), ("closed", [])):
            cmd = cluster_loadtest_cmd(c, *workload, *extra, "--duration", window)
            idle = run_loadtest(cmd, None)
            with tempfile.NamedTemporaryFile(suffix=".json") as f:
                lt = subprocess.Popen(cmd + ["--json", f.name], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
                try:
                    time.sleep(0.2)  # connected, load flowing
                    secs, moved = migrate_timed(c, half, owner, 1 - owner)
                    owner = 1 - owner
                    _, err = lt.communicate(timeout=900)
                finally:
                    if lt.poll() is None:
                        lt.kill()
                        lt.wait()
                if lt.returncode != 0:
                    raise RuntimeError(f"autocache-loadtest failed: {err.strip()}")
                during = json.load(open(f.name))
            total = {"idle": idle["total"], "during": during["total"]}
            errors = sum(t["errors"] + t["failed"] for t in total.values())
            last = during.get("last_error") or idle.get("last_error")
            bad = (f"{errors:,} error replies or unanswered requests! "
                   + (f"(last connection error: {last}) " if last else "")) if errors else ""
            shown_cmd = shown(cmd).replace(c.addr(0), "A").replace(c.addr(1), "B")
            mig = (f"migration under this load {secs:.2f} s = {moved / secs:,.0f} keys/s; "
                   f"window {window}, redirects followed {during['redirects']:,}")
            rows.append(Row("migration", f"  while a {kind}-loop client runs", "keys/s",
                            MIGRATION_GOAL, moved / secs, ctl_cmd))
            report_progress(rows[-1])
            lat = {k: t["latency_ms"] for k, t in total.items()}
            ops = {k: t["ops_per_sec"] for k, t in total.items()}
            if kind == "open":
                what = f"open loop {SCALE['migration_rate']:,} req/s, 90:10 GET:SET uniform"
                client += [
                    Row("migration: client", f"{what}: p50", "ms", lat["idle"]["p50"],
                        lat["during"]["p50"], shown_cmd, True, bad + mig),
                    Row("migration: client", "  p99", "ms", lat["idle"]["p99"],
                        lat["during"]["p99"], shown_cmd, True, "goal < 5x"),
                    Row("migration: client", "  throughput achieved", "ops/s", ops["idle"],
                        ops["during"], shown_cmd)]
            else:
                client += [
                    Row("migration: client", "closed loop 50 clients -P 1, 90:10 GET:SET "
                        "uniform: throughput", "ops/s", ops["idle"], ops["during"], shown_cmd,
                        note=bad + mig),
                    Row("migration: client", "  p99", "ms", lat["idle"]["p99"],
                        lat["during"]["p99"], shown_cmd, True)]
            for row in client[-3 if kind == "open" else -2:]:
                report_progress(row)
        total_keys = dbsize(c.nodes[0]) + dbsize(c.nodes[1])
        if total_keys != keys:
            rows[0].note += f"; {total_keys:,} keys on the nodes afterwards, {keys:,} loaded!"
    return rows + client


# ---------------------------------------------------------------- metrics


class Scraper:
    """GETs /metrics of `addr` every second on a thread, as Prometheus would, until stopped
    (or an hour passed); counts scrapes, failures and bytes."""

    def __init__(self, addr):
        self.url = f"http://{addr}/metrics"
        self.stop = threading.Event()
        self.ok = self.failed = self.bytes = 0
        self.last = ""
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        deadline = time.monotonic() + 3600
        while not self.stop.wait(1.0) and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    self.last = r.read().decode()
                self.ok += 1
                self.bytes += len(self.last)
            except OSError:
                self.failed += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)


def section_metrics():
    """The same release node twice, interleaved: without --metrics-addr, and with it while a
    scraper reads /metrics every second; redis-benchmark SET/GET as section_redis_benchmark."""
    rows = []
    for setup in (PINNED, UNPINNED):
        with Procs() as procs:
            maddr = f"127.0.0.1:{free_port()}"
            ports = {"off": start_node(procs, "off", setup),
                     "on": start_node(procs, "on", setup, ["--metrics-addr", maddr])}
            with Scraper(maddr) as scraper:
                for test in ("set", "get"):
                    for p in (1, 16):
                        n = SCALE["requests"] * (4 if p > 1 else 1)
                        med = interleaved(ports, lambda name, port: redis_benchmark(
                            port, test, p, n, setup.client_cpus).get(test.upper()))
                        rows.append(Row("metrics", f"{test.upper()} -P {p} ({setup.name})",
                                        "req/s", med["off"], med["on"],
                                        shown(redis_benchmark_cmd(0, test, p, n))))
                        report_progress(rows[-1])
            histogram = 'autocache_node_command_duration_seconds_bucket{cmd="get",le="+Inf"}'
            if scraper.failed or not scraper.ok or histogram not in scraper.last:
                raise RuntimeError(f"scraper: {scraper.ok} scrapes, {scraper.failed} failed, "
                                   f"histogram {'seen' if histogram in scraper.last else 'missing'}")
            rows[-1].note = (f"({setup.name}: {scraper.ok} scrapes of "
                             f"{scraper.bytes / scraper.ok / 1024:.0f} KiB, none failed)")
    return rows


# ---------------------------------------------------------------- output


def first_line(e):
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def report_progress(row):
    base, ours, ratio = row.columns()
    r = row.ratio()
    if r is not None:
        vals = f"{base} {fmt(row.base)}  {ours} {fmt(row.ours)}  {ratio} {r:.2f}"
    elif row.ours is not None:
        vals = f"{fmt(row.ours)} {row.unit}" + (f" ({row.note})" if row.note else "")
    else:
        vals = row.note or "n/a"
    print(f"  {row.section:18} {row.workload.strip():45} {vals}", flush=True)


def fmt(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def cells(row):
    """The baseline and ours cells: "—" for a baseline a row has no use for (a share, a
    figure without goal), "n/a" for a measurement that did not happen."""
    base = "—" if row.base is None and row.ours is not None else fmt(row.base)
    return base, fmt(row.ours)


def ratio_text(row):
    r = row.ratio()
    if r is None:
        return row.note or "n/a"
    better = r < 1 if row.lower_is_better else r > 1
    arrow = "better" if better else "worse" if abs(r - 1) > 0.005 else "same"
    return f"{r:.2f}x ({arrow})" + (f" {row.note}" if row.note else "")


def by_section(rows):
    """[(section, rows)] for each run of consecutive rows of one section."""
    groups = []
    for r in rows:
        if groups and groups[-1][0] == r.section:
            groups[-1][1].append(r)
        else:
            groups.append((r.section, [r]))
    return groups


def print_table(rows):
    """One table per section, its columns named after what that section compares."""
    for section, group in by_section(rows):
        head = (section, "unit", *group[0].columns())
        body = [(r.workload, r.unit, *cells(r), ratio_text(r)) for r in group]
        widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]

        def line(cols):
            return "  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()
        print()
        print(line(head))
        print(line(["-" * w for w in widths]))
        last = None
        for r, cols in zip(group, body):
            print(line(cols))
            if r.command and r.command != last:  # sub-rows of the same run: shown once
                print("    $ " + r.command)
            last = r.command


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} ({cpu}, {os.cpu_count()} cores, Linux {platform.release()})"


def commit():
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return sha + (" + uncommitted changes" if dirty else "")


def results_markdown(rows, svg_rel):
    redis_ver = subprocess.run(["redis-server", "--version"], capture_output=True,
                               text=True).stdout.split()[2].removeprefix("v=")
    lines = [
        "<!-- results:start -->",
        f"Run {datetime.date.today()} on {machine()}, commit `{commit()}`, redis-server "
        f"{redis_ver}; medians of {SCALE['reps']} interleaved run{'s' if SCALE['reps'] > 1 else ''}"
        + (" (BENCH_QUICK smoke run: sizes shrunk, not comparable)" if QUICK else "") + ".",
        "Pinned: servers on cpu1 (node with `--threads 1`), client on cpu0. Unpinned: both "
        "cores shared, node on all of them. Each table names what its two columns compare; "
        "the ratio is the second over the first.",
    ]
    for section, group in by_section(rows):
        base, ours, ratio_label = group[0].columns()
        lines += ["", f"| {section} | {base} | {ours} | {ratio_label} | command |",
                  "|---|---|---|---|---|"]
        for r in group:
            b, o = cells(r)
            if r.unit:
                b += f" {r.unit}" if r.base is not None else ""
                o += f" {r.unit}" if r.ours is not None else ""
            cmd = f"`{r.command}`" if r.command else ""
            ratio = ratio_text(r)
            ratio = f"**{ratio}**" if r.ratio() is not None else ratio
            lines.append(f"| {r.workload.strip()} | {b} | {o} | {ratio} | {cmd} |")
    if svg_rel:
        lines += ["", f"![Throughput by pipeline depth and latency percentiles]({svg_rel})"]
    lines.append("<!-- results:end -->")
    return "\n".join(lines)


def write_results(path, markdown):
    text = open(path).read()
    start, end = text.index("<!-- results:start -->"), text.index("<!-- results:end -->")
    text = text[:start] + markdown + text[end + len("<!-- results:end -->"):]
    open(path, "w").write(text)


# ---------------------------------------------------------------- main


def main():
    # SIGTERM unwinds like Ctrl-C, so that every server started is stopped and its files go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true",
                    help="rewrite the results section of BENCHMARKS.md and bench/throughput.svg")
    ap.add_argument("--out", help="directory holding BENCHMARKS.md and bench/ (default: the "
                    "repository; with BENCH_QUICK=1 a scratch directory)")
    ap.add_argument("--sections", default="all",
                    help="comma-separated: " + ",".join(name for name, _ in section_list({})))
    args = ap.parse_args()
    names = [name for name, _ in section_list({})]
    wanted = names if args.sections == "all" else args.sections.split(",")
    unknown = [w for w in wanted if w not in names]
    if unknown:
        sys.exit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    missing = sorted({path for name in wanted for path in NEEDS[name]
                      if not os.path.exists(path)})
    if missing:
        sys.exit(f"missing {', '.join(missing)}: build them first (`make bench` does: cargo "
                 "build --release -p autocache-node -p autocache-proxy -p autocache-control "
                 "-p autocache-loadtest)")
    chart = {"throughput": {}, "latency": {}}
    rows, failed = [], []
    for name, run in section_list(chart):
        if name in wanted:
            print(f"[{name}]", flush=True)
            try:
                rows += run()
            except Exception as e:  # one broken section must not throw away the others
                traceback.print_exc()
                failed.append(name)
                rows.append(Row(name, "(section failed)", "", None, None, "",
                                note=f"FAILED: {first_line(e)}"))
    print_table(rows)
    if args.write:
        write(args, rows, chart)
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see the tracebacks above)")


def write(args, rows, chart):
    out = args.out or (os.path.join(tempfile.gettempdir(), "autocache-bench-quick") if QUICK
                       else ROOT)
    os.makedirs(os.path.join(out, "bench"), exist_ok=True)
    md = os.path.join(out, "BENCHMARKS.md")
    if not os.path.exists(md):
        shutil.copy(os.path.join(ROOT, "BENCHMARKS.md"), md)
    svg_rel = "bench/throughput.svg" if chart["throughput"] else None
    # Before anything is written: the commit line must not count this run's own chart as
    # an uncommitted change.
    markdown = results_markdown(rows, svg_rel)
    if svg_rel:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_svg import chart_svg
        with open(os.path.join(out, svg_rel), "w") as f:
            f.write(chart_svg(chart, "autocache-loadtest, 50 clients, zipf 0.99, 90:10 GET:SET; "
                                     "servers on one core, the client on the other"))
        print(f"wrote {os.path.join(out, svg_rel)}")
    write_results(md, markdown)
    print(f"wrote {md}")


def section_list(chart):
    return [
        ("redis-benchmark", section_redis_benchmark),
        ("loadtest", lambda: section_loadtest(chart)),
        ("memory", section_memory),
        ("proxy", section_proxy),
        ("tiers", section_tiers),
        ("migration", section_migration),
        ("metrics", section_metrics),
    ]


# The binaries each section runs.
NEEDS = {
    "redis-benchmark": [NODE],
    "loadtest": [NODE, LOADTEST],
    "memory": [NODE],
    "proxy": [NODE, CONTROL, CTL, PROXY],
    "tiers": [NODE, LOADTEST],
    "migration": [NODE, CONTROL, CTL, LOADTEST],
    "metrics": [NODE],
}


if __name__ == "__main__":
    main()
