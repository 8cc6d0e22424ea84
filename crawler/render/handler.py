"""scrapy-playwright's download handler, starting Playwright only when a page needs it.

The stock handler starts the Playwright driver (a Node.js process of some
140 MB) when the engine starts, whether or not the night has a single shell.
This one starts it with the first request that asks for the browser
(``meta["playwright"]``); requests without that flag go to Scrapy's own HTTP
handler as they do in the stock one, so a night of ordinary pages costs no
browser, no driver and no extra memory.

It overrides two methods of scrapy-playwright 0.0.48 (the extra pins the
minor version range this was checked against).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawler.fetch.handler import bound_header_bytes

#: Node.js options for Playwright's driver, added to whatever ``NODE_OPTIONS`` the
#: environment gives it. A young generation of 1 MB semi-spaces instead of V8's
#: default of up to 16 MB: the driver relays small protocol messages, and its
#: resident size fell from 150 to 131 MB (peak RSS over 18 renders of the corpus shells)
#: for the same CPU (1.7-2.0 s). A ceiling on the old generation (--max-old-space-size)
#: saved a few MB more but would crash the driver of a long night that needs more.
DRIVER_NODE_OPTIONS = ("--max-semi-space-size=1",)


@contextlib.contextmanager
def driver_node_options(options: tuple[str, ...]) -> Iterator[None]:
    """While Playwright starts, give its driver (and only it) these Node.js options.

    Playwright builds the driver's environment with
    ``playwright._impl.transport.get_driver_env`` (a copy of ours); that
    function is wrapped for the duration of the start, so the crawl's own
    environment, and every other process it starts, stay as they are. A
    Playwright without that function starts its driver unchanged.
    """
    from playwright._impl import transport

    original = getattr(transport, "get_driver_env", None)
    if original is None or not options:
        yield
        return

    def driver_env() -> dict[str, str]:
        env: dict[str, str] = original()
        env["NODE_OPTIONS"] = " ".join(filter(None, [env.get("NODE_OPTIONS", ""), *options]))
        return env

    transport.get_driver_env = driver_env  # type: ignore[attr-defined]  # imported, not exported
    try:
        yield
    finally:
        transport.get_driver_env = original  # type: ignore[attr-defined]


class LazyPlaywrightHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    """The stock handler, with Playwright started by the first browser request."""

    _launch_lock: asyncio.Lock | None = None
    _launched = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        # requests without the browser flag go to Scrapy's HTTP handler underneath:
        # they keep the project's bound on header bytes
        bound_header_bytes(self, crawler.settings.getint("DOWNLOAD_MAX_HEADER_BYTES"))

    async def _maybe_launch_in_thread(self) -> None:
        """At engine start: nothing yet (the stock handler starts Playwright here)."""

    async def _download_request(self, request: Request, spider: Any = None) -> Response:
        if not self._launched:
            if self._launch_lock is None:
                self._launch_lock = asyncio.Lock()
            async with self._launch_lock:
                if not self._launched:
                    started = time.monotonic()
                    with driver_node_options(DRIVER_NODE_OPTIONS):
                        await self._launch()
                    self._launched = True
                    self.stats.inc_value(
                        "render/ms/driver_start", round(1000 * (time.monotonic() - started))
                    )
        response: Response = await super()._download_request(request, spider)
        return response

    async def _maybe_launch_browser(self) -> None:
        """Launch the browser when none runs, and count the time it took."""
        started = time.monotonic()
        launched = not hasattr(self, "browser")
        await super()._maybe_launch_browser()
        if launched and hasattr(self, "browser"):
            self.stats.inc_value(
                "render/ms/browser_launch", round(1000 * (time.monotonic() - started))
            )

    @property
    def running(self) -> bool:
        """Whether Playwright (the driver, and perhaps the browser) is started."""
        return self._launched

    async def release(self) -> None:
        """Close the browser and stop the Playwright driver; the next page starts them again.

        The caller makes sure no page is open. The browser's ``disconnected``
        listener is removed first: this close is wanted, and the stock
        listener would otherwise tidy up after a relaunched browser.
        """
        if self._launch_lock is None:
            self._launch_lock = asyncio.Lock()
        async with self._launch_lock:
            if not self._launched:
                return
            browser = getattr(self, "browser", None)
            if browser is not None:
                with contextlib.suppress(Exception):
                    browser.remove_listener("disconnected", self._browser_disconnected_callback)
            try:
                await self._close()
            finally:
                self.context_wrappers.clear()
                self.__dict__.pop("browser", None)
                self.browser_provider = None
                if self.config.max_contexts:  # whatever the closed contexts left acquired
                    self.context_semaphore = asyncio.Semaphore(value=self.config.max_contexts)
                self._launched = False
