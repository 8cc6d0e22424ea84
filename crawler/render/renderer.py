"""Render one page in the browser through the engine, bounded in pages, time and memory.

The request goes through Scrapy's engine (``engine.download_async``) with
``meta["playwright"]``, so the downloader middlewares (the address guard,
robots.txt) see it and scrapy-playwright's handler drives the browser. The
page is opened until its DOM is ready, then given what is left of
``RENDER_TIMEOUT`` to fall quiet (no network for half a second); a page that
never does is taken as it stands at the deadline. At most
``RENDER_CONCURRENCY`` pages are open at once, and a watchdog samples the
browser's memory (its whole process tree) and restarts it when it holds more
than ``RENDER_MAX_MEMORY_MB``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.crawler import Crawler

from crawler.render.addon import RenderAddon
from crawler.render.browser import browser_tree_memory, kill_browser_tree

if TYPE_CHECKING:  # imports scrapy-playwright, which only the render extra installs
    from crawler.render.handler import LazyPlaywrightHandler

logger = logging.getLogger(__name__)

#: Seconds between two looks at the browser (its idleness, its resident memory).
WATCH_INTERVAL = 1.0
#: Seconds between two measures of the browser's proportional memory (PSS), at
#: least. The resident size (RSS, cheap) is read at every look and is an upper
#: bound of the PSS; the PSS (over 20 ms of CPU for Chromium's processes: sampled
#: every 0.5 s it took some 5 % of a core from the crawl process) is measured only
#: when the RSS reaches a new peak or exceeds the ceiling.
PSS_INTERVAL = 2.0
#: Seconds the browser gets to close before its processes are killed.
CLOSE_GRACE = 10.0
#: Browser failures in a row after which rendering is given up for the run (a
#: browser that cannot start would otherwise be launched again for every shell).
MAX_BROWSER_FAILURES = 3
#: Seconds beyond the page's own budget one render may take in all (a launch, a
#: hung handler) before it is abandoned.
RENDER_GRACE = 60.0
_MB = 1024 * 1024
#: The page's visible text length, the milliseconds since it last changed, and how
#: many of its short timers are still to fire (-1: not counted in this document, see
#: :data:`crawler.render.browser.TIMER_TRACKER`); polled while the page settles.
_TEXT_STATE = """() => {
  const n = ((document.body && document.body.innerText) || "").length;
  const s = window.__sourcesSettle || (window.__sourcesSettle = {n: -1, t: Date.now()});
  if (n !== s.n) { s.n = n; s.t = Date.now(); }
  const timers = window.__sourcesTimers;
  return [n, Date.now() - s.t, typeof timers === "number" ? timers : -1];
}"""
#: Seconds between two looks at the page's text while it settles.
SETTLE_POLL = 0.25
#: The text has settled when its length has not changed for this long (ms) and it has
#: some text (:data:`SETTLE_TEXT_CHARS` characters) or nothing can still fill it (no
#: request in flight or ended within :data:`SETTLE_NETWORK_QUIET`, no short timer to
#: fire); or, whatever else, for :data:`SETTLE_MAX_QUIET_MS`: an app that fills the
#: page from a longer timer or an interval is given that long after its last change.
SETTLE_QUIET_MS = 750
SETTLE_TEXT_CHARS = 200
SETTLE_MAX_QUIET_MS = 3000
SETTLE_NETWORK_QUIET = 0.5


class RenderFailed(Exception):
    """The page could not be rendered; ``kind`` names why (a stats key)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Rendered:
    """The page as the browser left it."""

    html: bytes  # UTF-8
    url: str
    status: int
    #: whether the page fell quiet before the deadline
    settled: bool


class _Network:
    """The requests one page has in flight, from the page's request events."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.in_flight = 0
        self.last_activity = loop.time()

    def started(self, request: Any) -> None:
        self.in_flight += 1
        self.last_activity = self.loop.time()

    def ended(self, request: Any) -> None:
        # a request that started before counting began ends without having been counted
        self.in_flight = max(0, self.in_flight - 1)
        self.last_activity = self.loop.time()

    def quiet(self) -> bool:
        """Whether no request is in flight, nor ended within :data:`SETTLE_NETWORK_QUIET`."""
        return not self.in_flight and self.loop.time() - self.last_activity >= SETTLE_NETWORK_QUIET


class Renderer:
    """Render pages in the browser the :class:`~crawler.render.addon.RenderAddon` configured."""

    def __init__(self, crawler: Crawler, addon: RenderAddon) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.addon = addon
        self.timeout = settings.getfloat("RENDER_TIMEOUT")
        self.max_bytes = settings.getint("DOWNLOAD_MAXSIZE")
        self.max_memory = settings.getint("RENDER_MAX_MEMORY_MB") * _MB
        self._slots = asyncio.Semaphore(max(1, settings.getint("RENDER_CONCURRENCY")))
        self.idle_close = settings.getfloat("RENDER_IDLE_CLOSE")
        self._watchdog: asyncio.Task[None] | None = None
        # pages being rendered, and when the last one ended; held while the idle
        # browser is closed, so that no page starts in a browser going away
        self._in_flight = 0
        self._last_used = 0.0
        self._use_lock = asyncio.Lock()
        self.peak_memory = 0
        # the largest resident size measured, and when the PSS was last measured
        self._resident_peak = 0
        self._pss_measured = -PSS_INTERVAL
        self.restarts = 0
        self.idle_closes = 0
        self.batch_closes = 0  # closed by release() at the end of a batch
        self._browser_failures = 0
        self.given_up = False

    async def render(self, url: str) -> Rendered:
        """Render ``url``; raise :class:`RenderFailed` when there is no usable page."""
        async with self._slots:
            if self.given_up:
                raise RenderFailed("unavailable", "rendering was given up for this run")
            self._start_watchdog()
            async with self._use_lock:
                self._in_flight += 1
            try:
                rendered = await asyncio.wait_for(self._render(url), self.timeout + RENDER_GRACE)
            except TimeoutError as exc:
                raise RenderFailed("timeout", "the browser did not answer in time") from exc
            except RenderFailed as exc:
                if exc.kind == "browser":
                    self._browser_failures += 1
                    if self._browser_failures >= MAX_BROWSER_FAILURES and not self.given_up:
                        self.given_up = True
                        logger.warning(
                            "The browser failed %d times in a row (%s): rendering is off for "
                            "the rest of this run",
                            self._browser_failures,
                            exc,
                        )
                raise
            finally:
                self._in_flight -= 1
                self._last_used = time.monotonic()
            self._browser_failures = 0
            return rendered

    async def _render(self, url: str) -> Rendered:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        request = Request(
            url,
            dont_filter=True,
            meta={
                "playwright": True,
                "playwright_include_page": True,
                "playwright_context": "render",
                "playwright_page_init_callback": "crawler.render.browser.init_page",
                "playwright_context_kwargs": {
                    "java_script_enabled": True,
                    "accept_downloads": False,
                    "service_workers": "block",
                },
                "playwright_page_goto_kwargs": {
                    "wait_until": "domcontentloaded",
                    "timeout": 1000 * self.timeout,
                },
                # the browser follows redirects itself; a retry would double the cost
                "dont_redirect": True,
                "dont_retry": True,
                # seconds of rendering say nothing about the server's speed
                "autothrottle_dont_adjust_delay": True,
            },
        )
        engine = self.crawler.engine
        assert engine is not None
        started = time.monotonic()
        try:
            try:
                response = await engine.download_async(request)
            except PlaywrightTimeout as exc:
                raise RenderFailed(
                    "timeout", f"the page did not load in {self.timeout:g} s"
                ) from exc
            except Exception as exc:
                # Only a browser that will not start counts towards giving up; a
                # page's own failure (net::ERR_…, a refused address) is the page's.
                kind = "browser" if "BrowserType.launch" in str(exc) else "navigation"
                detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                raise RenderFailed(kind, detail) from exc
            page: Any = request.meta.get("playwright_page")
            if not 200 <= response.status < 300:
                raise RenderFailed(f"http_{response.status}", f"the browser got {response.status}")
            if page is None:
                raise RenderFailed("browser", "the browser gave no page")
            self._time("load", started)
            try:
                settled = await self._settle(page, float(request.meta.get("download_latency") or 0))
                mark = time.monotonic()
                html = (await page.content()).encode("utf-8")
            except PlaywrightError as exc:
                # A page closed under it (the memory watchdog restarted the browser, or
                # the page crashed) is that page's failure, not a browser that cannot run.
                kind = "closed" if page.is_closed() else "browser"
                raise RenderFailed(kind, f"cannot read the page: {exc}") from exc
            self._time("content", mark)
            self._check_not_proxy_answer(html, str(page.url))
            if self.max_bytes and len(html) > self.max_bytes:
                raise RenderFailed("too_large", f"the rendered page has {len(html)} bytes")
            return Rendered(html=html, url=str(page.url), status=response.status, settled=settled)
        finally:
            page = request.meta.get("playwright_page")
            if page is not None:
                with contextlib.suppress(Exception):
                    await page.close()

    def _count(self, key: str, count: int = 1) -> None:
        """Add ``count`` to the crawl's stat ``key`` (a crawler without stats keeps none)."""
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(key, count)

    def _time(self, phase: str, since: float) -> None:
        """Add the milliseconds since ``since`` to the stat of one phase of rendering."""
        self._count(f"render/ms/{phase}", round(1000 * (time.monotonic() - since)))

    async def _settle(self, page: Any, elapsed: float) -> bool:
        """Wait for the page to fall quiet; False when it was still busy at the deadline.

        Quiet is no network for half a second (Playwright's ``networkidle``),
        then a visible text that has stopped changing (:data:`SETTLE_QUIET_MS`
        and the rules beside it): some apps fill the page from a timer after
        their last request. The page's own time runs from its navigation on,
        so that a browser launching for the first page does not eat that
        page's budget.
        """
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout - elapsed
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        mark = time.monotonic()
        try:
            await page.wait_for_load_state("networkidle", timeout=1000 * remaining)
        except PlaywrightTimeout:
            return False  # still busy at the deadline: the page is taken as it stands
        finally:
            self._time("settle_network", mark)
        mark = time.monotonic()
        try:
            return await self._settle_text(page, deadline)
        finally:
            self._time("settle_text", mark)

    async def _settle_text(self, page: Any, deadline: float) -> bool:
        """Poll the page's text until it has settled (True) or the deadline passes (False)."""
        loop = asyncio.get_running_loop()
        # the network is idle here (no request for half a second): count from zero
        network = _Network(loop)
        events = {"request": network.started, "requestfinished": network.ended,
                  "requestfailed": network.ended}  # fmt: skip
        for name, listener in events.items():
            page.on(name, listener)
        try:
            while True:
                length, quiet_ms, timers = await page.evaluate(_TEXT_STATE)
                rule = None
                if quiet_ms >= SETTLE_QUIET_MS and length >= SETTLE_TEXT_CHARS:
                    rule = "text"
                elif quiet_ms >= SETTLE_QUIET_MS and timers == 0 and network.quiet():
                    rule = "nothing_pending"
                elif quiet_ms >= SETTLE_MAX_QUIET_MS:
                    rule = "long_quiet"
                if rule is not None:
                    self._count(f"render/settled/{rule}")
                    return True
                if loop.time() + SETTLE_POLL >= deadline:
                    return False
                await asyncio.sleep(SETTLE_POLL)
        finally:
            for name, listener in events.items():
                with contextlib.suppress(Exception):
                    page.remove_listener(name, listener)

    def _check_not_proxy_answer(self, html: bytes, page_url: str) -> None:
        """Refuse a page that shows the proxy's own answer (its scripts navigated somewhere
        the guard refused, or that could not be reached): that is not the site's content."""
        proxy = self.addon.proxy
        if proxy is None or proxy.token.encode() not in html:
            return
        kind = "blocked_address" if b"refused by the guard" in html else "connection"
        raise RenderFailed(kind, f"the page went on to {page_url}, which the proxy did not reach")

    # --- memory and idleness ---------------------------------------------------

    def _start_watchdog(self) -> None:
        watch_memory = self.max_memory > 0 and self.addon.proxy is not None
        if self._watchdog is None and (watch_memory or self.idle_close > 0):
            self._watchdog = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """Every :data:`WATCH_INTERVAL`, while the browser runs: bound its memory, and
        close it once it has been idle for ``RENDER_IDLE_CLOSE`` seconds."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            handler = self._handler()
            if handler is None or not handler.running:
                continue  # nothing started, or closed while idle: nothing to sample
            if self.idle_close > 0 and await self._close_if_idle(handler):
                continue
            # an idle browser does not grow: its memory is looked at while pages are open
            if self.max_memory > 0 and self.addon.proxy is not None and self._in_flight:
                await self._check_memory(self.addon.proxy.port)

    async def _check_memory(self, port: int) -> None:
        """Restart the browser when its process tree holds more than the ceiling (PSS)."""
        resident = await asyncio.to_thread(browser_tree_memory, port, proportional=False)
        if resident <= self._resident_peak and resident <= self.max_memory:
            return  # the PSS is at most the RSS: neither a new peak nor over the ceiling
        now = time.monotonic()
        if now - self._pss_measured < PSS_INTERVAL:
            return
        self._pss_measured = now
        self._resident_peak = max(self._resident_peak, resident)
        held = await asyncio.to_thread(browser_tree_memory, port)
        self.peak_memory = max(self.peak_memory, held)
        if held > self.max_memory:
            logger.warning(
                "The browser holds %d MB, more than RENDER_MAX_MEMORY_MB=%d: restarting it",
                held // _MB,
                self.max_memory // _MB,
            )
            await self.restart(port)

    async def _close_if_idle(self, handler: LazyPlaywrightHandler) -> bool:
        """Close the browser and its driver when no page has been open for a while.

        A night meets its shells a few at a time, minutes apart: between them
        the browser and Playwright's driver would hold some 400 MB for
        nothing. The next shell starts them again (about a second of CPU).
        """
        if self._in_flight or time.monotonic() - self._last_used < self.idle_close:
            return False
        async with self._use_lock:
            if self._in_flight:
                return False
            logger.info(
                "The browser has been idle for %g s (RENDER_IDLE_CLOSE): closing it",
                self.idle_close,
            )
            await self._release(handler)
            self.idle_closes += 1
        return True

    async def release(self) -> bool:
        """Close the browser and its driver now, unless a page is open; True when closed.

        The render stage calls it when a batch of shells is done: the next
        batch is minutes away, if it comes at all.
        """
        handler = self._handler()
        if handler is None or not handler.running:
            return False
        async with self._use_lock:
            if self._in_flight or not handler.running:
                return False
            await self._release(handler)
            self.batch_closes += 1
        return True

    async def _release(self, handler: LazyPlaywrightHandler) -> None:
        """Close the browser and the driver (the caller holds ``_use_lock``); kill a stuck one."""
        try:
            await asyncio.wait_for(handler.release(), CLOSE_GRACE)
        except Exception as exc:  # a browser that will not close is killed
            logger.info("The browser did not close (%s): killing it", exc)
            if self.addon.proxy is not None:
                await asyncio.to_thread(kill_browser_tree, self.addon.proxy.port)

    async def restart(self, port: int) -> None:
        """Close the browser (kill it if it will not close); the next page launches a new one."""
        self.restarts += 1
        browser = self._browser()
        closed = False
        if browser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), CLOSE_GRACE)
                closed = True
        if not closed:
            await asyncio.to_thread(kill_browser_tree, port)

    def _handler(self) -> LazyPlaywrightHandler | None:
        """The download handler that drives the browser, once the engine has built it."""
        try:
            from crawler.render.handler import LazyPlaywrightHandler
        except ImportError:  # scrapy-playwright comes with the render extra
            return None

        engine = self.crawler.engine
        handlers = getattr(getattr(engine, "downloader", None), "handlers", None)
        for handler in getattr(handlers, "_handlers", {}).values():
            if isinstance(handler, LazyPlaywrightHandler):
                return handler
        return None

    def _browser(self) -> Any:
        """The browser scrapy-playwright launched, if it runs."""
        return getattr(self._handler(), "browser", None)

    async def close(self) -> None:
        """Stop the watchdog."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(BaseException):
                await self._watchdog
            self._watchdog = None
