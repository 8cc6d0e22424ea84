"""The ``sources`` spider: one request per unique source URL, facts only.

It turns source entries into requests and responses or failures into raw
:class:`~crawler.items.SourceItem` objects. Judging (status, extraction,
IDs) is left to the item pipelines.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sized
from typing import Any, ClassVar, NoReturn

from scrapy import Request, Spider
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.utils.defer import deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from crawler.fetch.urls import Refusal, fetchable_url
from crawler.items import ENTRY_META_KEY, SourceItem
from crawler.sources import SourceEntry, SourcesError
from crawler.sources.provider import EntryProvider
from crawler.timeutil import fetch_time

logger = logging.getLogger(__name__)


class SourcesSpider(Spider):
    """Crawl every URL of a sources list once.

    Arguments: ``-a sources=PATH`` (a file, directory or glob; default: the
    example list bundled with the project).
    """

    name = "sources"
    #: the arguments this spider takes (``-a NAME=VALUE``); any other is refused before the start
    ARGUMENTS: ClassVar[Mapping[str, str]] = {
        "sources": "file, directory, glob or s3:// URI of the sources list "
        "(default: the example list bundled with the project)",
    }

    def __init__(self, sources: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources_spec = sources
        #: longer URLs are invalid_url records: Scrapy's UrlLengthMiddleware
        #: would drop their requests without a record (set in start())
        self.max_url_length: int | None = None

    async def start(self) -> AsyncIterator[Request | SourceItem]:
        """Turn the provider's entries into requests, waiting while the scheduler is busy."""
        settings = self.crawler.settings
        provider_class = load_object(settings["SOURCES_PROVIDER"])
        provider: EntryProvider = provider_class.from_crawler(self.crawler, self.sources_spec)
        readahead = settings.getint("SOURCES_READAHEAD")
        self.max_url_length = settings.getint("URLLENGTH_LIMIT") or None
        entries = provider.entries()
        while True:
            # Wait before asking: an entry held back here (claimed from a
            # shared queue, say) would only be something more to lose.
            await self.wait_for_room(readahead)
            try:
                entry = await anext(entries)
            except StopAsyncIteration:
                break
            except SourcesError as exc:
                self._fail_sources(exc)
            yield self.request_or_refusal(entry)

    async def wait_for_room(self, readahead: int) -> None:
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

    def request_or_refusal(self, entry: SourceEntry) -> Request | SourceItem:
        """The request for an entry, or its error item when it cannot be fetched at all."""
        if entry.url is None:
            return self._refused(entry, Refusal("invalid_url", entry.problem or "entry has no url"))
        target = fetchable_url(entry.url, self.max_url_length)
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
            fetched_at=fetch_time(),
            refusal=(refusal.kind, f"{refusal.detail} (at {entry.origin})"),
        )

    def parse(self, response: Response) -> SourceItem:
        """Record the response as it came, whatever its status."""
        headers = {
            str(key).lower(): str(value)
            for key, value in response.headers.to_unicode_dict().items()
        }
        # (url, size) of a body the fetch cut to its head (crawler/fetch/handler.py,
        # BodyCapMiddleware): the record's body_bytes is what the server sent
        cut = response.meta.get("full_body_bytes")
        record = {"body_bytes": cut[1]} if isinstance(cut, tuple) and cut[0] == response.url else {}
        return SourceItem(
            entry=response.meta[ENTRY_META_KEY],
            fetched_at=fetch_time(),
            request_url=(response.meta.get("redirect_urls") or [response.url])[0],
            final_url=response.url,
            http_status=response.status,
            headers=headers,
            body=response.body,
            record=record,
        )

    def on_failure(self, failure: Failure) -> SourceItem:
        """Record a fetch that produced no response (DNS, connection, timeout, limits)."""
        request: Request = failure.request  # type: ignore[attr-defined]
        return SourceItem(
            entry=request.meta[ENTRY_META_KEY],
            fetched_at=fetch_time(),
            request_url=(request.meta.get("redirect_urls") or [request.url])[0],
            final_url=request.url,
            failure=failure.value,
        )
