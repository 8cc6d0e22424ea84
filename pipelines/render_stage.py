"""Render: send the pages that are JavaScript shells to the browser before they are extracted.

Runs between identify and extract. For each HTML page fetched with a 2xx,
the pure detector (:mod:`pipelines.extract.shell`) judges the plain HTML;
a shell, a page of a host in ``RENDER_HOSTS``, or of a host the state
remembers as shipping shells (:mod:`crawler.render.memory`) is rendered
unless its host is in ``RENDER_NEVER_HOSTS``. The rendered HTML replaces
the body, so the extraction stage extracts it exactly as it extracts a
static page, and the record says ``rendered: true``. A page that cannot be
rendered (timeout, browser failure, no browser installed) keeps its plain
HTML and ``rendered: false``; it is never lost.

Settings: ``RENDER_ENABLED``, ``RENDER_HOSTS``, ``RENDER_NEVER_HOSTS``,
``RENDER_REMEMBER_DAYS``; the browser's own (``RENDER_BROWSER_PATH``,
``RENDER_CONCURRENCY``, ``RENDER_TIMEOUT``, ``RENDER_MAX_MEMORY_MB``,
``RENDER_IDLE_CLOSE``) are read
by :mod:`crawler.render`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.incremental.extension import get_state
from crawler.items import SourceItem
from crawler.render.addon import RenderAddon
from crawler.render.memory import HostList, HostMemory, host_key
from crawler.render.renderer import Renderer, RenderFailed
from crawler.stage import Stage
from crawler.timeutil import utc_now
from pipelines.extract.shell import detect_shell
from pipelines.extract.sniff import classify, mime_type

logger = logging.getLogger(__name__)


class RenderPipeline(Stage):
    """Detect shells, render them in the browser, and hand the rendered HTML to extraction."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = self.settings
        if not settings.getbool("RENDER_ENABLED"):
            raise NotConfigured("RENDER_ENABLED is off")
        self.always = HostList.from_setting(settings.getlist("RENDER_HOSTS"))
        self.never = HostList.from_setting(settings.getlist("RENDER_NEVER_HOSTS"))
        self.remember = timedelta(days=settings.getfloat("RENDER_REMEMBER_DAYS"))
        addon = crawler.get_addon(RenderAddon)
        self.renderer = Renderer(crawler, addon) if addon is not None and addon.active else None
        self.memory: HostMemory | None = None

    def _host_memory(self) -> HostMemory:
        # Built at the first page: the state opens after the pipelines do.
        if self.memory is None:
            state = get_state(self.crawler)
            store = state.store if state is not None else None
            self.memory = HostMemory(
                lookup=store.render_host if store is not None else (lambda host: None),
                now=utc_now(),
                remember=self.remember,
            )
        return self.memory

    async def process_item(self, item: Any) -> Any:
        """Render the item's page when it needs it; keep the item whatever happens."""
        if not isinstance(item, SourceItem):
            return item
        try:
            await self._process(item)
        except Exception as exc:
            self.mark_failed(item, exc)
        return item

    def why_render(self, item: SourceItem) -> str | None:
        """Why this item's page should be rendered (a stats key), or None."""
        body = item.body
        status = item.http_status
        if body is None or status is None or not 200 <= status < 300 or item.failure is not None:
            return None
        if classify(body, mime_type(item.headers)) != "html":
            return None
        host = host_key(item.final_url or item.entry.url or "")
        verdict = detect_shell(body)
        memory = self._host_memory()
        if host:
            memory.observe(host, verdict.shell)
        if verdict.shell:
            self.inc_stat(f"render/shells/{verdict.reason}")
        if host in self.never:
            return None
        if host in self.always:
            return "forced"
        if verdict.shell:
            return "shell"
        if host and memory.remembered(host):
            return "remembered"
        return None

    async def _process(self, item: SourceItem) -> None:
        reason = self.why_render(item)
        if reason is None:
            return
        self.inc_stat(f"render/wanted/{reason}")
        record = item.record
        record["rendered"] = False
        if self.renderer is None:
            self.inc_stat("render/unavailable")
            return
        url = item.final_url or item.entry.url or ""
        try:
            rendered = await self.renderer.render(url)
        except RenderFailed as exc:
            self.inc_stat(f"render/failed/{exc.kind}")
            logger.info("Could not render %s (%s); keeping its plain HTML", url, exc)
            return
        assert item.body is not None
        # body_bytes stays what the server sent; the extraction stage keeps it.
        record["body_bytes"] = len(item.body)
        item.body = rendered.html
        # The browser's DOM is serialised as UTF-8 whatever the page declared.
        mime = mime_type(item.headers) or "text/html"
        item.headers = {**item.headers, "content-type": f"{mime}; charset=utf-8"}
        record["rendered"] = True
        self.inc_stat("render/rendered")
        if not rendered.settled:
            self.inc_stat("render/unsettled")

    async def close_spider(self) -> None:
        """Store the host memory in the state and record the browser's figures."""
        state = get_state(self.crawler)
        if state is not None and state.store is not None and self.memory is not None:
            store = state.store
            store.put_render_hosts(self.memory.rows(store.previous_render_hosts()))
        if self.renderer is not None:
            await self.renderer.close()
            stats = self.crawler.stats
            assert stats is not None
            stats.set_value("render/browser_peak_mb", self.renderer.peak_memory // (1024 * 1024))
            stats.set_value("render/browser_restarts", self.renderer.restarts)
            stats.set_value("render/browser_idle_closes", self.renderer.idle_closes)
            addon = self.renderer.addon
            if addon.proxy is not None:
                stats.set_value("render/proxy_refused", addon.proxy.refused)
