"""Where a crawl's time went: a benchmark-only extension that samples the engine's queues.

Enabled by bench/night.py (``EXTENSIONS`` with ``bench.nightstats.NightStats``) and
``NIGHT_STATS_FILE`` (the JSON file it writes when the spider closes). Every
``NIGHT_STATS_INTERVAL`` seconds it counts the requests the downloader holds, by where
they are:

- ``wire_pages`` / ``wire_robots``: transferring (connected or connecting), split into
  those that ended with a response and those that failed (timeouts, refusals);
- ``politeness``: queued in their host's slot, waiting for its delay or its concurrency;
- ``before_slot``: held by a downloader middleware before reaching a slot (a page
  waiting for its host's robots.txt);
- ``items``: responses and failures in the item pipelines (extraction and the rest);

and integrates each over time (request-seconds). It also records how long the engine
held back because the downloader was full or because the scraper's memory bound
(``SCRAPER_SLOT_MAX_ACTIVE_SIZE``) was reached, and the crawl's final stats.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.internet.task import LoopingCall


def _own_rss() -> int:
    """The crawl process's resident set in bytes (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class NightStats:
    """Sample the downloader and the scraper; write the integrals at the end."""

    def __init__(self, crawler: Crawler, path: Path, interval: float) -> None:
        self.crawler = crawler
        self.path = path
        self.interval = interval
        self.totals: Counter[str] = Counter()
        self.wire_samples: dict[int, tuple[bool, int]] = {}  # id(request) → (robots, samples)
        self.answered: set[int] = set()
        self.series: list[tuple[float, int, int]] = []  # (t, on the wire, active)
        self.pending: list[int] = []  # requests in the scheduler at each sample
        self.cpu: list[float] = []  # the crawl process's CPU seconds at each sample
        self.rss: list[int] = []  # the crawl process's own resident bytes at each sample
        self.started = time.monotonic()
        self.loop = LoopingCall(self.sample)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off unless ``NIGHT_STATS_FILE`` is set."""
        path = crawler.settings.get("NIGHT_STATS_FILE")
        if not path:
            raise NotConfigured
        ext = cls(crawler, Path(path), crawler.settings.getfloat("NIGHT_STATS_INTERVAL", 0.25))
        crawler.signals.connect(ext.opened, signals.spider_opened)
        crawler.signals.connect(ext.closed, signals.spider_closed)
        crawler.signals.connect(ext.downloaded, signals.response_downloaded)
        crawler.signals.connect(ext.left, signals.request_left_downloader)
        return ext

    def opened(self) -> None:
        self.started = time.monotonic()
        self.loop.start(self.interval, now=False)

    def downloaded(self, response: Response, request: Request) -> None:
        self.answered.add(id(request))

    def left(self, request: Request) -> None:
        robots, samples = self.wire_samples.pop(id(request), (False, 0))
        ok = id(request) in self.answered
        self.answered.discard(id(request))
        kind = "wire_robots" if robots else "wire_pages"
        self.totals[f"{kind}_{'answered' if ok else 'failed'}"] += samples * self.interval

    def sample(self) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        in_slots = queued = transferring = 0
        for slot in downloader.slots.values():
            in_slots += len(slot.active)
            queued += len(slot.queue)
            for request in slot.transferring:
                transferring += 1
                robots = bool(request.meta.get("dont_obey_robotstxt"))
                _, n = self.wire_samples.get(id(request), (robots, 0))
                self.wire_samples[id(request)] = (robots, n + 1)
        active = len(downloader.active)
        dt = self.interval
        self.totals["politeness"] += queued * dt
        self.totals["before_slot"] += max(0, active - in_slots) * dt
        scraper = engine.scraper.slot
        if scraper is not None:
            self.totals["items"] += (len(scraper.active) + scraper.itemproc_size) * dt
            if scraper.needs_backout():
                self.totals["backout_scraper_s"] += dt
        if downloader.needs_backout():
            self.totals["backout_downloader_s"] += dt
        self.series.append((time.monotonic() - self.started, transferring, active))
        # what the scheduler still holds and why it is not on the wire: for the timeline
        scheduler = getattr(engine, "_slot", None)
        scheduler = getattr(scheduler, "scheduler", None) if scheduler is not None else None
        try:
            pending = len(scheduler) if scheduler is not None else 0
        except TypeError:
            pending = 0
        self.pending.append(pending)
        self.cpu.append(time.process_time())
        self.rss.append(_own_rss())

    def _timeline(self, elapsed: float, buckets: int = 20) -> list[dict[str, float]]:
        """The night in ``buckets`` equal parts: mean on the wire, in the downloader,
        in the scheduler, the crawl process's share of a core and its peak RSS."""
        out: list[dict[str, float]] = []
        if not self.series or elapsed <= 0:
            return out
        width = elapsed / buckets
        for b in range(buckets):
            idx = [i for i, s in enumerate(self.series) if b * width <= s[0] < (b + 1) * width]
            if not idx:
                continue
            first, last = idx[0], idx[-1]
            span = self.series[last][0] - self.series[first][0]
            cpu = (self.cpu[last] - self.cpu[first]) / span if span > 0 else 0.0
            out.append(
                {
                    "t": round(b * width, 1),
                    "wire": sum(self.series[i][1] for i in idx) / len(idx),
                    "active": sum(self.series[i][2] for i in idx) / len(idx),
                    "scheduler": sum(self.pending[i] for i in idx) / len(idx),
                    "crawl_cpu": cpu,
                    "crawl_rss_mb": max(self.rss[i] for i in idx) / 2**20,
                }
            )
        return out

    def closed(self, reason: str) -> None:
        if self.loop.running:
            self.loop.stop()
        for robots, samples in self.wire_samples.values():
            kind = "wire_robots" if robots else "wire_pages"
            self.totals[f"{kind}_failed"] += samples * self.interval
        elapsed = time.monotonic() - self.started
        on_wire = [s[1] for s in self.series]
        # the tail: from the last moment at least 4 requests were on the wire to the end
        busy = [t for t, wire, _ in self.series if wire >= 4]
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        report: dict[str, Any] = {
            "elapsed": elapsed,
            "reason": reason,
            "totals": dict(self.totals),
            "mean_on_wire": sum(on_wire) / len(on_wire) if on_wire else 0.0,
            "mean_active": sum(s[2] for s in self.series) / len(self.series)
            if self.series
            else 0.0,
            "tail_below_4": elapsed - busy[-1] if busy else elapsed,
            "timeline": self._timeline(elapsed),
            "stats": {
                k: v if isinstance(v, (int, float, str)) else str(v) for k, v in stats.items()
            },
        }
        self.path.write_text(json.dumps(report, indent=1), encoding="utf-8")
