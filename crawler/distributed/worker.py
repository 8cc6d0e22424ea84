"""One worker of a distributed run: where its entries come from, its heartbeat, its part file.

In distributed mode the spider's entries come from :class:`RedisProvider`
(``SOURCES_PROVIDER``): they are claimed from the run's ``start`` list
instead of read from files, and turned into requests by the spider's own
code. :class:`WorkerExtension` keeps the worker's heartbeat and counts its
records; :class:`WorkerPartStorage` publishes its part file and commits its
claims when, and only when, the part holds one record per claimed entry.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

from redis import Redis
from redis.exceptions import RedisError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from scrapy.utils.defer import deferred_from_coro, deferred_to_future
from twisted.internet.task import LoopingCall, deferLater

from crawler.distributed.run import Coordinator, RunKeys
from crawler.publish.counts import as_record
from crawler.publish.feedstorage import AtomicFileFeedStorage
from crawler.publish.manifest import make_shareable
from crawler.publish.sequence import Publication, publish
from crawler.sources import SourceEntry

logger = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    """What a worker process knows about its run."""

    worker: str
    keys: RunKeys
    coordinator: Coordinator
    heartbeat: float
    poll: float
    #: seconds Redis may stay unreachable before the worker gives up (DISTRIBUTED_REDIS_GRACE)
    grace: float = 60.0
    #: monotonic time of the first failed Redis call of the current outage, or None
    unreachable_since: float | None = None
    #: set once the grace ran out: the worker stops and publishes nothing
    lost: bool = False

    def redis_failed(self, exc: BaseException) -> bool:
        """Note a failed Redis call; True once the outage has lasted longer than ``grace``."""
        now = time.monotonic()
        if self.unreachable_since is None:
            self.unreachable_since = now
            logger.warning(
                "Redis unreachable (%s); retrying for up to %.0f s (DISTRIBUTED_REDIS_GRACE)",
                exc,
                self.grace,
            )
        if not self.lost and now - self.unreachable_since > self.grace:
            self.lost = True
        return self.lost

    def redis_ok(self) -> None:
        """Note a Redis call that worked: the outage, if any, is over."""
        if self.unreachable_since is not None and not self.lost:
            logger.info("Redis reachable again")
            self.unreachable_since = None


_contexts: weakref.WeakKeyDictionary[Crawler, WorkerContext] = weakref.WeakKeyDictionary()


def context_for(crawler: Crawler) -> WorkerContext:
    """The worker context of a crawler in distributed mode (made once per crawler)."""
    context = _contexts.get(crawler)
    if context is None:
        settings = crawler.settings
        keys = RunKeys(settings.get("REDIS_KEY_PREFIX"), settings["RUN_ID"])
        # A timeout on every call: a partitioned network must fail a call
        # (and count against the grace), not hang the reactor for ever.
        timeout = settings.getfloat("DISTRIBUTED_REDIS_TIMEOUT") or None  # 0: none
        server = Redis.from_url(
            settings["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout
        )
        context = WorkerContext(
            worker=settings["WORKER_ID"],
            keys=keys,
            coordinator=Coordinator(server, keys),
            heartbeat=settings.getfloat("DISTRIBUTED_HEARTBEAT"),
            poll=settings.getfloat("DISTRIBUTED_POLL"),
            grace=settings.getfloat("DISTRIBUTED_REDIS_GRACE"),
        )
        _contexts[crawler] = context
    return context


async def _sleep(seconds: float) -> None:
    from twisted.internet import reactor  # imported late: importing installs a reactor

    await deferred_to_future(deferLater(reactor, seconds, lambda: None))


class RedisProvider:
    """Entry provider (``SOURCES_PROVIDER`` in distributed mode): claim entries from Redis.

    Ends when nothing waits, nothing is queued and no other live worker
    still holds entries it has not recorded (it could yet die, and its
    entries would come back); dead workers' entries are reclaimed meanwhile.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.context = context_for(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler, spec: str | None) -> Self:
        """Build the provider; the run loaded into Redis replaces ``-a sources=``."""
        if spec:
            logger.warning("-a sources=%s is ignored: the entries come from the Redis run", spec)
        return cls(crawler)

    async def entries(self) -> AsyncIterator[SourceEntry]:
        """Claim one entry at a time until the run is drained."""
        context = self.context
        coordinator, worker = context.coordinator, context.worker
        stats = self.crawler.stats
        assert stats is not None
        logger.info("Worker %s joined run %s", worker, context.keys.run_id)
        while True:
            if context.lost:
                return  # the run is not drained as far as we know: sources_complete stays unset
            try:
                claimed = coordinator.claim_start(worker)
                if claimed is None:
                    reclaimed = coordinator.reclaim_dead(except_worker=worker)
                    drained = (
                        not reclaimed
                        and coordinator.loaded()
                        and coordinator.pending() == 0
                        and not coordinator.others_busy(worker)
                    )
            except RedisError as exc:
                context.redis_failed(exc)
                await _sleep(context.poll)
                continue
            context.redis_ok()
            if claimed is not None:
                stats.inc_value("ingest/entries")
                stats.inc_value("ingest/entries_unique")
                yield claimed[1]
                continue
            if reclaimed:
                logger.warning("Re-queued %d entries of workers that stopped beating", reclaimed)
                stats.inc_value("distributed/reclaimed", reclaimed)
                continue
            if drained:
                break
            await _sleep(context.poll)
        stats.set_value("ingest/sources_complete", True)
        logger.info("Worker %s: the run's queue is drained", worker)


class WorkerExtension:
    """Extension (distributed mode): register, beat, count records, release on failure."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.context = context_for(crawler)
        self._beat: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect to the crawler's signals."""
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(extension.feed_exporter_closed, signal=signals.feed_exporter_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        """Register as running and start the heartbeat."""
        context = self.context
        context.coordinator.register(context.worker, context.heartbeat)
        self._beat = LoopingCall(self._heartbeat)
        self._beat.start(context.heartbeat / 3, now=False)

    def _heartbeat(self) -> None:
        context = self.context
        try:
            context.coordinator.heartbeat(context.worker, context.heartbeat)
        except RedisError as exc:  # a Redis hiccup must not stop the beat for good
            if context.redis_failed(exc):
                self._give_up()
            return
        context.redis_ok()

    def _give_up(self) -> None:
        """Redis stayed unreachable past the grace: stop and publish nothing (exit code 8)."""
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        stats = self.crawler.stats
        assert stats is not None
        if stats.get_value("ingest/failure"):
            return
        logger.error(
            "Lost the coordinator: Redis unreachable for more than %.0f s "
            "(DISTRIBUTED_REDIS_GRACE); worker %s stops and publishes nothing, its entries "
            "go back to the queue when its heartbeat expires (finish lists what is missing)",
            self.context.grace,
            self.context.worker,
        )
        stats.set_value("ingest/failure", "coordinator")
        stats.set_value("ingest/failure_detail", "Redis unreachable past DISTRIBUTED_REDIS_GRACE")
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="coordinator_lost"))

    def item_scraped(self, item: Any) -> None:
        """Count one record written to this worker's part file."""
        if as_record(item) is not None:
            try:
                self.context.coordinator.record_written(self.context.worker)
            except RedisError as exc:
                # the count only helps others judge this worker: the part file
                # is checked against the claims before it is published
                self.context.redis_failed(exc)

    def engine_stopped(self) -> None:
        """Stop beating (if the feed exporter did not get to it)."""
        if self._beat is not None and self._beat.running:
            self._beat.stop()

    def feed_exporter_closed(self) -> None:
        """Stop beating; give back the entries of a part file that was not published."""
        # The beat runs until the part file is stored: entries must not be
        # reclaimed from a worker that is still committing them.
        self.engine_stopped()
        context = self.context
        if context.lost:
            return  # nothing to give back through a Redis we cannot reach
        try:
            running = context.coordinator.workers().get(context.worker) == "running"
        except RedisError as exc:
            logger.error("Cannot release worker %s's entries: %s", context.worker, exc)
            return
        if running:
            count = context.coordinator.reclaim(context.worker, force=True)
            logger.error(
                "Worker %s did not publish its part file; %d entries go back to the queue",
                context.worker,
                max(0, count),
            )


class WorkerPartStorage(AtomicFileFeedStorage):
    """Feed storage of a worker's part file: publish and commit only when complete.

    Complete for a worker means one record per entry it claimed (an entry
    another worker took stays that worker's). The part file goes where
    ``WORKER_ID`` makes it unique, so no other worker's clean-up touches it.
    """

    def open(self, spider: Spider) -> IO[bytes]:
        """Open this worker's hidden part file beside the final path."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._part = self.path.with_name(f".{self.path.name}.part")
        file = self._part.open("w+b")
        make_shareable(self._part)
        return file

    def store(self, file: IO[bytes]) -> None:
        """Publish the part file and its manifest, then commit the claims in Redis."""
        assert self._part is not None and self.crawler is not None
        context = context_for(self.crawler)
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        problem = self._problem(stats, context)
        path = self.path

        def commit_claims() -> str | None:
            if context.coordinator.commit(context.worker, str(path.resolve())):
                return None
            # Our heartbeat lapsed and another worker re-queued our entries:
            # they are crawled again elsewhere, so this part must not count.
            return (
                f"worker {context.worker}'s entries were re-queued by another worker "
                "(its heartbeat lapsed); its part file was withdrawn"
            )

        # No health check and no pointer: a part is judged as part of the
        # whole night, by the finishing step.
        publish(
            Publication(
                part=self._part,
                target=path,
                output=str(path),
                stats=stats,
                incomplete=problem,
                manifest_extra={"worker": context.worker, "run_id": context.keys.run_id},
                confirm=commit_claims,
            ),
            file,
        )
        if self.crawler.stats:
            self.crawler.stats.set_value("ingest/output", str(path))

    @staticmethod
    def _problem(stats: dict[str, Any], context: WorkerContext) -> str | None:
        if stats.get("ingest/failure"):
            return f"the run failed ({stats.get('ingest/failure_detail')})"
        if not stats.get("ingest/sources_complete"):
            return "the worker stopped before the run's queue was drained"
        claimed = context.coordinator.server.scard(context.keys.claims(context.worker))
        written = int(stats.get("ingest/records", 0))
        if written != claimed:
            return f"{written} records written for {claimed} entries this worker took"
        return None


def part_path(parts_dir: str, run_id: str, worker: str) -> Path:
    """Where a worker's part file goes: ``<parts_dir>/<run id>/<worker id>.jsonl``."""
    return Path(parts_dir) / run_id / f"{worker}.jsonl"
