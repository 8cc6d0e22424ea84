"""Extract: title, dates, authors, main text and preview of each fetched page.

Extraction costs tens of milliseconds of CPU per page, against a few for
fetching it: run on the reactor thread it would stall every download. So by
default it runs in a pool of worker processes (one per core) that this async
stage feeds; the reactor keeps downloading while pages are extracted.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler

from crawler.items import SourceItem
from crawler.options import fields
from crawler.stage import Stage
from pipelines.extract.job import ContentResult, ExtractJob, content_fields
from pipelines.extract.sniff import mime_type
from pipelines.pool import (
    PoolError,
    ProcessPool,
    TaskFailed,
    default_workers,
    resolve,
    set_mmap_threshold,
)

logger = logging.getLogger(__name__)

DEFAULT_FUNCTION: str = fields()["EXTRACT_FUNCTION"].default  # declared in crawler/options.py


class ExtractPipeline(Stage):
    """Run the pure extractor on successful responses and fill the content fields.

    Settings: ``PREVIEW_CHARS`` (default 3000), ``FULL_TEXT`` (default False),
    ``EXTRACT_WORKERS`` (worker processes; default one per core, 0 runs
    extraction in the crawl process), ``EXTRACT_SPARE_WORKERS`` (more workers
    while other processes compete for the cores; default 0, none),
    ``EXTRACT_MAX_PENDING`` (pages queued or being extracted at once;
    default 4 per worker, spares included), ``EXTRACT_TIMEOUT``
    (seconds one page may take in a worker), ``EXTRACT_MAX_HTML_BYTES`` (cap
    on the markup handed to extraction), ``EXTRACT_WORKER_MAX_TASKS`` (pages
    after which a worker is replaced), ``EXTRACT_WORKER_TRIM_BYTES`` (a page this
    large makes its worker return its freed heap), ``HEAP_MMAP_THRESHOLD`` (large
    blocks mapped apart, here and in the workers), ``EXTRACT_FUNCTION`` (dotted path of
    the function workers run; for tests and experiments).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = self.settings
        self.preview_chars = settings.getint("PREVIEW_CHARS")
        self.full_text = settings.getbool("FULL_TEXT")
        self.max_html_bytes = settings.getint("EXTRACT_MAX_HTML_BYTES")
        self.thorough = settings.getbool("EXTRACT_THOROUGH")
        workers = settings.get("EXTRACT_WORKERS")
        self.workers = default_workers() if workers in (None, "") else int(workers)
        if self.workers < 0:
            raise ValueError("EXTRACT_WORKERS must be 0 (in-process) or more")
        spares = settings.get("EXTRACT_SPARE_WORKERS")
        self.spare_workers = default_workers() if spares in (None, "") else int(spares)
        if self.spare_workers < 0:
            raise ValueError("EXTRACT_SPARE_WORKERS must be 0 (none) or more")
        self.function = settings.get("EXTRACT_FUNCTION")
        mmap_threshold = settings.getint("HEAP_MMAP_THRESHOLD")
        # This process holds every body on its way to a worker: the same tuning
        # keeps them from fragmenting its heap (see set_mmap_threshold).
        set_mmap_threshold(mmap_threshold)
        self.pool: ProcessPool | None = None
        if self.workers:
            self.pool = ProcessPool(
                self.function,
                self.workers,
                max_pending=settings.getint("EXTRACT_MAX_PENDING") or None,
                task_timeout=settings.getfloat("EXTRACT_TIMEOUT") or None,
                max_tasks_per_worker=settings.getint("EXTRACT_WORKER_MAX_TASKS"),
                max_memory_mb=settings.getint("EXTRACT_WORKER_MAX_MEMORY_MB"),
                spare_workers=self.spare_workers,
                # Lighter imports and shared stoplists in each worker (see prepare_worker).
                initializer="pipelines.extract.job.prepare_worker",
                trim_after_bytes=settings.getint("EXTRACT_WORKER_TRIM_BYTES"),
                mmap_threshold=mmap_threshold,
                # Workers import the extractor as they start, while the first pages download.
                preload=("pipelines.extract.core",),
            )

    def open_spider(self) -> None:
        """Start the worker processes."""
        if self.pool is not None:
            self.pool.start()
            logger.info(
                "Extraction in %d worker process(es), at most %d pages pending",
                self.pool.workers,
                self.pool.max_pending,
            )

    def close_spider(self) -> None:
        """Stop the workers (every item has been processed by now) and record their fate."""
        if self.pool is None:
            return
        self.pool.close()
        assert self.crawler.stats is not None
        stats = self.crawler.stats
        stats.set_value("extract/workers_started", self.pool.started_workers)
        if self.pool.spares_peak:
            stats.set_value("extract/spare_workers_peak", self.pool.spares_peak)
        if self.pool.deaths:
            stats.set_value("extract/worker_deaths", self.pool.deaths)
        if self.pool.timeouts:
            stats.set_value("extract/timeouts", self.pool.timeouts)

    async def process_item(self, item: Any) -> Any:
        """Extract in a worker (or in-process) and keep the item whatever happens."""
        if not isinstance(item, SourceItem):
            return item
        try:
            job = self.prepare(item)
            if job is not None:
                self.apply(item, await self._run(job, item))
        except Exception as exc:
            # Same contract as Stage.process_item: log, count, mark, never drop.
            self.mark_failed(item, exc)
        return item

    def prepare(self, item: SourceItem) -> ExtractJob | None:
        """Set the fetch-level fields; return the extraction job, or None when there is none."""
        record = item.record
        body = item.body
        item.body = None  # the body is not needed after this stage; free it early
        # already set by the render stage when the body is the rendered page
        record.setdefault("body_bytes", len(body) if body is not None else None)
        # computed once: the record's `mime`, and the job's (extraction reads it)
        record["mime"] = mime = mime_type(item.headers)
        status = item.http_status
        if body is None or status is None or not 200 <= status < 300:
            return None
        return ExtractJob(
            body=body,
            headers=item.headers,
            url=item.final_url or record.get("url", ""),
            mime=mime,
            fetched_at=item.fetched_at,
            preview_chars=self.preview_chars,
            full_text=self.full_text,
            max_html_bytes=self.max_html_bytes,
            thorough=self.thorough,
        )

    def apply(self, item: SourceItem, result: ContentResult) -> None:
        """Copy the extracted fields into the record."""
        item.record.update(result.fields)
        if result.paywall:
            item.paywall = result.paywall
        if result.truncated:
            self.inc_stat("extract/html_truncated")

    async def _run(self, job: ExtractJob, item: SourceItem) -> ContentResult:
        if self.pool is None:
            return self._call_in_process(job)
        try:
            result = await self.pool.run(job)
        except TaskFailed as exc:
            # Not the page's fault as far as we know (a pickling problem, or an
            # exception the in-process call would raise too): redo it here, so
            # the record is what in-process mode gives.
            logger.warning(
                "Extraction in a worker failed for %s (%s); extracting in-process",
                item.entry.url,
                exc,
            )
            self.inc_stat("extract/in_process_fallbacks")
            return self._call_in_process(job)
        except PoolError:
            # The worker died twice or timed out on this page: doing it here
            # could take the whole crawl down with it. The record says so.
            self.inc_stat("extract/worker_failures")
            raise
        if not isinstance(result, ContentResult):
            raise TypeError(f"{self.function} returned {type(result).__name__}")
        return result

    def _call_in_process(self, job: ExtractJob) -> ContentResult:
        if self.function == DEFAULT_FUNCTION:
            return content_fields(job)
        result = resolve(self.function)(job)
        if not isinstance(result, ContentResult):
            raise TypeError(f"{self.function} returned {type(result).__name__}")
        return result
