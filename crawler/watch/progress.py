"""What a person sees while the crawl runs, and the summary it leaves at the end.

On an interactive terminal the :class:`Progress` extension draws one live
line with rich (sources done / total, pages per second, ETA, counts by
status), updated in place, with log messages printed above it. When stderr
is not a terminal (cron), it logs a plain progress line every
``PROGRESS_INTERVAL`` seconds instead: never both. At the very end of every
run, published or not, it logs a one-screen summary with the manifest's
facts, the alarms and the report's path.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from twisted.internet.task import LoopingCall

from crawler.publish.counts import ERROR_PREFIX, STATUS_PREFIX
from crawler.publish.exitcodes import MEANING, OK, exit_code_for
from crawler.publish.manifest import manifest_path
from crawler.publish.sequence import completeness_problem
from crawler.watch.alarms import ALARM_DETAILS_STAT, COVERAGE_FIELDS, COVERAGE_LABELS

logger = logging.getLogger(__name__)

STATUS_ORDER = ("ok", "dead", "paywall", "error")
#: Rates are measured over this many recent seconds: the overall average
#: hides a stall, a single interval jumps around.
RATE_WINDOW = 60.0


@dataclass(frozen=True)
class Snapshot:
    """Progress at one moment, computed from the crawl's stats."""

    done: int
    seen: int
    total: int | None
    pages: int
    by_status: Mapping[str, int]
    records_per_s: float | None
    pages_per_s: float | None

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; None while the total or the rate is unknown."""
        if self.total is None or not self.records_per_s:
            return None
        return max(self.total - self.done, 0) / self.records_per_s


def format_duration(seconds: float | None) -> str:
    """Format seconds as ``1h02m``, ``3m05s`` or ``42s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def status_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    """Records written by status, the four known statuses first."""
    found = {
        k.removeprefix(STATUS_PREFIX): int(v)
        for k, v in stats.items()
        if k.startswith(STATUS_PREFIX)
    }
    ordered = {s: found.pop(s, 0) for s in STATUS_ORDER}
    return {**ordered, **dict(sorted(found.items()))}


class RateMeter:
    """Records and pages per second over the last :data:`RATE_WINDOW` seconds."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int, int]] = deque()

    def add(self, now: float, done: int, pages: int) -> tuple[float | None, float | None]:
        """Add a sample and return (records/s, pages/s) over the window."""
        self.samples.append((now, done, pages))
        while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW:
            self.samples.popleft()
        t0, d0, p0 = self.samples[0]
        if now - t0 <= 0:
            return None, None
        return (done - d0) / (now - t0), (pages - p0) / (now - t0)


def snapshot(stats: Mapping[str, Any], meter: RateMeter, now: float) -> Snapshot:
    """Read the crawl's progress from its stats."""
    done = int(stats.get("ingest/records", 0))
    seen = int(stats.get("ingest/entries_unique", 0))
    pages = int(stats.get("response_received_count", 0))
    records_per_s, pages_per_s = meter.add(now, done, pages)
    return Snapshot(
        done=done,
        seen=seen,
        # the list is streamed: its length is known only once it has been read to the end
        total=seen if stats.get("ingest/sources_complete") else None,
        pages=pages,
        by_status=status_counts(stats),
        records_per_s=records_per_s,
        pages_per_s=pages_per_s,
    )


def progress_line(snap: Snapshot) -> str:
    """One plain line of progress, for logs."""
    if snap.total is not None:
        share = f" ({snap.done / snap.total:.0%})" if snap.total else ""
        sources = f"{snap.done:,} of {snap.total:,} sources done{share}"
    else:
        sources = f"{snap.done:,} sources done, {snap.seen:,} read so far (list still streaming)"
    rate = "?" if snap.pages_per_s is None else f"{snap.pages_per_s:.1f}"
    statuses = ", ".join(f"{s} {n:,}" for s, n in snap.by_status.items())
    return f"Progress: {sources}; {rate} pages/s; ETA {format_duration(snap.eta)}; {statuses}"


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def _elapsed(stats: Mapping[str, Any]) -> float | None:
    elapsed = stats.get("elapsed_time_seconds")
    if isinstance(elapsed, int | float):
        return float(elapsed)
    start, finish = stats.get("start_time"), stats.get("finish_time")
    if isinstance(start, datetime) and isinstance(finish, datetime):
        return (finish - start).total_seconds()
    return None


def _read_manifest(output: str | None) -> dict[str, Any]:
    import json

    if not output:
        return {}
    try:
        data = json.loads(manifest_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def summary_lines(stats: Mapping[str, Any]) -> list[str]:
    """The end-of-run summary: the manifest's facts, human-readable, one screen at most."""
    output = stats.get("ingest/output")
    manifest = _read_manifest(output)
    records = int(stats.get("ingest/records", 0))
    code = exit_code_for(stats)
    lines = ["Run summary"]
    if output:
        size = manifest.get("bytes")
        size_text = f"{size / 1e6:.1f} MB, " if isinstance(size, int) else ""
        sha = str(manifest.get("sha256") or "")[:16]
        lines.append(f"  output    {output} ({records:,} records, {size_text}sha256 {sha or '?'}…)")
    else:
        why = completeness_problem(dict(stats)) or MEANING.get(code, "see the log")
        lines.append(f"  output    NOT published: {why}")
    entries = int(stats.get("ingest/entries", 0))
    unique = int(stats.get("ingest/entries_unique", 0))
    lines.append(
        f"  sources   {entries:,} entries, {unique:,} unique, "
        f"{int(stats.get('ingest/duplicates', 0)):,} duplicate(s)"
        + (f" from {stats['ingest/sources_spec']}" if stats.get("ingest/sources_spec") else "")
    )
    by_status = status_counts(stats)
    lines.append(
        f"  records   {records:,}: "
        + ", ".join(f"{s} {n:,} ({_percent(n, records)})" for s, n in by_status.items())
    )
    errors = sorted(
        (
            (k.removeprefix(ERROR_PREFIX), int(v))
            for k, v in stats.items()
            if k.startswith(ERROR_PREFIX)
        ),
        key=lambda kv: (-kv[1], kv[0]),
    )
    if errors:
        shown = ", ".join(f"{k} {n:,}" for k, n in errors[:8])
        lines.append(
            f"  errors    {shown}"
            + (f" (+{len(errors) - 8} more kinds)" if len(errors) > 8 else "")
        )
    ok = by_status.get("ok", 0)
    if ok:
        coverage = ", ".join(
            f"{COVERAGE_LABELS[f]} {_percent(int(stats.get(f'ingest/coverage/{f}', 0)), ok)}"
            for f in COVERAGE_FIELDS
        )
        lines.append(f"  coverage  {coverage} (of {ok:,} ok records)")
    elapsed = _elapsed(stats)
    pages = int(stats.get("response_received_count", 0))
    rate = f", {pages / elapsed:.1f} pages/s" if elapsed else ""
    lines.append(
        f"  time      {stats.get('ingest/started_at') or '?'} → "
        f"{manifest.get('finished_at') or '?'} ({format_duration(elapsed)}, {pages:,} pages{rate})"
    )
    alarms = list(stats.get(ALARM_DETAILS_STAT) or [])
    lines.append("  alarms    " + ("; ".join(alarms) if alarms else "none"))
    if stats.get("ingest/report"):
        lines.append(f"  report    {stats['ingest/report']}")
    elif stats.get("ingest/report_failed"):
        lines.append("  report    FAILED (see the error above)")
    lines.append(
        f"  exit      {code}: {MEANING.get(code, '')}"
        + (" (alarms raised)" if alarms and code == OK else "")
    )
    return lines


class Progress:
    """Extension: live progress on a terminal, periodic log lines otherwise, a summary at the end.

    Settings: ``PROGRESS`` (``auto``, ``live``, ``log`` or ``off``; ``auto``
    draws the live line when stderr is a terminal) and ``PROGRESS_INTERVAL``
    (seconds between log lines, default 60).
    """

    def __init__(self, crawler: Crawler, mode: str, interval: float) -> None:
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.mode = mode
        self.interval = interval
        self.meter = RateMeter()
        self.loop: LoopingCall | None = None
        self.live: _LiveView | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Pick the mode and connect to the crawler's signals."""
        mode = str(crawler.settings.get("PROGRESS")).lower()
        if mode not in ("auto", "live", "log", "off"):
            raise NotConfigured(f"PROGRESS must be auto, live, log or off, not {mode!r}")
        if mode == "auto":
            mode = "live" if sys.stderr.isatty() else "log"
        ext = cls(crawler, mode, crawler.settings.getfloat("PROGRESS_INTERVAL"))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self) -> None:
        """Start the live view or the periodic log lines."""
        if self.mode == "live":
            self.live = _LiveView()
            self.loop = LoopingCall(self._refresh)
            self.loop.start(0.5, now=True)
        elif self.mode == "log" and self.interval > 0:
            self.loop = LoopingCall(self._log)
            self.loop.start(self.interval, now=False)

    def _refresh(self) -> None:
        assert self.live is not None
        self.live.update(snapshot(self.stats.get_stats(), self.meter, time.monotonic()))

    def _log(self) -> None:
        logger.info(progress_line(snapshot(self.stats.get_stats(), self.meter, time.monotonic())))

    def spider_closed(self) -> None:
        """Stop updating: what follows (publishing, report, summary) is plain log output."""
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.live is not None:
            self._refresh()
            self.live.stop()
            self.live = None
        elif self.mode == "log":
            self._log()

    def engine_stopped(self) -> None:
        """Log the summary, after the output, the report and the alarms are settled."""
        logger.info("\n".join(summary_lines(self.stats.get_stats())))


class _LiveView:
    """The rich progress line, with log records routed above it while it is shown."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn
        from rich.progress import Progress as RichProgress

        self.progress = RichProgress(
            SpinnerColumn(),
            TextColumn("sources"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} · ETA {task.fields[eta]} · {task.fields[statuses]}"),
            console=Console(stderr=True),
            redirect_stderr=True,
            refresh_per_second=4,
        )
        self.task = self.progress.add_task("sources", total=None, rate="?", eta="?", statuses="")
        self.progress.start()
        # Scrapy's log handler keeps the stderr it found at start-up; point it at
        # rich's proxy so log lines print above the bar instead of through it.
        self.handlers: list[tuple[logging.StreamHandler[Any], Any]] = []
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                self.handlers.append((handler, handler.setStream(sys.stderr)))

    def update(self, snap: Snapshot) -> None:
        """Show a snapshot."""
        rate = "? pages/s" if snap.pages_per_s is None else f"{snap.pages_per_s:.1f} pages/s"
        colours = {"ok": "green", "dead": "magenta", "paywall": "yellow", "error": "red"}
        statuses = " ".join(
            f"[{colours.get(s, 'white')}]{s} {n:,}[/]" for s, n in snap.by_status.items()
        )
        self.progress.update(
            self.task,
            completed=snap.done,
            total=snap.total,
            rate=rate,
            eta=format_duration(snap.eta),
            statuses=statuses,
        )

    def stop(self) -> None:
        """Leave the final state on screen and give the log handlers their stream back."""
        for handler, stream in self.handlers:
            handler.setStream(stream)
        self.progress.stop()
