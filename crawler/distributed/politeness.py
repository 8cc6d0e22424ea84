"""Per-host politeness shared by every worker of a distributed run, kept in Redis.

Scrapy keeps a host's concurrency (``CONCURRENT_REQUESTS_PER_DOMAIN``) and
its delay between requests (``DOWNLOAD_DELAY``, stretched by the throttle)
in the downloader slot of one process, so N workers would ask a host N times
as hard as one. :class:`SharedPolitenessMiddleware` makes each request take a
*lease* on its host in Redis before it goes to its slot, and gives it back
when its response or failure comes out of the download:

- a host's leases are a sorted set of lease ids scored by their expiry, so
  at most the slot's concurrency of them are held at once across workers, and
  the leases of a worker that was killed expire on their own;
- a host's *next allowed start* is a key written when a lease is granted
  (``now + the slot's delay``) and expiring when it no longer matters, so that
  consecutive starts across workers are spaced as one process would space them.

Both are checked and taken in one Lua script (:data:`ACQUIRE`) on Redis's
clock, so workers on machines whose clocks disagree still agree. The keys are
``<prefix>:<run id>:polite:<hash of the host>:{leases,next}``: bounded in
length whatever the host name, and each carries a time to live.

Order (``DOWNLOADER_MIDDLEWARES`` 940, set by the distributed add-on): after
every middleware that may answer or refuse a request without a download
(the address guard, robots.txt, the host failure memory at 540, the HTTP
cache at 900), so that only requests that will be downloaded take a lease;
and after every middleware whose ``process_response`` or ``process_exception``
may replace the outcome with a new request (retries at 550, redirects at 600,
meta refresh at 580), because a chain stops at the first middleware that
returns a request: here, the response or failure reaches this middleware
first, and the lease is given back before a retry or redirect is made of it.
robots.txt requests pass through the downloader like any other, so they
count as requests to their host.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import secrets
import time
from collections import Counter
from typing import Any, Self, cast

from redis.exceptions import RedisError
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.distributed.run import RunKeys
from crawler.distributed.worker import WorkerContext, context_for

logger = logging.getLogger(__name__)

#: request meta key: the id of the lease the request holds (a string, so it travels as JSON)
LEASE_META_KEY = "politeness_lease"
#: the first pause while a host is busy; it doubles up to DISTRIBUTED_POLITENESS_POLL
FIRST_PAUSE = 0.05
#: leases remembered as held by this worker at most (a worker holds CONCURRENT_REQUESTS)
_MAX_HELD = 10_000

GRANTED, BUSY, TOO_SOON = 1, 0, 2

# KEYS: leases (sorted set, lease id -> expiry ms), next (next allowed start, ms).
# ARGV: lease id, concurrency, delay ms, lease ttl ms.
# Returns {GRANTED, 0}, {BUSY, ms until the oldest lease expires} or
# {TOO_SOON, ms until the next allowed start}. Times are Redis's own clock.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) - now)}
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return {2, nxt - now} end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
local delay = tonumber(ARGV[3])
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', delay) end
return {1, 0}
"""


def host_keys(keys: RunKeys, slot: str) -> tuple[str, str]:
    """The leases and next-start keys of a downloader slot (a host) in a run."""
    digest = hashlib.blake2b(slot.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    base = f"{keys.base}:polite:{digest}"
    return f"{base}:leases", f"{base}:next"


class SharedPolitenessMiddleware:
    """Downloader middleware (distributed mode): a host's concurrency and delay across workers.

    Settings: ``DISTRIBUTED_POLITENESS`` (on/off), ``DISTRIBUTED_POLITENESS_LEASE_TTL``
    (seconds a lease lives at most; 0: the request's download timeout times
    (``RETRY_TIMES`` + 1), at least twice the timeout),
    ``DISTRIBUTED_POLITENESS_POLL`` (longest pause between two looks at a busy host).
    The concurrency and delay are the request's downloader slot's (``DOWNLOAD_SLOTS``,
    the throttle's delay), as one process would keep them. Stats:
    ``politeness/leases`` (granted), ``politeness/waited`` (requests that waited),
    ``politeness/polls`` (looks at a host that was busy or too soon),
    ``politeness/lost`` (requests given up because Redis stayed unreachable).
    """

    def __init__(self, crawler: Crawler, context: WorkerContext, ttl: float, poll: float) -> None:
        self.crawler = crawler
        self.context = context
        settings = crawler.settings
        self.ttl = ttl
        self.poll = poll
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        self.attempts = settings.getint("RETRY_TIMES") + 1
        self.server = context.coordinator.server
        self._acquire = self.server.register_script(ACQUIRE)
        self._ids = itertools.count(1)
        # a worker started again under the same WORKER_ID must not reuse the
        # ids of leases its previous process may still hold
        self._lease_prefix = f"{context.worker}:{secrets.token_hex(4)}"
        #: lease id -> (leases key, monotonic expiry): given back at close
        self._held: dict[str, tuple[str, float]] = {}
        #: one request per host and worker asks Redis at a time; the others queue here
        self._turns: dict[str, asyncio.Lock] = {}
        self._queued: Counter[str] = Counter()
        #: leases key -> set when this worker gives one of that host's leases back
        self._freed: dict[str, asyncio.Event] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off outside distributed mode and when ``DISTRIBUTED_POLITENESS`` is false."""
        settings = crawler.settings
        if not settings.get("REDIS_URL") or not settings.getbool("DISTRIBUTED_POLITENESS"):
            raise NotConfigured
        middleware = cls(
            crawler,
            context_for(crawler),
            settings.getfloat("DISTRIBUTED_POLITENESS_LEASE_TTL"),
            settings.getfloat("DISTRIBUTED_POLITENESS_POLL"),
        )
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _slot(self, request: Request) -> tuple[str, int, float]:
        """The request's slot key, its concurrency and its delay, as the downloader has them."""
        settings = self.crawler.settings
        try:
            downloader = self.crawler.engine.downloader
        except RuntimeError:  # no engine yet (Scrapy 2.19 raises): Scrapy's own slot key
            key, slot, per_slot = urlparse_cached(request).hostname or "", None, {}
            concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        else:
            key = downloader.get_slot_key(request)
            slot = downloader.slots.get(key)
            per_slot = downloader.per_slot_settings.get(key, {})
            concurrency = downloader.ip_concurrency or downloader.domain_concurrency
        if slot is not None:
            return key, slot.concurrency, slot.delay
        # The slot is made when the request reaches it, after the middlewares:
        # the values it will be made with (Scrapy's Downloader._get_slot).
        delay = settings.getfloat("DOWNLOAD_DELAY")
        if settings.getbool("AUTOTHROTTLE_ENABLED"):
            delay = max(delay, settings.getfloat("AUTOTHROTTLE_START_DELAY"))
        return (
            key,
            int(per_slot.get("concurrency", concurrency)),
            float(per_slot.get("delay", delay)),
        )

    def _lease_ttl(self, request: Request) -> float:
        if self.ttl > 0:
            return self.ttl
        # a lease outlives the longest a request may hold it: waiting in its
        # slot (the delay) and its download (the timeout), with room to spare
        timeout = float(request.meta.get("download_timeout") or self.timeout or 180.0)
        return timeout * max(2, self.attempts)

    async def process_request(self, request: Request) -> None:
        """Wait until the host has a free lease and its next start has come; take the lease."""
        held = request.meta.get(LEASE_META_KEY)
        if isinstance(held, str) and held in self._held:
            return  # already holds one (a request sent through the chain again)
        key, concurrency, delay = self._slot(request)
        leases, next_start = host_keys(self.context.keys, key)
        ttl = self._lease_ttl(request)
        lease = f"{self._lease_prefix}:{next(self._ids)}"
        turn = self._turns.setdefault(key, asyncio.Lock())
        self._queued[key] += 1
        try:
            async with turn:
                await self._take(leases, next_start, lease, max(1, concurrency), delay, ttl)
        finally:
            self._queued[key] -= 1
            if not self._queued[key]:
                del self._queued[key]
                self._turns.pop(key, None)
        if len(self._held) >= _MAX_HELD:
            now = time.monotonic()
            self._held = {k: v for k, v in self._held.items() if v[1] > now}
        self._held[lease] = (leases, time.monotonic() + ttl)
        request.meta[LEASE_META_KEY] = lease
        self._inc("politeness/leases")

    async def _take(
        self, leases: str, next_start: str, lease: str, concurrency: int, delay: float, ttl: float
    ) -> None:
        context = self.context
        pause = min(FIRST_PAUSE, self.poll)
        waited = False
        while True:
            try:
                code, wait_ms = cast(
                    list[int],
                    self._acquire(
                        keys=[leases, next_start],
                        args=[lease, concurrency, int(delay * 1000), max(1, int(ttl * 1000))],
                    ),
                )
            except RedisError as exc:
                if context.redis_failed(exc):
                    self._inc("politeness/lost")
                    raise IgnoreRequest(
                        "Redis unreachable past DISTRIBUTED_REDIS_GRACE: the host's "
                        "shared politeness cannot be kept"
                    ) from None
                await asyncio.sleep(context.poll)
                continue
            context.redis_ok()
            if code == GRANTED:
                return
            if not waited:
                self._inc("politeness/waited")
                waited = True
            self._inc("politeness/polls")
            wait = wait_ms / 1000
            if code == TOO_SOON:
                # the next start is known: sleep until then (the delay itself
                # bounds it), not in growing steps past it
                await asyncio.sleep(min(wait, ttl))
                continue
            # Busy: another worker gives a lease back when its download ends,
            # which no one announces; look again after a pause that doubles, at
            # most until the oldest lease expires and at most
            # DISTRIBUTED_POLITENESS_POLL. A lease this worker gives back ends
            # the pause at once.
            freed = self._freed.setdefault(leases, asyncio.Event())
            try:
                await asyncio.wait_for(freed.wait(), min(pause, wait))
                pause = min(FIRST_PAUSE, self.poll)
            except TimeoutError:
                pause = min(pause * 2, self.poll)
            finally:
                self._freed.pop(leases, None)

    def _release(self, request: Request) -> None:
        lease = request.meta.pop(LEASE_META_KEY, None)
        held = self._held.pop(lease, None) if isinstance(lease, str) else None
        if held is None:
            return
        freed = self._freed.get(held[0])
        if freed is not None:
            freed.set()
        try:
            self.server.zrem(held[0], lease)
        except RedisError as exc:
            # the lease expires by itself; the outage counts against the grace
            self.context.redis_failed(exc)
            logger.debug("Could not give lease %s back: %s", lease, exc)

    def process_response(self, request: Request, response: Response) -> Response:
        """Give the request's lease back: its download is over."""
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Give the request's lease back: its download failed (a retry takes a new one)."""
        self._release(request)

    def spider_closed(self, spider: Any) -> None:
        """Give back every lease still held (requests cancelled by the shutdown)."""
        held, self._held = self._held, {}
        if not held or self.context.lost:
            return
        by_key: dict[str, list[str]] = {}
        for lease, (leases, _) in held.items():
            by_key.setdefault(leases, []).append(lease)
        try:
            pipe = self.server.pipeline(transaction=False)
            for leases, ids in by_key.items():
                pipe.zrem(leases, *ids)
            pipe.execute()
        except RedisError as exc:
            logger.warning("Could not give back %d host leases (they expire): %s", len(held), exc)
