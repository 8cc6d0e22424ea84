"""The thin layer that makes scrapy-redis 0.9.1 fit Scrapy 2.19 and this project's contract.

scrapy-redis predates Scrapy 2.13's ``start()`` and 2.19's stats API, and
its defaults suit an open-ended crawl, not a night with exactly one record
per source. What each class here works around:

- ``Scheduler``: scrapy-redis passes ``spider=`` to the stats collector,
  which Scrapy 2.19 deprecates (a warning per request, an error under our
  pytest settings); with ``SCHEDULER_PERSIST=False`` the first worker that
  finishes deletes the shared queue and filter under the others' feet, so
  ``close`` never flushes (a run id namespaces the keys instead); and
  stock scrapy-redis lets requests marked ``dont_filter`` (the spider marks
  all of its start requests so, see below) bypass the shared filter, so the
  first request of every entry is checked against it here whatever its flag.
- ``EntryPriorityQueue``: the default priority queue (not FIFO/LIFO: their
  blocking pop stalls the reactor), with each request's entry key in front
  of the payload so that popping a request and claiming its entry is one
  atomic Lua step, and pushing one hands the entry back to the queue in one
  MULTI. A worker that dies thus loses no request it had taken.
  Payloads are JSON (:mod:`crawler.distributed.serializer`), never
  pickle, whatever ``SCHEDULER_SERIALIZER`` says: one that does not decode
  is logged, counted (``distributed/bad_payload``) and dropped, unexecuted.
- ``EntryDupeFilter``: fingerprints are entry keys, not URL fingerprints.
  The spider keeps fragment and tracking variants of a page as distinct
  sources (``dont_filter`` for Scrapy's own filter); a URL fingerprint would
  merge them. It never deletes its key on close either.

Start entries do not go through ``scrapy_redis.spiders.RedisSpider`` at
all: it reads ``start_requests``-era hooks (Scrapy 2.19 ignores
``start_requests()``) and turns extra JSON keys of an entry into a query
string. Entries are decoded with their fields intact by
:func:`crawler.distributed.worker.RedisProvider` instead.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from redis.exceptions import RedisError
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawler.distributed import serializer as json_serializer
from crawler.distributed.run import KEY_SEPARATOR, Coordinator, entry_key
from crawler.distributed.worker import context_for
from crawler.items import ENTRY_META_KEY

logger = logging.getLogger(__name__)


def request_entry_key(request: Request) -> str | None:
    """The key of the source entry a request fetches, if it carries one."""
    entry = request.meta.get(ENTRY_META_KEY)
    return entry_key(entry) if entry is not None else None


def is_first_request(request: Request) -> bool:
    """Whether a request is an entry's first: not a redirect or retry of it.

    Redirects and retries continue an entry that already passed the filter;
    filtering them on the entry key would drop them.
    """
    meta = request.meta
    return "redirect_urls" not in meta and not meta.get("retry_times")


class EntryDupeFilter(RFPDupeFilter):  # type: ignore[misc]
    """scrapy-redis's shared filter, keyed by source entry."""

    def request_fingerprint(self, request: Request) -> str:
        """The entry key for entry requests; scrapy-redis's URL fingerprint otherwise."""
        key = request_entry_key(request)
        return key if key is not None else str(super().request_fingerprint(request))

    def close(self, reason: str = "") -> None:
        """Keep the fingerprints: other workers of the run still rely on them."""


class EntryPriorityQueue(PriorityQueue):  # type: ignore[misc]
    """scrapy-redis's priority queue whose push and pop move entry claims atomically."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        # Our JSON serializer whatever was configured: scrapy-redis's default
        # (pickle) would run code from anyone who can write to the queue.
        super().__init__(server, spider, key, json_serializer)
        assert spider.crawler is not None
        context = context_for(spider.crawler)
        self.worker = context.worker
        self.coordinator: Coordinator = context.coordinator

    def push(self, request: Request) -> None:
        """Queue a request, handing its entry from this worker to the queue."""
        key = request_entry_key(request) or ""
        payload = key.encode() + KEY_SEPARATOR + self._encode_request(request)
        self.coordinator.push_request(self.worker, key, payload, -request.priority)

    def pop(self, timeout: int = 0) -> Request | None:
        """Take the next request and claim its entry for this worker (never blocks).

        A payload that is not one of our JSON requests is dropped: one log
        line, the ``distributed/bad_payload`` stat, its claim released (its
        entry, if it names a real one, is reported missing by ``finish``).
        """
        while True:
            try:
                payload = self.coordinator.pop_request(self.worker)
            except RedisError as exc:
                # no request now; the worker's grace decides when to give up
                context_for(self.spider.crawler).redis_failed(exc)
                return None
            if payload is None:
                return None
            key, _, encoded = payload.partition(KEY_SEPARATOR)
            try:
                request: Request = self._decode_request(encoded)
            except (json_serializer.BadPayload, ValueError, TypeError) as exc:
                logger.error(
                    "Dropped a queued request that is not a JSON request of this project "
                    "(%d bytes): %s",
                    len(payload),
                    str(exc)[:200],
                )
                self.coordinator.release(self.worker, key.decode("utf-8", "replace"))
                stats = self.spider.crawler.stats if self.spider.crawler else None
                if stats is not None:
                    stats.inc_value("distributed/bad_payload")
                continue
            return request


class Scheduler(RedisScheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler without the spider-argument stats, the flush and the bypass."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the scheduler; stats without the deprecated ``spider`` argument."""
        instance: Self = cls.from_settings(crawler.settings)
        instance.stats = crawler.stats
        return instance

    def close(self, reason: str) -> None:
        """Leave the shared queue and filter alone: other workers may still be using them."""

    def enqueue_request(self, request: Request) -> bool:
        """Queue a request unless its entry was already queued in this run."""
        # The spider marks every request dont_filter (for Scrapy's URL filter);
        # the shared filter is on entries, so an entry's first request is
        # always checked, and only its redirects and retries pass unchecked.
        check = not request.dont_filter or (
            request_entry_key(request) is not None and is_first_request(request)
        )
        if check and self.df.request_seen(request):
            self.df.log(request, self.spider)
            key = request_entry_key(request)
            if key is not None:  # queued once already: this worker is not responsible for it
                self.queue.coordinator.release(self.queue.worker, key)
            if self.stats:
                self.stats.inc_value("scheduler/filtered/redis")
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        try:
            self.queue.push(request)
        except RedisError as exc:
            # Dropped: its entry stays claimed by this worker, whose part file
            # then cannot be complete; the entry is re-queued when it dies or gives up.
            logger.warning("Could not queue %s in Redis (%s): dropped", request, exc)
            context_for(self.spider.crawler).redis_failed(exc)
            return False
        return True

    def next_request(self) -> Request | None:
        """Take the next request from the shared queue."""
        request: Request | None = self.queue.pop(0)
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request
