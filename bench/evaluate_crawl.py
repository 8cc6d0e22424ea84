#!/usr/bin/env python3
"""Score the real crawl on an evaluation corpus served from 127.0.0.1, beside plain trafilatura.

Usage: bench/evaluate_crawl.py CORPUS_DIR [--limit N] [--out DIR] [--no-trafilatura]

CORPUS_DIR holds truth.jsonl and pages/<id>.html.gz (see the corpus README).
Each page is served on 127.0.0.1 at its original path and query (gunzipped
bytes, ``Content-Type: text/html`` without a charset, as the corpus keeps no
headers). Pages that share a path and query are served by different ports
(the k-th such page, in id order, by the k-th server), so every page keeps its
path exactly. A sources list (JSONL, ``id`` = truth id) is crawled with
``scrapy crawl sources -s FULL_TEXT=true`` in a child process; its records are
read back and scored with ``bench/scoring.py`` (``text`` for body F1,
``published_date`` for date accuracy, ``title`` and ``authors`` as
``corpus-meta/README.md`` scores them, snippets and lead), overall and per
origin. The same pages go through plain trafilatura (``extract(html, url=...,
output_format="json", with_metadata=True, include_comments=False)``, original
URL) for comparison. The run also checks
that every page produced exactly one record and that each ``preview`` is the
start of its ``text``. The last line is machine-readable:
``body_f1=0.xxx date_acc=0.xxx n_body=N n_date=M``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.evaluate import table
from bench.offline import offline_services
from bench.scoring import Prediction, Scores, load_truth, read_page, score

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTENT_TYPE = "text/html"  # no charset: the corpus has no headers
PREVIEW_CHARS = 3000
CRAWL_SETTINGS = {
    "FULL_TEXT": "true",
    "ALLOW_PRIVATE_ADDRESSES": "true",
    "ROBOTSTXT_OBEY": "false",
    "AUTOTHROTTLE_ENABLED": "false",
    "PREVIEW_CHARS": str(PREVIEW_CHARS),
    **offline_services(),  # the archive and paper look-ups stay on loopback
}


def request_target(url: str) -> str:
    """The path and query of ``url`` as a request target (``/`` when it has no path)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if not target.startswith("/"):
        target = "/" + target
    return f"{target}?{parts.query}" if parts.query else target


def route_key(target: str) -> str:
    """Lookup key of a request target, blind to percent-encoding differences.

    The crawler percent-encodes what the sources list gave it (non-ASCII,
    spaces); decoding both sides makes the original and the received target meet.
    Python's HTTP server collapses leading slashes (``//page`` arrives as
    ``/page``), so the key does too.
    """
    return "/" + unquote(target, errors="replace").lstrip("/")


@dataclass(frozen=True)
class Route:
    """Where one page is served: server index and request target."""

    page_id: str
    server: int
    target: str


def plan_routes(rows: Sequence[Mapping[str, Any]]) -> list[Route]:
    """Assign each page a server so that no two pages on one server share a target.

    Deterministic: pages are taken in id order; the k-th page with a given
    target goes to server k.
    """
    seen: dict[str, int] = {}
    routes: list[Route] = []
    for row in sorted(rows, key=lambda r: str(r["id"])):
        target = request_target(str(row["url"]))
        key = route_key(target)
        index = seen.get(key, 0)
        seen[key] = index + 1
        routes.append(Route(str(row["id"]), index, target))
    return routes


class _Handler(BaseHTTPRequestHandler):
    pages: dict[str, bytes]  # route key -> body, set per server class

    def do_GET(self) -> None:
        body = self.pages.get(route_key(self.path))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the crawl's own log says what was fetched


@contextmanager
def serve(pages_by_server: list[dict[str, bytes]]) -> Iterator[list[int]]:
    """Run one HTTP server on 127.0.0.1 per page table; yield their ports."""
    with ExitStack() as stack:
        ports: list[int] = []
        for pages in pages_by_server:
            handler = type("PageHandler", (_Handler,), {"pages": pages})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            stack.callback(thread.join, 5)
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            ports.append(int(server.server_address[1]))
        yield ports


def crawl(
    sources: Path, output: Path, log: Path, extra: Mapping[str, str]
) -> tuple[int, float, float]:
    """Run ``scrapy crawl sources``; return (exit code, wall seconds, CPU seconds of the child)."""
    command = [sys.executable, "-m", "scrapy", "crawl", "sources", "-a", f"sources={sources}"]
    for name, value in {**CRAWL_SETTINGS, "OUTPUT_URI": str(output), **extra}.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("wb") as fh:
        code = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
        ).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, wall, cpu


def check_records(
    rows: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Problems with the crawl's records: missing or repeated pages, bad previews."""
    problems: list[str] = []
    counts: dict[str, int] = {}
    for record in records:
        rid = str(record.get("resource_id"))
        counts[rid] = counts.get(rid, 0) + 1
    for row in rows:
        n = counts.get(str(row["id"]), 0)
        if n != 1:
            problems.append(f"{row['id']}: {n} records")
    known = {str(row["id"]) for row in rows}
    problems += [f"{rid}: unexpected record" for rid in counts if rid not in known]
    for record in records:
        text, preview = record.get("text"), record.get("preview")
        rid = str(record.get("resource_id"))
        if text is None:
            if preview is not None:
                problems.append(f"{rid}: preview without text")
            continue
        if preview is None or not text.startswith(preview):
            problems.append(f"{rid}: preview is not the start of text")
        elif record.get("preview_truncated") != (len(preview) < len(text.rstrip())):
            problems.append(f"{rid}: preview_truncated is wrong")
        elif len(preview) > PREVIEW_CHARS:
            problems.append(f"{rid}: preview longer than {PREVIEW_CHARS}")
    return problems


def trafilatura_predictions(
    corpus: Path, rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Prediction], float]:
    """Plain trafilatura with its metadata on every page (original URL); and its CPU seconds."""
    from bench.evaluate import trafilatura_page

    start = time.process_time()
    found = {
        str(row["id"]): trafilatura_page(read_page(corpus, row), str(row["url"])) for row in rows
    }
    return found, time.process_time() - start


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every object of a JSON Lines file."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def side_by_side(ours: Scores, theirs: Scores | None, ms: tuple[float, float | None]) -> str:
    """A small table: our figures beside plain trafilatura's."""

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'':24}{'ours (crawl)':>14}{'trafilatura':>14}"]
    figures: list[tuple[str, float, float | None]] = [
        ("body precision", ours.body[0], theirs.body[0] if theirs else None),
        ("body recall", ours.body[1], theirs.body[1] if theirs else None),
        ("body F1", ours.body[2], theirs.body[2] if theirs else None),
        ("date accuracy", ours.date_accuracy, theirs.date_accuracy if theirs else None),
        ("date precision", ours.date_precision, theirs.date_precision if theirs else None),
        ("date recall", ours.date_recall, theirs.date_recall if theirs else None),
    ]
    for name, mine, other in figures:
        lines.append(f"{name:24}{cell(mine):>14}{cell(other):>14}")
    theirs_ms = "-" if ms[1] is None else f"{ms[1]:.1f}"
    lines.append(f"{'CPU ms/page':24}{ms[0]:>14.1f}{theirs_ms:>14}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; 0 when the crawl and its records passed every check."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--out", type=Path, default=None, help="keep sources, records, log here")
    parser.add_argument("--no-trafilatura", action="store_true", help="skip the baseline")
    parser.add_argument(
        "-s", dest="settings", action="append", default=[], help="extra crawl setting NAME=VALUE"
    )
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.settings)

    rows = load_truth(args.corpus, args.limit)
    routes = plan_routes(rows)
    by_id = {str(row["id"]): row for row in rows}
    tables: list[dict[str, bytes]] = [
        {} for _ in range(max((r.server for r in routes), default=0) + 1)
    ]
    for route in routes:
        tables[route.server][route_key(route.target)] = read_page(args.corpus, by_id[route.page_id])

    with ExitStack() as stack:
        if args.out is not None:
            work = args.out
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="evalcrawl-")))
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=1))
        baseline: Future[tuple[dict[str, Prediction], float]] | None = None
        if not args.no_trafilatura:
            # The baseline runs in its own process while the crawl runs.
            baseline = pool.submit(trafilatura_predictions, args.corpus, rows)
        ports = stack.enter_context(serve(tables))
        sources = work / "sources.jsonl"
        with sources.open("w", encoding="utf-8") as fh:
            for route in routes:
                url = f"http://127.0.0.1:{ports[route.server]}{route.target}"
                fh.write(json.dumps({"id": route.page_id, "url": url}) + "\n")
        output = work / "records.jsonl"
        output.unlink(missing_ok=True)
        code, wall, cpu = crawl(sources, output, work / "crawl.log", extra)
        records = read_jsonl(output) if output.exists() else []
        log_tail = (work / "crawl.log").read_text("utf-8", "replace").splitlines()[-30:]
        theirs: Scores | None = None
        theirs_ms: float | None = None
        if baseline is not None:
            predictions, theirs_cpu = baseline.result()
            theirs = score(rows, predictions)
            theirs_ms = 1000 * theirs_cpu / len(rows) if rows else 0.0

    if code:
        print("\n".join(log_tail))
    problems = [f"crawl exited with {code}"] if code else []
    problems += check_records(rows, records)
    mine = {
        str(r.get("resource_id")): Prediction(
            r.get("text"), r.get("published_date"), r.get("title"), r.get("authors") or []
        )
        for r in records
    }
    ours = score(rows, mine)
    n = len(rows)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[str(record.get("status"))] = statuses.get(str(record.get("status")), 0) + 1
    print(f"pages: {n}, servers: {len(tables)}, records: {len(records)}, statuses: {statuses}")
    print(f"crawl: {wall:.1f} s wall, {cpu:.1f} s CPU ({1000 * wall / max(n, 1):.1f} ms/page wall)")
    for line in ours.summary_lines():
        print("ours " + line)
    if theirs is not None:
        for line in theirs.summary_lines():
            print("trafilatura " + line)
    print(side_by_side(ours, theirs, (1000 * cpu / max(n, 1), theirs_ms)))
    columns: dict[str, Mapping[str, Prediction]] = {"ours (crawl)": mine}
    if baseline is not None:
        columns["trafilatura"] = predictions
    for line in table(
        rows, columns, {"ours (crawl)": 1000 * cpu / max(n, 1), "trafilatura": theirs_ms}
    ):
        print(line)
    for problem in problems[:20]:
        print("problem: " + problem)
    if len(problems) > 20:
        print(f"problem: ... and {len(problems) - 20} more")
    print(ours.machine_line())
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
