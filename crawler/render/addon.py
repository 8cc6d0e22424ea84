"""Scrapy add-on: switch rendering on when the ``render`` extra and a browser are present.

When ``RENDER_ENABLED`` is on, scrapy-playwright is importable and a Chromium
is found (``RENDER_BROWSER_PATH``, else on PATH), it installs scrapy-playwright's
download handler for http and https, in the form that starts Playwright only
for the first page that needs it (:mod:`crawler.render.handler`; requests
without ``meta["playwright"]`` go on to Scrapy's own HTTP handler unchanged), launch options for the
system browser with the guarded proxy (:mod:`crawler.render.proxy`) as its only
way out, a page limit of ``RENDER_CONCURRENCY``, a navigation timeout of
``RENDER_TIMEOUT`` and no images, media or fonts. Otherwise it changes
nothing and says why in one warning line at start: shells are then recorded
from their plain HTML, with ``rendered: false``.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.fetch.guard import AddressPolicy
from crawler.render.browser import find_browser, launch_args
from crawler.render.proxy import GuardedProxy

logger = logging.getLogger(__name__)

HANDLER = "crawler.render.handler.LazyPlaywrightHandler"
PEER_MIDDLEWARE = "crawler.render.middleware.BrowserPeerMiddleware"


class RenderAddon:
    """Configure scrapy-playwright for the system Chromium behind the guarded proxy.

    ``active`` says whether pages can be rendered in this run; when not,
    ``unavailable`` says why (None: ``RENDER_ENABLED`` is off).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.active = False
        self.unavailable: str | None = None
        self.browser_path: str | None = None
        self.proxy: GuardedProxy | None = None
        self.concurrency = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the add-on for one crawler."""
        return cls(crawler)

    def update_settings(self, settings: BaseSettings) -> None:
        """Install the browser's download handler and settings, or note why rendering is off."""
        if not settings.getbool("RENDER_ENABLED"):
            return
        self.crawler.signals.connect(self._engine_started, signal=signals.engine_started)
        if importlib.util.find_spec("scrapy_playwright") is None:
            self.unavailable = (
                "scrapy-playwright is not installed (pip install 'sources-crawler[render]')"
            )
            return
        self.browser_path = find_browser(settings.get("RENDER_BROWSER_PATH"))
        if self.browser_path is None:
            self.unavailable = (
                f"no browser at RENDER_BROWSER_PATH={settings.get('RENDER_BROWSER_PATH')!r}"
                if settings.get("RENDER_BROWSER_PATH")
                else "no Chromium found on PATH (install the system package or set "
                "RENDER_BROWSER_PATH)"
            )
            return
        self.concurrency = max(1, settings.getint("RENDER_CONCURRENCY"))
        timeout_ms = 1000 * settings.getfloat("RENDER_TIMEOUT")
        self.proxy = GuardedProxy(
            AddressPolicy.from_settings(
                settings.getbool("ALLOW_PRIVATE_ADDRESSES"), settings.getlist("ALLOWED_NETWORKS")
            )
        )
        port = self.proxy.bind()
        settings["DOWNLOAD_HANDLERS"]["http"] = HANDLER
        settings["DOWNLOAD_HANDLERS"]["https"] = HANDLER
        # closer to the downloader than the address guard (50), so that the guard
        # judges the address the proxy connected to, not the proxy's own
        settings["DOWNLOADER_MIDDLEWARES"][PEER_MIDDLEWARE] = 960
        for name, value in {
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": {
                "executable_path": self.browser_path,
                "headless": True,
                "args": launch_args(port),
                "timeout": max(timeout_ms, 30_000.0),  # a cold start on a busy machine
                "handle_sigint": False,  # Scrapy handles Ctrl-C and closes the browser
            },
            # one context: pages share nothing but the browser process
            "PLAYWRIGHT_MAX_CONTEXTS": 1,
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": self.concurrency,
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_ms,
            # the page's own route (crawler.render.browser.init_page) answers these
            # first; this stays as the guard for any page opened without it
            "PLAYWRIGHT_ABORT_REQUEST": "crawler.render.browser.abort_request",
            "PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER": True,
        }.items():
            settings.set(name, value, priority="addon")
        self.active = True

    async def _engine_started(self) -> None:
        if not self.active:
            if self.unavailable:
                logger.warning(
                    "Rendering is off: %s; pages that need JavaScript are recorded from their "
                    "plain HTML (rendered: false)",
                    self.unavailable,
                )
            return
        assert self.proxy is not None
        await self.proxy.start()
        self.crawler.signals.connect(self._engine_stopped, signal=signals.engine_stopped)
        logger.info(
            "Rendering pages that need JavaScript with %s, at most %d at once, through the "
            "guarded proxy on 127.0.0.1:%d",
            self.browser_path,
            self.concurrency,
            self.proxy.port,
        )

    async def _engine_stopped(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
