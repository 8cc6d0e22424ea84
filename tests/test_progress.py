"""Progress and the end-of-run summary, through the real crawl command."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

from crawler.watch.progress import RateMeter, Snapshot, format_duration, progress_line, snapshot
from tests.conftest import PROJECT_ROOT, crawl_command, run_crawl
from tests.pageserver import PageServer


def sources(tmp_path: Path, server: PageServer, paths: list[str], name: str = "s.yaml") -> Path:
    listing = tmp_path / name
    listing.write_text("".join(f"- url: {server.url(p)}\n" for p in paths), encoding="utf-8")
    return listing


PATHS = [
    "/article/ai-safety",
    "/article/blog-post",
    "/status/404",
    "/status/410",
    "/delay/1",
    "/login-wall",
]


def test_plain_progress_lines_and_summary_without_a_terminal(
    tmp_path: Path, page_server: PageServer
) -> None:
    out = tmp_path / "night.jsonl"
    result = run_crawl(sources(tmp_path, page_server, PATHS), out, PROGRESS_INTERVAL="0.3")
    assert result.exit_code == 0, result.log[-3000:]
    lines = [line for line in result.log.splitlines() if "Progress: " in line]
    # periodic lines while /delay/1 waits, and a final one
    assert len(lines) >= 2, result.log[-3000:]
    assert "6 of 6 sources done (100%)" in lines[-1]
    assert re.search(r"ok 3, dead 2, paywall 1, error 0$", lines[-1]), lines[-1]
    assert "\x1b[" not in result.log and "\r" not in result.log  # no live bar on a pipe
    assert "Crawled " not in result.log  # LogStats' own lines are replaced, not doubled

    summary = result.log[result.log.index("Run summary") :]
    manifest = result.manifest
    assert f"output    {out} (6 records" in summary
    assert f"sha256 {manifest['sha256'][:16]}" in summary
    assert "records   6: ok 3 (50%), dead 2 (33%), paywall 1 (17%), error 0 (0%)" in summary
    assert "errors    http_404 1, http_410 1" in summary
    assert "alarms    none" in summary  # 6 records: too few to judge
    assert f"report    {out}.report.html" in summary
    assert "exit      0:" in summary
    assert Path(f"{out}.report.html").is_file()
    assert Path(f"{out}.timings.json").is_file()


def test_alarms_reach_the_stats_summary_and_report(
    tmp_path: Path, page_server: PageServer
) -> None:
    out = tmp_path / "night.jsonl"
    result = run_crawl(
        sources(tmp_path, page_server, ["/article/ai-safety", "/text", "/status/500"]),
        out,
        ALARM_MIN_RECORDS="0",
        ALARM_MIN_TITLE="1.0",
        ALARM_MAX_ERROR_SHARE="0.1",
        ALARM_MIN_AUTHORS="",
        ALARM_MIN_PUBLISHED_DATE="",
        ALARM_MIN_PREVIEW="",
    )
    assert result.exit_code == 7, result.log[-3000:]  # published, with an alarm
    assert "'ingest/alarms': ['error_share', 'coverage/title']" in result.log
    summary = result.log[result.log.index("Run summary") :]
    assert "alarms    error_share: 33% of records are errors (1 of 3" in summary
    assert "coverage/title: only 50% of ok records have a title (1 of 2" in summary
    page = Path(f"{out}.report.html").read_text(encoding="utf-8")
    assert 'data-alarm="error_share"' in page and 'data-alarm="coverage/title"' in page


def test_summary_of_a_run_that_published_nothing(tmp_path: Path) -> None:
    # An unreadable sources list stops the command before the crawl starts
    # (tests/test_newcomer_sources.py): one line, and no run to summarise.
    result = run_crawl(tmp_path / "missing.yaml", tmp_path / "out.jsonl")
    assert result.exit_code == 2
    assert f"Not started: cannot read the sources list: {tmp_path / 'missing.yaml'}" in result.log
    assert "Run summary" not in result.log and "Traceback" not in result.log


def test_live_bar_on_a_terminal_and_no_progress_lines(
    tmp_path: Path, page_server: PageServer
) -> None:
    listing = sources(tmp_path, page_server, PATHS[:3])
    out = tmp_path / "night.jsonl"
    leader, follower = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen(
        crawl_command(listing, out, PROGRESS_INTERVAL="0.2"),
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:  # a full pty would block the crawl
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    assert proc.wait(timeout=120) == 0
    reader.join(timeout=10)
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[" in screen and "3/3" in screen, screen[-2000:]
    assert "Progress: " not in screen  # never both
    assert "Run summary" in screen  # logs still reach the terminal, above the bar


def test_progress_line_while_the_list_streams() -> None:
    meter = RateMeter()
    snapshot({"ingest/records": 0, "response_received_count": 0}, meter, 0.0)
    snap = snapshot(
        {"ingest/records": 40, "ingest/entries_unique": 90, "response_received_count": 50},
        meter,
        10.0,
    )
    assert snap.total is None and snap.eta is None
    line = progress_line(snap)
    assert "40 sources done, 90 read so far (list still streaming)" in line
    assert "5.0 pages/s; ETA ?" in line


def test_eta_once_the_list_is_read() -> None:
    snap = Snapshot(
        done=100,
        seen=400,
        total=400,
        pages=120,
        by_status={"ok": 90, "dead": 10},
        records_per_s=2.0,
        pages_per_s=2.5,
    )
    assert snap.eta == 150
    assert "100 of 400 sources done (25%); 2.5 pages/s; ETA 2m30s; ok 90, dead 10" in (
        progress_line(snap)
    )
    assert format_duration(3725) == "1h02m" and format_duration(None) == "?"
