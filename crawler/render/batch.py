"""Render the shells in batches, when the crawl has nothing else to do, so that peaks do not add.

The browser and Playwright's driver hold some 450 MB while they run; the
extraction workers some 140 MB each. Rendered the moment it arrives, a shell
starts the browser in the middle of the crawl, with the workers busy, and the
tree's peak is the sum of all of them. Here a shell's item waits in the render
stage instead (its record is not lost: Scrapy does not close a spider while
items are in its pipelines), and the waiting shells are rendered together:

- when the crawl has drained: no start request left, nothing scheduled, and
  no response or item in the pipelines but the waiting shells. The extraction
  pool is then idle, and ``on_start(drained=True)`` lets the render stage stop
  its workers while the browser runs. Requests still on the wire do not hold
  the batch back: at the end of a night they are the slow and hanging hosts'
  last attempts, tens of seconds each, and the shells render meanwhile (a
  page that lands then waits for its extraction until the batch ends);
- or, whatever the crawl is doing, once ``RENDER_BATCH_SIZE`` shells wait
  (their bodies are held in memory) or the oldest has waited
  ``RENDER_BATCH_WAIT`` seconds (a crawl fed from Redis may never drain), or
  Scrapy stops reading responses because the responses it holds are too large
  (``SCRAPER_SLOT_MAX_ACTIVE_SIZE``) and the waiting shells' are half of that:
  without them the crawl would go on; with them alone it could never drain.

While a batch is open, further shells join it at once. When its last render
ends, ``on_end`` closes the browser and the driver at once (rather than after
``RENDER_IDLE_CLOSE``) and lets the workers start again. A crawl that closes
while shells wait (a signal, ``CLOSESPIDER_*``) releases them unrendered: they
keep their plain HTML.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from scrapy.core.scraper import Slot
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Seconds between two looks at the crawl while shells wait or a batch is open.
POLL = 0.25
#: The least a response counts for in Scrapy's scraper slot (``Slot.MIN_RESPONSE_SIZE``).
MIN_RESPONSE_SIZE = 1024


class RenderBatch:
    """Hold shells until their batch opens; tell the stage when a batch starts and ends."""

    def __init__(
        self,
        crawler: Crawler,
        *,
        size: int,
        wait: float,
        on_start: Callable[[bool], Awaitable[None]],
        on_end: Callable[[], Awaitable[None]],
    ) -> None:
        self.crawler = crawler
        self.size = max(1, size)
        self.wait = wait
        self.on_start = on_start
        self.on_end = on_end
        self.waiting = 0
        self.waiting_bytes = 0  # the waiting shells' responses, counted as Scrapy counts them
        self.rendering = 0
        self.batches = 0
        self.drained_batches = 0
        self._oldest: list[float] = []  # when each waiting shell arrived, oldest first
        self._open = asyncio.Event()
        self._closing = False  # the crawl closes: waiting shells go unrendered
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # set when a render ends: the batch may be over

    @contextlib.asynccontextmanager
    async def turn(self, size: int) -> AsyncIterator[bool]:
        """Wait for this shell's batch; yield whether to render it (False: the crawl closes).

        ``size`` is the length of the shell's response body. The shell counts
        as being rendered until the block ends, so that the batch ends (and
        the browser closes) only after its last render.
        """
        arrived = time.monotonic()
        held = max(size, MIN_RESPONSE_SIZE)
        self.waiting += 1
        self.waiting_bytes += held
        self._oldest.append(arrived)
        self._start_watcher()
        try:
            while not self._open.is_set() and not self._closing:
                opened = self._open
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(opened.wait(), POLL)
        finally:
            self.waiting -= 1
            self.waiting_bytes -= held
            self._oldest.remove(arrived)
        if self._closing:
            yield False
            return
        self.rendering += 1
        try:
            yield True
        finally:
            self.rendering -= 1
            self._wake.set()

    def _start_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """Open a batch when it is time, end it after its last render; stop when idle."""
        while self.waiting or self._open.is_set():
            if self._engine_closing():
                self._closing = True
            if self._open.is_set():
                if not self.waiting and not self.rendering:
                    # a fresh event first: a shell arriving while the browser closes
                    # waits for the next batch instead of joining this one
                    self._open = asyncio.Event()
                    await self._end()
            elif self.waiting and not self._closing:
                drained = self._drained()
                if drained or self._due():
                    self.batches += 1
                    self.drained_batches += int(drained)
                    logger.info(
                        "Rendering %d shell(s) in a batch (%s)",
                        self.waiting,
                        "the crawl has drained" if drained else "enough have waited",
                    )
                    try:
                        await self.on_start(drained)
                    finally:
                        self._open.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL)
            self._wake.clear()

    async def _end(self) -> None:
        try:
            await self.on_end()
        except Exception:  # the next batch starts a new browser anyway
            logger.exception("Closing the browser after a batch failed")

    def _due(self) -> bool:
        """Whether the waiting shells must be rendered now, whatever the crawl is doing."""
        if self.waiting >= self.size:
            return True
        if self._oldest and time.monotonic() - self._oldest[0] >= self.wait:
            return True
        engine = self.crawler.engine
        scraper_slot: Slot | None = getattr(getattr(engine, "scraper", None), "slot", None)
        if scraper_slot is None or not scraper_slot.needs_backout():
            return False
        # other pages' responses are extracted and let go; the shells' only by a batch
        return 2 * self.waiting_bytes >= scraper_slot.max_active_size

    def _engine_closing(self) -> bool:
        engine = self.crawler.engine
        if engine is None or not engine.running:
            return True
        slot = getattr(engine, "_slot", None)
        return slot is None or slot.closing is not None

    def _drained(self) -> bool:
        """Whether the crawl has no work left but the waiting shells and its last downloads.

        What Scrapy's own idleness test (``ExecutionEngine.spider_is_idle``)
        looks at, except that the items in the pipelines may be the waiting
        shells (with their responses, one each) and the downloader is not
        looked at (see the module's docstring).
        """
        engine: Any = self.crawler.engine
        if engine is None:
            return True
        if getattr(engine, "_start", None) is not None:  # start requests still to read
            return False
        slot = getattr(engine, "_slot", None)
        if slot is None:
            return True
        if slot.scheduler.has_pending_requests():
            return False
        scraper_slot = engine.scraper.slot
        if scraper_slot is None:
            return True
        return (
            not scraper_slot.queue
            and scraper_slot.itemproc_size <= self.waiting
            and len(scraper_slot.active) <= self.waiting
        )

    async def close(self) -> None:
        """Stop watching (the crawl has ended: nothing waits any more)."""
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(BaseException):
                await self._watcher
            self._watcher = None
