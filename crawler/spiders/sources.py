"""The ``sources`` spider: one request per unique source URL, facts only.

It turns source entries into requests and responses or failures into raw
:class:`~crawler.items.SourceItem` objects. Judging (status, extraction,
IDs) is left to the item pipelines.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Sized
from pathlib import Path
from typing import Any, NoReturn

from scrapy import Request, Spider
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.utils.defer import deferred_to_future
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from crawler.items import SourceItem
from crawler.sourcelist import (
    SourceEntry,
    SourcesError,
    check_sources,
    iter_entries,
    resolve_sources,
)
from crawler.timeutil import iso_z, utc_now
from crawler.urlcheck import Refusal, fetchable_url

logger = logging.getLogger(__name__)

EXAMPLE_SOURCES = str(Path(__file__).resolve().parent.parent / "examples" / "sources.yaml")
ENTRY_META_KEY = "source_entry"


class SourcesSpider(Spider):
    """Crawl every URL of a sources list once.

    Arguments: ``-a sources=PATH`` (a file, directory or glob; default: the
    example list bundled with the project).
    """

    name = "sources"

    def __init__(self, sources: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources_spec = sources or EXAMPLE_SOURCES

    async def start(self) -> AsyncIterator[Request | SourceItem]:
        """Stream entries into requests, waiting while the scheduler is busy."""
        if self.crawler.settings.get("REDIS_URL"):
            # Distributed mode: the entries come from the run loaded into Redis,
            # claimed one at a time, and become requests through the same code.
            from crawler.distributed.worker import shared_start  # only needed in this mode

            async for request_or_item in shared_start(self):
                yield request_or_item
            return
        stats = self.crawler.stats
        assert stats is not None
        publications = self.crawler.settings.get("PUBLICATIONS")
        try:
            files = resolve_sources(
                self.sources_spec, exclude=[publications] if publications else []
            )
            check_sources(files)
        except SourcesError as exc:
            self._fail_sources(exc)
        logger.info(
            "Reading sources from %d file(s): %s",
            len(files),
            ", ".join(files[:5]) + (" …" if len(files) > 5 else ""),
        )
        readahead = self.crawler.settings.getint("SOURCES_READAHEAD", 1000)
        seen: set[bytes] = set()
        entries = iter_entries(files)
        while True:
            try:
                entry = next(entries)
            except StopIteration:
                break
            except SourcesError as exc:  # the file changed between the check and the read
                self._fail_sources(exc)
            stats.inc_value("ingest/entries")
            if entry.url is not None:
                # A short digest per URL keeps the memory per source small.
                key = hashlib.blake2b(entry.url.encode("utf-8"), digest_size=12).digest()
                if key in seen:
                    stats.inc_value("ingest/duplicates")
                    logger.debug("Duplicate URL skipped at %s: %s", entry.origin, entry.url)
                    continue
                seen.add(key)
            stats.inc_value("ingest/entries_unique")
            await self._wait_for_room(readahead)
            yield self._request_or_refusal(entry)
        stats.set_value("ingest/sources_complete", True)

    async def _wait_for_room(self, readahead: int) -> None:
        """Read on only while fewer than ``readahead`` requests wait in the scheduler.

        Reading the whole list up front would hold every request in memory;
        reading only when the scheduler is empty lets a few large domains,
        throttled per domain, starve all the others. A bounded backlog spread
        over many domains keeps both memory and throughput in check.
        """
        from twisted.internet import reactor  # imported late: importing installs a reactor

        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        # Scrapy's schedulers are Sized; a custom one that is not is never waited on.
        while isinstance(scheduler, Sized) and len(scheduler) >= readahead:
            await deferred_to_future(deferLater(reactor, 0.05, lambda: None))

    def _fail_sources(self, exc: SourcesError) -> NoReturn:
        stats = self.crawler.stats
        assert stats is not None
        logger.error("Cannot read the sources list: %s", exc)
        stats.set_value("ingest/failure", "sources")
        stats.set_value("ingest/failure_detail", str(exc))
        raise CloseSpider("sources_error")

    def _request_or_refusal(self, entry: SourceEntry) -> Request | SourceItem:
        if entry.url is None:
            return self._refused(entry, Refusal("invalid_url", entry.problem or "entry has no url"))
        target = fetchable_url(entry.url)
        if isinstance(target, Refusal):
            return self._refused(entry, target)
        # dont_filter: duplicates are removed above on the URL as given; Scrapy's
        # filter would also drop fragment variants and redirects that meet.
        # Scrapy drops the Authorization header on redirects to another host.
        headers = {"Authorization": target.authorization} if target.authorization else None
        return Request(
            target.url,
            headers=headers,
            callback=self.parse,
            errback=self.on_failure,
            dont_filter=True,
            meta={ENTRY_META_KEY: entry},
        )

    def _refused(self, entry: SourceEntry, refusal: Refusal) -> SourceItem:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"ingest/refused/{refusal.kind}")
        return SourceItem(
            entry=entry,
            fetched_at=iso_z(utc_now()),
            refusal=(refusal.kind, f"{refusal.detail} (at {entry.origin})"),
        )

    def parse(self, response: Response) -> SourceItem:
        """Record the response as it came, whatever its status."""
        headers = {
            str(key).lower(): str(value)
            for key, value in response.headers.to_unicode_dict().items()
        }
        return SourceItem(
            entry=response.meta[ENTRY_META_KEY],
            fetched_at=iso_z(utc_now()),
            request_url=(response.meta.get("redirect_urls") or [response.url])[0],
            final_url=response.url,
            http_status=response.status,
            headers=headers,
            body=response.body,
        )

    def on_failure(self, failure: Failure) -> SourceItem:
        """Record a fetch that produced no response (DNS, connection, timeout, limits)."""
        request: Request = failure.request  # type: ignore[attr-defined]
        return SourceItem(
            entry=request.meta[ENTRY_META_KEY],
            fetched_at=iso_z(utc_now()),
            request_url=(request.meta.get("redirect_urls") or [request.url])[0],
            final_url=request.url,
            failure=failure.value,
        )
