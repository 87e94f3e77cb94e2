#!/usr/bin/env python3
"""`make bench`: AutoCache against Debian's redis-server, same box, same clients, one command.

Starts redis-server (--save "" --appendonly no) and autocache-node on loopback and runs, in one
go, every section below; each measurement is repeated with the servers interleaved and the
median reported. The server runs pinned to cpu1 and the client to cpu0 (both servers get one
core: the node runs with --threads 1), except in the "unpinned" rows where everything shares
both cores and the node uses all of them.

Sections (add one by writing a function that returns Rows and listing it in SECTIONS):
  redis-benchmark  SET/GET at -P 1 and -P 16 (-c 50 -r 1000000 -d 32), pinned and unpinned;
                   LPUSH, LPOP, SADD, HSET, ZADD, LRANGE_100 at -P 16
  loadtest         autocache-loadtest, zipf 0.99 over 1M keys, 90:10 GET:SET, pipeline
                   1/4/16/64 (the chart), after loading every key once
  memory           bytes per key: 1M SETs of 16-byte keys and 32-byte values through
                   redis-cli --pipe, INFO used_memory delta / DBSIZE
  proxy, tiers, migration   reported as not available until those tiers exist

Prints one table of ratios with the command behind each row. With --write, rewrites the
results section of BENCHMARKS.md and bench/throughput.svg. BENCH_QUICK=1 shrinks every run to
a smoke test, and then writes (with --write) into a scratch directory, never over the real
results.
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
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/autocache-target"))
NODE = os.path.join(TARGET, "release", "autocache-node")
LOADTEST = os.path.join(TARGET, "release", "autocache-loadtest")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

# Run sizes: full, and the smoke-test sizes of BENCH_QUICK=1.
SCALE = {
    "reps": 1 if QUICK else 3,
    "requests": 20_000 if QUICK else 200_000,  # redis-benchmark -n at -P 1 (x4 at -P 16)
    "types_requests": 20_000 if QUICK else 200_000,
    "keys": 100_000 if QUICK else 1_000_000,  # loadtest keyspace and memory test
    "duration": "1s" if QUICK else "4s",  # each loadtest run
}
PIPELINES = (1, 4, 16, 64)
SERVERS = ("redis", "node")
LABEL = {"redis": "redis-server", "node": "autocache-node"}


@dataclasses.dataclass
class Setup:
    """Where the processes run: cpus for taskset (None: anywhere) and node worker threads."""
    name: str
    server_cpus: str | None
    client_cpus: str | None
    node_threads: int


PINNED = Setup("pinned", "1", "0", 1)
UNPINNED = Setup("unpinned", None, None, 0)


@dataclasses.dataclass
class Row:
    section: str
    workload: str
    unit: str
    redis: float | None
    node: float | None
    command: str
    lower_is_better: bool = False
    note: str = ""

    def ratio(self):
        if not self.redis or self.node is None:
            return None
        return self.node / self.redis


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(cpus):
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


def redis_cli(port, *args, **kw):
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                          capture_output=True, text=kw.pop("text", True), **kw)


def wait_ping(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        if redis_cli(port, "ping").stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer PING")


class Servers:
    """redis-server and autocache-node on loopback, pinned per `setup`; stopped on exit."""

    def __init__(self, setup):
        self.setup = setup
        self.procs = {}
        self.ports = {}
        self.tmp = tempfile.TemporaryDirectory(prefix="autocache-bench-")

    def __enter__(self):
        cpus = taskset(self.setup.server_cpus)
        port = free_port()
        self.procs["redis"] = subprocess.Popen(
            cpus + ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ports["redis"] = port
        port = free_port()
        args = [NODE, "--bind", "127.0.0.1", "--port", str(port), "--data-dir", self.tmp.name]
        if self.setup.node_threads:
            args += ["--threads", str(self.setup.node_threads)]
        self.procs["node"] = subprocess.Popen(cpus + args, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
        self.ports["node"] = port
        try:
            for name in SERVERS:
                wait_ping(self.ports[name], self.procs[name])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def flush(self):
        for name in SERVERS:
            redis_cli(self.ports[name], "flushall")


def interleaved(servers, run):
    """Median of SCALE['reps'] runs of `run(name, port)` per server, alternating servers so
    that drift on the box hits both alike. `run` returns a number or a dict of numbers."""
    results = {name: [] for name in SERVERS}
    for _ in range(SCALE["reps"]):
        for name in SERVERS:
            results[name].append(run(name, servers.ports[name]))
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


# ---------------------------------------------------------------- redis-benchmark


def redis_benchmark_cmd(port, tests, pipeline, n):
    return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(n),
            "-t", tests, "-P", str(pipeline), "-r", "1000000", "-d", "32", "--csv"]


def redis_benchmark(port, tests, pipeline, n, cpus):
    """{test name: requests per second} from one redis-benchmark run."""
    cmd = taskset(cpus) + redis_benchmark_cmd(port, tests, pipeline, n)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    rps = {}
    for row in csv.reader(io.StringIO(out)):
        # Skip the header and "LPUSH (needed to benchmark LRANGE)", the LRANGE set-up run.
        if len(row) > 1 and row[0] != "test" and "needed" not in row[0]:
            rps[row[0].split(" ")[0]] = float(row[1])
    return rps


def section_redis_benchmark():
    rows = []
    for setup in (PINNED, UNPINNED):
        with Servers(setup) as s:
            for test in ("set", "get"):
                for p in (1, 16):
                    n = SCALE["requests"] * (4 if p > 1 else 1)
                    med = interleaved(s, lambda name, port: redis_benchmark(
                        port, test, p, n, setup.client_cpus).get(test.upper()))
                    rows.append(Row("redis-benchmark", f"{test.upper()} -P {p} ({setup.name})",
                                    "req/s", med["redis"], med["node"],
                                    shown(redis_benchmark_cmd(0, test, p, n))))
                    report_progress(rows[-1])
    with Servers(PINNED) as s:
        tests = "lpush,lpop,sadd,hset,zadd,lrange_100"
        n = SCALE["types_requests"]
        med = interleaved(s, lambda name, port: redis_benchmark(port, tests, 16, n,
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


def loadtest(port, pipeline, cpus):
    """The loadtest JSON report of one run."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = taskset(cpus) + loadtest_cmd(port, *workload_args(pipeline), "--json", f.name)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"autocache-loadtest failed: {r.stderr.strip()}")
        return json.load(open(f.name))


def populate(port, cpus):
    """Every key of the keyspace once, so GETs hit."""
    cmd = taskset(cpus) + loadtest_cmd(port, "--pipeline", "64", "--keyspace", str(SCALE["keys"]),
                                       "--key-pattern", "sequential", "--ratio", "1:0",
                                       "--requests", str(SCALE["keys"]))
    subprocess.run(cmd, capture_output=True, check=True, timeout=900)


def section_loadtest(chart):
    rows = []
    with Servers(PINNED) as s:
        for name in SERVERS:
            populate(s.ports[name], PINNED.client_cpus)
        for p in PIPELINES:
            def run(name, port):
                rep = loadtest(port, p, PINNED.client_cpus)
                lat = rep["total"]["latency_ms"]
                return {"ops": rep["total"]["ops_per_sec"], "p50": lat["p50"],
                        "p90": lat["p90"], "p99": lat["p99"], "p99.9": lat["p99.9"],
                        "errors": rep["total"]["errors"] + rep["total"]["failed"]}
            med = interleaved(s, run)
            chart["throughput"][p] = {n: med[n]["ops"] for n in SERVERS}
            chart["latency"][p] = {n: {k: med[n][k] for k in ("p50", "p90", "p99", "p99.9")}
                                   for n in SERVERS}
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


# ---------------------------------------------------------------- tiers not built yet


def not_available(section, workload, what):
    def run():
        row = Row(section, workload, "", None, None, "",
                  note=f"not available yet ({what} not built)")
        report_progress(row)
        return [row]
    return run


# ---------------------------------------------------------------- output


def report_progress(row):
    r = row.ratio()
    vals = (f"redis {fmt(row.redis)}  node {fmt(row.node)}  ratio {r:.2f}" if r is not None
            else row.note or "n/a")
    print(f"  {row.section:18} {row.workload:45} {vals}", flush=True)


def fmt(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def ratio_text(row):
    r = row.ratio()
    if r is None:
        return row.note or "n/a"
    better = r < 1 if row.lower_is_better else r > 1
    arrow = "better" if better else "worse" if abs(r - 1) > 0.005 else "same"
    return f"{r:.2f}x ({arrow})" + (f" {row.note}" if row.note else "")


def print_table(rows):
    head = ("section", "workload", "unit", "redis-server", "autocache-node", "node/redis")
    body = [(r.section, r.workload, r.unit, fmt(r.redis), fmt(r.node), ratio_text(r))
            for r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    def line(cols):
        return "  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()
    print()
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r, cols in zip(rows, body):
        print(line(cols))
        if r.command:
            print(" " * (widths[0] + 2) + "$ " + r.command)


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
        "cores shared, node on all of them.",
        "",
        "| section | workload | redis-server | autocache-node | node/redis | command |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        unit = f" {r.unit}" if r.unit and r.redis is not None else ""
        cmd = f"`{r.command}`" if r.command else ""
        ratio = ratio_text(r)
        ratio = f"**{ratio}**" if r.ratio() is not None else ratio
        lines.append(f"| {r.section} | {r.workload.strip()} | {fmt(r.redis)}{unit} | "
                     f"{fmt(r.node)}{unit} | {ratio} | {cmd} |")
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true",
                    help="rewrite the results section of BENCHMARKS.md and bench/throughput.svg")
    ap.add_argument("--out", help="directory holding BENCHMARKS.md and bench/ (default: the "
                    "repository; with BENCH_QUICK=1 a scratch directory)")
    ap.add_argument("--sections", default="all",
                    help="comma-separated: " + ",".join(name for name, _ in section_list({})))
    args = ap.parse_args()
    for path, what in ((NODE, "make release"), (LOADTEST, "make bench")):
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run `{what}` (cargo build --release) first")
    chart = {"throughput": {}, "latency": {}}
    wanted = None if args.sections == "all" else set(args.sections.split(","))
    rows = []
    for name, run in section_list(chart):
        if wanted is None or name in wanted:
            print(f"[{name}]", flush=True)
            rows += run()
    print_table(rows)
    if not args.write:
        return
    out = args.out or (os.path.join(tempfile.gettempdir(), "autocache-bench-quick") if QUICK
                       else ROOT)
    os.makedirs(os.path.join(out, "bench"), exist_ok=True)
    md = os.path.join(out, "BENCHMARKS.md")
    if not os.path.exists(md):
        shutil.copy(os.path.join(ROOT, "BENCHMARKS.md"), md)
    svg_rel = None
    if chart["throughput"]:
        svg_rel = "bench/throughput.svg"
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_svg import chart_svg
        with open(os.path.join(out, svg_rel), "w") as f:
            f.write(chart_svg(chart, f"{LABEL['redis']} vs {LABEL['node']}, "
                                     f"autocache-loadtest zipf 0.99 90:10, pinned"))
        print(f"wrote {os.path.join(out, svg_rel)}")
    write_results(md, results_markdown(rows, svg_rel))
    print(f"wrote {md}")


def section_list(chart):
    return [
        ("redis-benchmark", section_redis_benchmark),
        ("loadtest", lambda: section_loadtest(chart)),
        ("memory", section_memory),
        ("proxy", not_available("proxy vs direct", "GET/SET through the proxy vs the node",
                                "proxy")),
        ("tiers", not_available("tiered vs memory", "RocksDB/S3 tiers vs --storage memory",
                                "tiers")),
        ("migration", not_available("migration", "slot migration speed (keys/s, MB/s)",
                                    "migration")),
    ]


if __name__ == "__main__":
    main()
