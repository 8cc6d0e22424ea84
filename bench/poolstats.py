"""Where the extraction pool's time went: a benchmark-only extension.

Enabled by ``bench/throughput.py --pool-stats`` (``EXTENSIONS`` with
``bench.poolstats.PoolStats`` and ``POOL_STATS_FILE``, the JSON file it writes when the
spider closes). Every ``POOL_STATS_INTERVAL`` seconds (0.05) a ``LoopingCall`` on the
reactor:

- measures its own lateness (the reactor's lag: how long a ready callback waited);
- counts the pages in the item pipelines, those waiting for room in the pool, those
  queued for a worker and those a worker holds, and whether a worker had nothing while
  pages waited;
- reads ``/proc/PID/task/*/schedstat`` of the crawl process and of each worker: time on
  a CPU, time runnable but waiting for one (the run queue), and so time asleep. A worker
  asleep is a worker waiting for the crawl process to send it a page.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

from pipelines.extract_stage import ExtractPipeline
from pipelines.pool import ProcessPool


def schedstat(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting in the run queue), summed over the threads of ``pid``."""
    on = wait = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                parts = f.read().split()
        except OSError:
            continue
        on += int(parts[0])
        wait += int(parts[1])
    return on / 1e9, wait / 1e9


class PoolStats:
    """Sample the pool and the reactor; write the figures at the end."""

    def __init__(self, crawler: Crawler, path: Path, interval: float) -> None:
        self.crawler = crawler
        self.path = path
        self.interval = interval
        self.lags: list[float] = []
        self.samples = 0
        self.sums = dict.fromkeys(
            ("items", "waiting_room", "queued", "held", "idle_workers", "idle_while_waiting"), 0.0
        )
        self.workers: dict[int, tuple[float, float, float, float]] = {}  # pid → first, last
        self.started = time.monotonic()
        self.main_start = schedstat(os.getpid())
        self.expected = 0.0
        self.loop = LoopingCall(self.sample)
        self.pool: ProcessPool | None = None
        self._last: dict[int, tuple[float, float]] = {}  # pid → its latest schedstat

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off unless ``POOL_STATS_FILE`` is set."""
        path = crawler.settings.get("POOL_STATS_FILE")
        if not path:
            raise NotConfigured
        ext = cls(crawler, Path(path), crawler.settings.getfloat("POOL_STATS_INTERVAL", 0.05))
        crawler.signals.connect(ext.opened, signals.spider_opened)
        crawler.signals.connect(ext.closed, signals.spider_closed)
        return ext

    def opened(self) -> None:
        self.started = time.monotonic()
        self.main_start = schedstat(os.getpid())
        self.expected = time.monotonic() + self.interval
        self.loop.start(self.interval, now=False)

    def _find_pool(self) -> ProcessPool | None:
        if self.pool is None and self.crawler.engine is not None:
            itemproc = getattr(self.crawler.engine.scraper, "itemproc", None)
            for stage in getattr(itemproc, "middlewares", ()):
                if isinstance(stage, ExtractPipeline):
                    self.pool = stage.pool
        return self.pool

    def sample(self) -> None:
        now = time.monotonic()
        self.lags.append(max(0.0, now - self.expected))
        self.expected = now + self.interval
        self.samples += 1
        engine = self.crawler.engine
        slot = engine.scraper.slot if engine is not None else None
        if slot is not None:
            self.sums["items"] += len(slot.active)
        pool = self._find_pool()
        if pool is None:
            return
        waiting, queued, held = pool.occupancy()
        idle = max(0, pool.workers - held)
        self.sums["waiting_room"] += waiting
        self.sums["queued"] += queued
        self.sums["held"] += held
        self.sums["idle_workers"] += idle
        if idle and (waiting or queued):
            self.sums["idle_while_waiting"] += 1
        for pid in pool.worker_pids():
            on, wait = schedstat(pid)
            first = self.workers.get(pid)
            start = (now, on, wait) if first is None else first[:3]
            self.workers[pid] = (*start, now)
            self._last[pid] = (on, wait)

    def closed(self, reason: str) -> None:
        if self.loop.running:
            self.loop.stop()
        elapsed = time.monotonic() - self.started
        on, wait = schedstat(os.getpid())
        main_on, main_wait = on - self.main_start[0], wait - self.main_start[1]
        w_on = w_wait = w_wall = 0.0
        for pid, (t0, on0, wait0, t1) in self.workers.items():
            last_on, last_wait = self._last.get(pid, (on0, wait0))
            w_on += last_on - on0
            w_wait += last_wait - wait0
            w_wall += t1 - t0
        n = max(1, self.samples)
        lags = sorted(self.lags) or [0.0]
        report: dict[str, Any] = {
            "elapsed": elapsed,
            "reactor_lag_mean_ms": statistics.fmean(lags) * 1000,
            "reactor_lag_p95_ms": lags[int(0.95 * (len(lags) - 1))] * 1000,
            "reactor_lag_max_ms": lags[-1] * 1000,
            "mean": {k: v / n for k, v in self.sums.items()},
            "share_idle_while_waiting": self.sums["idle_while_waiting"] / n,
            "main_cpu_s": main_on,
            "main_runqueue_s": main_wait,
            "workers_cpu_s": w_on,
            "workers_runqueue_s": w_wait,
            "workers_wall_s": w_wall,
            "workers_asleep_share": max(0.0, 1 - (w_on + w_wait) / w_wall) if w_wall else 0.0,
        }
        self.path.write_text(json.dumps(report, indent=1), encoding="utf-8")
