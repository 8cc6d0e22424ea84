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

With ``RENDER_BATCH`` (the default) a shell's item waits in this stage and
the shells are rendered together once the crawl has drained (or enough have
waited: :mod:`crawler.render.batch`); on a drained crawl the extraction
pool's workers are stopped while the browser runs, and the browser and its
driver close as soon as the batch is done, so that the browser's memory and
the workers' never add up at the tree's peak.

Settings: ``RENDER_ENABLED``, ``RENDER_HOSTS``, ``RENDER_NEVER_HOSTS``,
``RENDER_REMEMBER_DAYS``, ``RENDER_BATCH``, ``RENDER_BATCH_SIZE``,
``RENDER_BATCH_WAIT``; the browser's own (``RENDER_BROWSER_PATH``,
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
from crawler.render.batch import RenderBatch
from crawler.render.memory import HostList, HostMemory, host_key
from crawler.render.renderer import Renderer, RenderFailed
from crawler.stage import Stage
from crawler.timeutil import utc_now
from pipelines.extract.shell import detect_shell
from pipelines.extract.sniff import classify, mime_type
from pipelines.pool import ProcessPool

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
        self.batch: RenderBatch | None = None
        if self.renderer is not None and settings.getbool("RENDER_BATCH"):
            self.batch = RenderBatch(
                crawler,
                size=settings.getint("RENDER_BATCH_SIZE"),
                wait=settings.getfloat("RENDER_BATCH_WAIT"),
                on_start=self._batch_started,
                on_end=self._batch_ended,
            )
        self._paused: list[ProcessPool] = []

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
            if self.batch is None:
                rendered = await self.renderer.render(url)
            else:
                async with self.batch.turn(len(item.body or b"")) as go:
                    if not go:
                        raise RenderFailed("closing", "the crawl closed before the shell's batch")
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

    def _pools(self) -> list[ProcessPool]:
        """The process pools of the crawl's other stages (the extraction stage's workers)."""
        engine = self.crawler.engine
        stages = getattr(
            getattr(getattr(engine, "scraper", None), "itemproc", None), "middlewares", ()
        )
        pools = [getattr(stage, "pool", None) for stage in stages]
        return [pool for pool in pools if isinstance(pool, ProcessPool)]

    async def _batch_started(self, drained: bool) -> None:
        """A batch of shells starts: on a drained crawl, the workers stop while the browser runs.

        Nothing else is left for them then but the shells' own extraction,
        which waits until the batch ends; their memory and the browser's then
        never add up at the tree's peak.
        """
        if not drained:
            return
        for pool in self._pools():
            if not pool.paused:
                pool.pause()
                self._paused.append(pool)
        self.inc_stat("render/batch/pool_pauses", len(self._paused))

    async def _batch_ended(self) -> None:
        """A batch is done: close the browser and its driver now, start the workers again."""
        try:
            if self.renderer is not None:
                await self.renderer.release()
        finally:
            while self._paused:
                self._paused.pop().resume()

    async def close_spider(self) -> None:
        """Store the host memory in the state and record the browser's figures."""
        state = get_state(self.crawler)
        if state is not None and state.store is not None and self.memory is not None:
            store = state.store
            store.put_render_hosts(self.memory.rows(store.previous_render_hosts()))
        if self.batch is not None:
            await self.batch.close()
            stats = self.crawler.stats
            assert stats is not None
            stats.set_value("render/batch/batches", self.batch.batches)
            stats.set_value("render/batch/drained", self.batch.drained_batches)
        while self._paused:  # (a batch cut short by the close)
            self._paused.pop().resume()
        if self.renderer is not None:
            await self.renderer.close()
            stats = self.crawler.stats
            assert stats is not None
            stats.set_value("render/browser_peak_mb", self.renderer.peak_memory // (1024 * 1024))
            stats.set_value("render/browser_restarts", self.renderer.restarts)
            stats.set_value("render/browser_idle_closes", self.renderer.idle_closes)
            stats.set_value("render/browser_batch_closes", self.renderer.batch_closes)
            addon = self.renderer.addon
            if addon.proxy is not None:
                stats.set_value("render/proxy_refused", addon.proxy.refused)
