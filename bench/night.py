"""Night benchmark: a whole simulated night of sources, its wall time against its lower bound.

    .venv/bin/python bench/night.py PAGES_DIR [--sources 6000] [--origins 2500] [--seed 19]
    .venv/bin/python bench/night.py PAGES_DIR --quick

A simulated web (bench/nightweb.py, its own process) answers on 127.0.0.1 for
``--origins`` host names (``o<k>.night.test``, sent to 127.0.0.1 by the crawl's resolver
bench/nightdns.py) with real pages from PAGES_DIR: most origins answer in 50-500 ms, 5 %
in 2-10 s, 2 % accept connections and never answer (half of them answer robots.txt
first), 1 % refuse; a few sources are 5-19 MB pages and 1 % are PDFs. The night is drawn
from ``--seed``: the same seed, the same night. Then ``scrapy crawl sources`` runs on the
list at the project's default settings (only the address guard is opened to loopback and
the resolver swapped; ``--set NAME=VALUE`` adds a setting, ``--quick`` 600 sources on 250
origins with ``DOWNLOAD_TIMEOUT=10`` so that it ends in under two minutes).

It prints wall time, pages/s, CPU time, peak RSS of the crawl's process tree, and the
lower bound the schedule allows, the largest of:

- the busiest origin under its politeness: its robots.txt round trip, then its sources
  ``CONCURRENT_REQUESTS_PER_DOMAIN`` at a time, each taking the origin's latency; a
  hanging origin costs one page timeout with its retries
  (``DOWNLOAD_TIMEOUT * (RETRY_TIMES + 1)``), a refusing one nothing;
- every source's time on the wire (the same costs) over ``CONCURRENT_REQUESTS``;
- the crawl's measured CPU time over the cores;

and the ratio of wall time to it; one record per source (records, sources, URLs
missing); the records' statuses and error kinds; and where the time went, from the crawl
(bench/nightstats.py): request-seconds on the wire (answered and failed), queued behind
politeness, held before a slot (waiting for robots.txt), in the item pipelines, and the
seconds the engine held back because the downloader or the scraper was full.

``--project DIR`` runs the crawl of another checkout (for a before/after comparison: an
exported tree of the old commit with this benchmark's bench/night*.py copied in).
The load average is printed with every figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.nightweb import load_pages, make_plan, source_url  # noqa: E402
from bench.offline import offline_services  # noqa: E402
from bench.throughput import measure  # noqa: E402


def crawl_settings(project: Path, overrides: dict[str, str]) -> Any:
    """The settings the crawl will run with (the project's module and the overrides)."""
    from scrapy.settings import Settings

    sys.path.insert(0, str(project))
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for key, value in overrides.items():
        settings.set(key, value, priority="cmdline")
    sys.path.remove(str(project))
    return settings


def lower_bound(plan: dict[str, Any], settings: Any) -> dict[str, Any]:
    """The schedule's lower bounds (see the module docstring), in seconds."""
    per_domain = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    total = settings.getint("CONCURRENT_REQUESTS")
    give_up = settings.getfloat("DOWNLOAD_TIMEOUT") * (settings.getint("RETRY_TIMES") + 1)
    delay = settings.getfloat("DOWNLOAD_DELAY")
    busiest, busiest_name, wire = 0.0, "", 0.0
    for origin in plan["origins"]:
        k = len(origin["sources"])
        if not k:
            continue
        if origin["kind"] == "web":
            lat = origin["latency"]
            cost = lat + math.ceil(k / per_domain) * lat + (k - 1) * delay
            wire += k * lat
        elif origin["kind"] in ("hang", "hang_pages"):
            cost = give_up
            wire += give_up
        else:
            cost = 0.0
        if cost > busiest:
            busiest, busiest_name = cost, f"{origin['name']} ({origin['kind']}, {k} sources, " \
                f"{origin['latency']:g} s)"  # fmt: skip
    return {"busiest": busiest, "busiest_origin": busiest_name, "wire": wire / total}


def read_records(output: Path) -> list[dict[str, Any]]:
    if not output.exists():
        return []
    with output.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _night_stats(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pages_dir", type=Path, help="directory of *.html / *.html.gz pages")
    parser.add_argument("--sources", type=int, default=6000)
    parser.add_argument("--origins", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--quick", action="store_true", help="600 sources, 250 origins, 10 s timeout"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra crawl setting (repeatable)")  # fmt: skip
    parser.add_argument("--project", type=Path, default=ROOT, help="checkout whose crawl runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    overrides: dict[str, str] = {}
    if args.quick:
        args.sources, args.origins = 600, 250
        overrides["DOWNLOAD_TIMEOUT"] = "10"
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = value
    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="night-"))
    n_pages = len(load_pages(args.pages_dir))
    plan = make_plan(args.sources, args.origins, args.seed, n_pages)
    plan_path = work / "plan.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, str(BENCH / "nightweb.py"), str(plan_path), str(args.pages_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("PORTS "):
        server.kill()
        raise SystemExit(f"the simulated web did not start: {line!r}")
    web, hang, refuse = (int(x) for x in line.split()[1:])
    ports = {"web": web, "hang": hang, "refuse": refuse}
    urls = [source_url(plan, i, ports) for i in range(len(plan["sources"]))]
    sources = work / "sources.txt"
    sources.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    output = work / "out" / "night.jsonl"
    stats_file = work / "nightstats.json"
    sys.path.insert(0, str(args.project))
    from crawler import settings as project_settings  # the checkout's own EXTENSIONS

    sys.path.remove(str(args.project))
    extensions = {**project_settings.EXTENSIONS, "bench.nightstats.NightStats": 900}
    run_settings = {
        "OUTPUT_URI": str(output),
        "ALLOW_PRIVATE_ADDRESSES": "true",
        "TWISTED_DNS_RESOLVER": "bench.nightdns.NightResolver",
        "EXTENSIONS": json.dumps(extensions),
        "NIGHT_STATS_FILE": str(stats_file),
        "PROGRESS": "log",
        **offline_services(),  # the archive and paper look-ups stay on loopback
        **overrides,
    }
    command = [sys.executable, "-m", "scrapy", "crawl", "sources", "-a", f"sources={sources}"]
    for key, value in run_settings.items():
        command += ["-s", f"{key}={value}"]
    kinds = Counter(o["kind"] for o in plan["origins"])
    bodies = Counter(s["body"] for s in plan["sources"])
    print(
        f"night: {len(urls)} sources on {len(plan['origins'])} origins (seed {args.seed}; "
        f"{kinds['web']} answering, {kinds['hang']} hanging, {kinds['hang_pages']} hanging "
        f"after robots.txt, {kinds['refuse']} refusing); {bodies['large']} large pages, "
        f"{bodies['pdf']} PDFs; pages from {args.pages_dir} ({n_pages}); {cores} cores; "
        f"overrides {overrides or 'none'}; project {args.project}; {load()}",
        flush=True,
    )
    env = {**os.environ, "PYTHONPATH": f"{args.project}{os.pathsep}{ROOT}"}
    log = work / "crawl.log"
    try:
        # run from the project: `python -m scrapy` puts its working directory first
        run = measure(command, len(urls), "night", log, env, cwd=args.project)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    end_load = load()
    settings = crawl_settings(args.project, overrides)
    bound = lower_bound(plan, settings)
    cpu_bound = run.cpu / cores
    limits = {"busiest origin": bound["busiest"], "wire / CONCURRENT_REQUESTS": bound["wire"],
              "CPU / cores": cpu_bound}  # fmt: skip
    binding = max(limits, key=lambda k: limits[k])
    records = read_records(output)
    seen = Counter(r.get("url") for r in records)
    missing = sum(1 for u in urls if u not in seen)
    repeated = sum(c - 1 for c in seen.values() if c > 1)
    statuses = Counter(r.get("status") for r in records)
    errors = Counter(r.get("error") for r in records if r.get("error"))
    night: dict[str, Any] = {}
    if stats_file.exists():
        night = json.loads(stats_file.read_text(encoding="utf-8"))
    served: dict[str, Any] = {}
    served_file = Path(f"{plan_path}.served.json")
    if served_file.exists():
        served = json.loads(served_file.read_text(encoding="utf-8"))

    print(f"\nexit code {run.exit_code}; {end_load} at the end")
    print(f"{'wall time':<34} {run.wall:10.1f} s")
    print(f"{'pages/s':<34} {len(urls) / run.wall:10.1f}")
    print(f"{'CPU time (tree)':<34} {run.cpu:10.1f} s")
    print(f"{'peak RSS (tree)':<34} {run.peak_rss / 2**20:10.0f} MB")
    print(f"{'peak PSS (tree)':<34} {run.peak_pss / 2**20:10.0f} MB")
    crawl_stats = _night_stats(stats_file).get("stats", {})
    if "memusage/max" in crawl_stats:  # Scrapy's MemoryUsage: the crawl process alone
        crawl_mb = crawl_stats["memusage/max"] / 2**20
        print(f"{'  of which the crawl process':<34} {crawl_mb:10.0f} MB")
    if crawl_stats.get("render/browser_peak_mb"):  # the render stage's Chromium tree
        print(f"{'  of which the browser':<34} {crawl_stats['render/browser_peak_mb']:10.0f} MB")
    print("lower bound:")
    print(f"  {'busiest origin':<32} {bound['busiest']:10.1f} s  {bound['busiest_origin']}")
    print(f"  {'wire / CONCURRENT_REQUESTS':<32} {bound['wire']:10.1f} s")
    print(f"  {'CPU / cores':<32} {cpu_bound:10.1f} s")
    print(f"{'bound (' + binding + ')':<34} {limits[binding]:10.1f} s")
    print(f"{'wall / bound':<34} {run.wall / limits[binding]:10.2f}")
    print(f"records: {len(records)} for {len(urls)} sources; {missing} sources without a "
          f"record, {repeated} repeated")  # fmt: skip
    print("  statuses: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))
    print("  errors: " + ", ".join(f"{k} {v}" for k, v in errors.most_common()))
    if night:
        t = night["totals"]
        print("where the time went (request-seconds, sampled every 0.25 s):")
        for key, label in (
            ("wire_pages_answered", "pages on the wire, answered"),
            ("wire_pages_failed", "pages on the wire, failed (timeouts, ...)"),
            ("wire_robots_answered", "robots.txt on the wire, answered"),
            ("wire_robots_failed", "robots.txt on the wire, failed"),
            ("politeness", "queued behind politeness (slot)"),
            ("before_slot", "held before a slot (robots.txt wait)"),
            ("items", "in the item pipelines (extraction)"),
        ):
            print(f"  {label:<44} {t.get(key, 0.0):10.1f}")
        for key, label in (
            ("backout_downloader_s", "engine held back: downloader full"),
            ("backout_scraper_s", "engine held back: scraper memory bound"),
        ):
            print(f"  {label:<44} {t.get(key, 0.0):10.1f} s")
        print(f"  {'mean requests on the wire':<44} {night['mean_on_wire']:10.1f} "
              f"of {settings.getint('CONCURRENT_REQUESTS')}")  # fmt: skip
        print(f"  {'mean requests in the downloader':<44} {night['mean_active']:10.1f}")
        print(f"  {'tail with fewer than 4 on the wire':<44} {night['tail_below_4']:10.1f} s")
        stats = night["stats"]
        prefix = "downloader/exception_type_count/"
        timeouts = sum(v for k, v in stats.items() if k.startswith(prefix) and "Timeout" in k)
        print(f"  {'download timeouts (stats)':<44} {timeouts:10d}")
        print(f"  {'retries (stats)':<44} {stats.get('retry/count', 0):10d}")
        print(
            f"  {'robots.txt requests (stats)':<44} {stats.get('robotstxt/request_count', 0):10d}"
        )
        for key in sorted(stats):
            if key.startswith(("hosts/", "rot/probe")):
                print(f"  {key + ' (stats)':<44} {stats[key]:>10}")
        if night.get("timeline"):
            print("timeline (means per twentieth of the night; crawl CPU in cores, "
                  "crawl RSS the process's own peak in that part):")  # fmt: skip
            print(f"  {'from s':>8} {'wire':>6} {'downloader':>10} {'scheduler':>9} "
                  f"{'crawl CPU':>9} {'crawl RSS MB':>12}")  # fmt: skip
            for row in night["timeline"]:
                print(f"  {row['t']:8.1f} {row['wire']:6.1f} {row['active']:10.1f} "
                      f"{row['scheduler']:9.0f} {row['crawl_cpu']:9.2f} "
                      f"{row.get('crawl_rss_mb', 0.0):12.0f}")  # fmt: skip
    if served:
        hang_names = {o["name"] for o in plan["origins"] if o["kind"] in ("hang", "hang_pages")}
        conns = served.get("hang_connections", {})
        pages = served.get("requests", {})
        per_host = [conns.get(n, 0) + pages.get(f"{n} page", 0) for n in hang_names]
        if per_host:
            print(f"hanging origins: {len(per_host)}; requests they received: "
                  f"{sum(per_host)} (at most {max(per_host)} for one origin)")  # fmt: skip
    if args.keep or run.exit_code != 0:
        print(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
