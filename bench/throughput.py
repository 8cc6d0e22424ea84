"""Throughput benchmark: our crawl against bare Scrapy and plain trafilatura, on real pages.

    .venv/bin/python bench/throughput.py PAGES_DIR [--n 2000] [--latency 0.05] [--rounds 3]
    .venv/bin/python bench/throughput.py PAGES_DIR --quick
    .venv/bin/python bench/throughput.py PAGES_DIR --scaling

A page server (bench/pageserver.py, aiohttp, its own process, not measured)
serves the ``*.html``/``*.html.gz`` files of PAGES_DIR on 127.0.0.1 under N
distinct URLs, each answer delayed by ``--latency`` seconds. Then, in rounds
whose order rotates so that the machine's drift cancels, it runs as child
processes:

  a  bare Scrapy: the same URLs, same concurrency, no extraction (bench/bare_scrapy.py)
  b  ours: ``scrapy crawl sources`` with the extraction pool (default settings)
  c  trafilatura: its threaded downloader and its extractor (bench/trafilatura_run.py)
  d  ours with extraction in-process (``EXTRACT_WORKERS=0``)
  e  ours in-process and thorough (``EXTRACT_WORKERS=0 EXTRACT_THOROUGH=true``): the
     closest stand-in for extraction in the callback before the per-page savings
     (trafilatura's comparison with readability and jusText is the one saving a
     setting can undo; the others only make ``e`` faster than that old pipeline)

and prints, for each, the median over rounds of: pages/s (N over the wall
time of the whole command, start-up included), CPU seconds per page (user +
system of the command and every child it waited for), cores busy (CPU time
over wall time over the cores), peak RSS (sum over the process tree, sampled
every 0.1 s; pages shared between processes, such as the interpreter's code,
count once per process) and peak PSS (the same sum with shared pages divided
among their processes: the memory the tree really takes), and the pages/s
ratios to (a) and (c) (the median of each round's own ratio).

Every contender gets the same concurrency (``--concurrency``, default 32,
our ``CONCURRENT_REQUESTS``); both Scrapy runs allow it all on the one host
(``CONCURRENT_REQUESTS_PER_DOMAIN``) with AutoThrottle off, as the page server
is a single host where a real crawl has thousands.

``--busy`` starts two competing CPU-bound processes (``--busy-procs``) before each
contender's run and stops them after it, the same for every contender: the machine a
cron job meets is rarely idle.

``--before DIR`` adds contender f: ours from another checkout (an exported older commit),
so that a change is measured before and after in the same interleaved run (``b / f``).
``-s NAME=VALUE`` (repeatable) passes a setting to every run of ours (b, d, e, f).
``--pool-stats`` adds bench/poolstats.py to ours and prints, under each run of ours, the
reactor's lag, the pages waiting for and held by the pool, and the share of its wall time
the crawl process and the workers spent on a core, in the run queue, and (workers) asleep
waiting for a page.

``--scaling`` runs only (b) at N = 1,000, 5,000 and 20,000 (``--sizes``) and
prints time per page and peak RSS for each.

The load average is printed with each run: other work on the machine slows
every contender, and the ratios (interleaved runs) are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.offline import offline_services  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

CONTENDERS = {
    "a": "bare Scrapy (fetch only)",
    "b": "ours (extraction pool)",
    "c": "trafilatura (fetch+extract)",
    "d": "ours (in-process extract)",
    "e": "ours (in-process, thorough)",
}
# Run only when asked (--only with f, and --before DIR): not one of the default contenders.
LABELS = {**CONTENDERS, "f": "ours at --before DIR"}


# --- measuring a process tree ----------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: split after the last ")"
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_rss(root: int, *, pss: bool = False) -> tuple[int, int]:
    """RSS and (with ``pss``, else 0) PSS of ``root`` and all its descendants, in bytes."""
    children = _children_map()
    rss_total = pss_total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss_total += int(f.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            pass
        if pss:
            pss_total += _pss(pid)
        stack.extend(children.get(pid, ()))
    return rss_total, pss_total


@dataclass
class Run:
    """What one run of one contender measured."""

    name: str
    n: int
    wall: float
    cpu: float
    peak_rss: int
    peak_pss: int
    pages: int
    exit_code: int
    pool: dict[str, Any] | None = None  # what bench/poolstats.py saw (--pool-stats)
    busy_cpu: float = 0.0  # CPU seconds the competing processes (--busy) got meanwhile

    @property
    def rate(self) -> float:
        return self.n / self.wall


def measure(
    command: list[str], n: int, name: str, log: Path, env: dict[str, str], cwd: Path = ROOT
) -> Run:
    """Run ``command`` in ``cwd``, sampling its tree's RSS, and return the measurements."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        peak = peak_pss = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, peak_pss
            ticks = 0
            while not done.wait(0.1):
                # PSS (smaps_rollup) costs more to read: every 0.5 s is enough
                rss, pss = tree_rss(proc.pid, pss=ticks % 5 == 0)
                peak = max(peak, rss)
                peak_pss = max(peak_pss, pss)
                ticks += 1

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 gives the CPU time of the child and of every descendant it waited for
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    pages = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("PAGES "):
            pages = int(line.split()[1])
    return Run(
        name, n, wall, usage.ru_utime + usage.ru_stime, peak, peak_pss, pages, proc.returncode
    )


# --- the contenders --------------------------------------------------------------------


class Bench:
    """The page server, the URL lists and the command of each contender."""

    def __init__(
        self,
        pages_dir: Path,
        latency: float,
        concurrency: int,
        keep: bool,
        busy: int = 0,
        pool_stats: bool = False,
        extra: Sequence[str] = (),
        before: Path | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.busy = busy
        self.pool_stats = pool_stats
        self.extra = list(extra)  # -s NAME=VALUE for our contenders (b, d, e, f)
        self.before = before  # another checkout of ours, contender f
        self.work = Path(tempfile.mkdtemp(prefix="throughput-"))
        self.keep = keep
        self.python = sys.executable
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.server = subprocess.Popen(
            [self.python, str(BENCH / "pageserver.py"), str(pages_dir), "--latency", str(latency)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.server.stdout is not None and self.server.stderr is not None
        self.pages_info = self.server.stderr.readline().split()
        line = self.server.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise SystemExit(f"page server did not start: {line!r}")
        self.port = int(line.split()[1])

    def urls(self, n: int) -> Path:
        path = self.work / f"urls-{n}.txt"
        if not path.exists():
            with path.open("w", encoding="utf-8") as f:
                for i in range(n):
                    f.write(f"http://127.0.0.1:{self.port}/p/{i}.html\n")
        return path

    def command(self, name: str, n: int, run_dir: Path) -> list[str]:
        urls = str(self.urls(n))
        if name == "a":
            return [self.python, str(BENCH / "bare_scrapy.py"), urls, "--concurrency",
                    str(self.concurrency)]  # fmt: skip
        if name == "c":
            return [self.python, str(BENCH / "trafilatura_run.py"), urls, "--threads",
                    str(self.concurrency)]  # fmt: skip
        settings = {
            "OUTPUT_URI": str(run_dir / "out.jsonl"),
            "ALLOW_PRIVATE_ADDRESSES": "true",
            "AUTOTHROTTLE_ENABLED": "false",
            "CONCURRENT_REQUESTS": str(self.concurrency),
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(self.concurrency),
            "LOG_LEVEL": "INFO",
            **offline_services(),  # the archive and paper look-ups stay on loopback
        }
        if name in "de":
            settings["EXTRACT_WORKERS"] = "0"
        if name == "e":
            settings["EXTRACT_THOROUGH"] = "true"
        if self.pool_stats:
            from crawler import settings as project_settings  # the checkout's own EXTENSIONS

            # (--before: the other checkout has bench/poolstats.py and the same EXTENSIONS)
            extensions = {**project_settings.EXTENSIONS, "bench.poolstats.PoolStats": 900}
            settings["EXTENSIONS"] = json.dumps(extensions)
            settings["POOL_STATS_FILE"] = str(run_dir / "poolstats.json")
        for assignment in self.extra:
            key, _, value = assignment.partition("=")
            settings[key] = value
        command = [self.python, "-m", "scrapy", "crawl", "sources", "-a", f"sources={urls}"]
        for key, value in settings.items():
            command += ["-s", f"{key}={value}"]
        return command

    def run(self, name: str, n: int, index: int) -> Run:
        run_dir = self.work / f"{name}-{n}-{index}"
        run_dir.mkdir()
        burners = [
            subprocess.Popen([self.python, "-c", "while True: pass"]) for _ in range(self.busy)
        ]
        cwd, env = ROOT, self.env
        if name == "f":
            assert self.before is not None
            cwd, env = self.before, {**self.env, "PYTHONPATH": str(self.before)}
        try:
            result = measure(self.command(name, n, run_dir), n, name, run_dir / "log.txt", env, cwd)
        finally:
            busy_cpu = 0.0
            for burner in burners:
                burner.kill()
                # wait4 also tells how much CPU the competitor got while ours ran
                _, _, usage = os.wait4(burner.pid, 0)
                burner.returncode = -9
                busy_cpu += usage.ru_utime + usage.ru_stime
        result.busy_cpu = busy_cpu
        stats = run_dir / "poolstats.json"
        if stats.exists():
            result.pool = json.loads(stats.read_text(encoding="utf-8"))
        output = run_dir / "out.jsonl"
        if output.exists():
            with output.open("rb") as f:
                result.pages = sum(1 for _ in f)
        if result.exit_code != 0 or result.pages < n * 0.99:
            print(f"  ! {name}: exit {result.exit_code}, {result.pages}/{n} pages; see {run_dir}",
                  file=sys.stderr)  # fmt: skip
        elif not self.keep:
            shutil.rmtree(run_dir)
        return result

    def close(self) -> None:
        self.server.kill()
        self.server.wait()
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)


# --- reports -----------------------------------------------------------------------


def _median(runs: list[Run], attr: str) -> float:
    return statistics.median(float(getattr(r, attr)) for r in runs)


def print_table(results: dict[str, list[Run]], cores: int) -> None:
    """The comparison table: medians over rounds."""
    rate = {k: _median(v, "rate") for k, v in results.items()}

    def ratio(name: str, base: str) -> str:
        # The median of the rounds' own ratios: each round's runs are back to
        # back, so their ratio cancels the drift of the machine between rounds.
        if base not in results:
            return "-"
        pairs = zip(results[name], results[base], strict=True)
        return f"{statistics.median(r.rate / b.rate for r, b in pairs):.2f}"

    header = (
        f"{'contender':<30} {'pages/s':>8} {'CPU s/page':>10} {'cores busy':>10} "
        f"{'peak RSS MB':>11} {'peak PSS MB':>11} {'vs a':>6} {'vs c':>6} {'records':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, runs in results.items():
        cpu_per_page = statistics.median(r.cpu / r.n for r in runs)
        busy = statistics.median(r.cpu / r.wall / cores for r in runs)
        rss = _median(runs, "peak_rss") / 2**20
        pss = _median(runs, "peak_pss") / 2**20
        vs_a, vs_c = ratio(name, "a"), ratio(name, "c")
        pages = min(r.pages for r in runs)
        print(
            f"{name + ' ' + LABELS[name]:<30} {rate[name]:>8.1f} {cpu_per_page:>10.4f} "
            f"{busy:>9.0%} {rss:>11.0f} {pss:>11.0f} {vs_a:>6} {vs_c:>6} {pages:>8}"
        )
    if "b" in rate and "d" in rate:
        print(f"b / d (the pool, same work per page): {ratio('b', 'd')}")
    if "b" in rate and "e" in rate:
        print(f"b / e (the pool and the per-page savings): {ratio('b', 'e')}")
    if "b" in rate and "f" in rate:
        print(f"b / f (this checkout against --before): {ratio('b', 'f')}")


def _pool_line(p: dict[str, Any]) -> str:
    """One line of what bench/poolstats.py measured in a run of ours."""
    mean = p["mean"]
    wall = p["elapsed"]
    return (
        f"reactor lag mean {p['reactor_lag_mean_ms']:.0f} ms, "
        f"p95 {p['reactor_lag_p95_ms']:.0f} ms; "
        f"pages in items {mean['items']:.1f}, waiting for room {mean['waiting_room']:.1f}, "
        f"queued {mean['queued']:.1f}, held {mean['held']:.1f}; "
        f"a worker idle while pages waited {p['share_idle_while_waiting']:.0%} of samples; "
        f"main: CPU {p['main_cpu_s'] / wall:.0%}, run queue {p['main_runqueue_s'] / wall:.0%}; "
        f"workers: CPU {p['workers_cpu_s'] / max(p['workers_wall_s'], 1e-9):.0%}, "
        f"run queue {p['workers_runqueue_s'] / max(p['workers_wall_s'], 1e-9):.0%}, "
        f"asleep {p['workers_asleep_share']:.0%} (of each worker's wall time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pages_dir", type=Path, help="directory of *.html / *.html.gz pages")
    parser.add_argument("--n", type=int, default=2000, help="URLs per run (default 2000)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", default=None, help="contenders to run, e.g. 'bd' (default abcde; --quick: abcd)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="N=300, one round, a to d (< 2 minutes)"
    )
    parser.add_argument("--scaling", action="store_true", help="ours at N=1000, 5000, 20000")
    parser.add_argument(
        "--sizes", default="1000,5000,20000", help="N values of --scaling (comma-separated)"
    )
    parser.add_argument("--keep", action="store_true", help="keep outputs and logs")
    parser.add_argument(
        "--busy", action="store_true", help="competing CPU-bound processes during every run"
    )
    parser.add_argument("--busy-procs", type=int, default=2, help="how many (default 2)")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout of ours (an exported older commit), run as contender f",
    )
    parser.add_argument(
        "--pool-stats",
        action="store_true",
        help="sample the pool, the reactor's lag and CPU shares in ours (bench/poolstats.py)",
    )
    parser.add_argument(
        "-s",
        dest="extra",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for our contenders (b, d, e); repeatable",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = 300, 1
    if args.only is None:
        args.only = "abcd" if args.quick else "abcde"
    cores = len(os.sched_getaffinity(0))
    busy = args.busy_procs if args.busy else 0
    bench = Bench(
        args.pages_dir,
        args.latency,
        args.concurrency,
        args.keep,
        busy,
        args.pool_stats,
        args.extra,
        args.before.resolve() if args.before else None,
    )
    print(
        f"pages: {args.pages_dir} ({bench.pages_info[1]} files, "
        f"{int(bench.pages_info[2]) / int(bench.pages_info[1]) / 1024:.0f} KB mean); "
        f"latency {args.latency * 1000:.0f} ms; concurrency {args.concurrency}; "
        f"{cores} cores; Python {sys.version.split()[0]}; "
        f"competing CPU-bound processes: {busy}; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        if args.scaling:
            print(f"{'N':>6} {'wall s':>8} {'ms/page':>8} {'CPU ms/page':>11} "
                  f"{'peak RSS MB':>11} {'peak PSS MB':>11} {'records':>8}",
                  flush=True)  # fmt: skip
            for n in (int(x) for x in args.sizes.split(",")):
                r = bench.run("b", n, 0)
                print(f"{n:>6} {r.wall:>8.1f} {r.wall / n * 1000:>8.2f} "
                      f"{r.cpu / n * 1000:>11.1f} {r.peak_rss / 2**20:>11.0f} "
                      f"{r.peak_pss / 2**20:>11.0f} {r.pages:>8}", flush=True)  # fmt: skip
            return
        if "f" in args.only and args.before is None:
            parser.error("contender f needs --before DIR")
        names = [c for c in "abcdef" if c in args.only]
        results: dict[str, list[Run]] = {name: [] for name in names}
        for index in range(args.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            for name in order:
                r = bench.run(name, args.n, index)
                results[name].append(r)
                print(f"  round {index + 1} {name}: {r.rate:6.1f} pages/s, "
                      f"{r.cpu / r.n * 1000:5.1f} CPU ms/page, "
                      f"{r.peak_rss / 2**20:4.0f} MB, {r.pages} records, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
                if r.busy_cpu:
                    # With the kernel's autogroups the competitors share our session's
                    # part of the cores: this split is what the scheduler gave each side.
                    print(f"    competitors' CPU {r.busy_cpu:.1f} s, this contender's "
                          f"{r.cpu:.1f} s: {r.cpu / (r.cpu + r.busy_cpu):.0%} of the two",
                          flush=True)  # fmt: skip
                if r.pool:
                    print(f"    {_pool_line(r.pool)}", flush=True)
        print(f"\nN={args.n}, medians of {args.rounds} round(s):")
        print_table(results, cores)
    finally:
        bench.close()


if __name__ == "__main__":
    main()
