"""Per-host scheduling for a night of thousands of hosts: what a host costs, and when it starts.

Two parts, both about hosts rather than requests:

- :class:`HostFailureMiddleware` remembers, per origin (scheme, host and port), that it
  timed out or refused a request after all its retries while nothing else from it
  arrived, and fails that origin's later requests at once with the same kind of error.
  A host that hangs then costs its timeout once (one request with its retries), not once
  per source. It also gives robots.txt requests their own, shorter timeout
  (``ROBOTSTXT_TIMEOUT``): a robots.txt that hangs is the host hanging, found sooner.
- :class:`HostAwarePriorityQueue` (``SCHEDULER_PRIORITY_QUEUE``) hands the downloader only
  requests that can go on the wire now: not a page whose host's robots.txt is not known
  yet (it asks for that robots.txt ahead instead), nor one whose host's probe is out,
  nor more than a host's slot can send at once, nor one its host's delay would keep in
  the slot (the engine is woken when the delay ends). Such requests wait in the scheduler,
  not in the 32 places of ``CONCURRENT_REQUESTS``, and a retry (ahead of its host's
  queue, ``RETRY_PRIORITY_ADJUST``) is not queued behind them. Among hosts it takes the
  one with the most work left (queued requests times its latency) per place it holds in
  the downloader, so that long hosts start early and get their concurrency. Requests
  sent without it (the rot stage's soft-404 probe) wait for a turn by the same rules
  (:meth:`HostAwarePriorityQueue.turn`).
- :class:`HostSpeedThrottle` replaces AutoThrottle: a host that is slow by itself keeps
  its concurrency; only the slowdown our requests cause stretches its delay.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple, NoReturn, Self

from scrapy import Request, signals
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError, NotConfigured
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from scrapy.pqueues import DownloaderAwarePriorityQueue, DownloaderInterface
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.datatypes import LocalCache
from scrapy.utils.httpobj import urlparse_cached

from crawler.fetch.errors import REFUSED_ERRORS, TIMEOUT_ERRORS
from crawler.fetch.middlewares import RobotsState, SharedRobotsTxtMiddleware

logger = logging.getLogger(__name__)

_FIRST_ATTEMPT = "hosts_first_attempt"  # meta: when the first attempt of this request began
_PROBE = "hosts_probe"  # meta: the origin this request is the probe of
_CONFIRM = "hosts_confirm"  # meta: the origin this request confirms a probe's timeout for
_STRUCK = "hosts_struck"  # meta: this request's timeout already counted as a strike
_FIRST_CONTACT = "hosts_first_contact"  # meta: the first page handed over for its host
_FRESH_WALK = 64  # hosts not contacted yet looked at per pop for the first-contact places
_MAX_ORIGINS = 100_000  # origins remembered at once; a night has a few thousand


class HostTimedOutError(DownloadTimeoutError):
    """A request not sent: its origin timed out earlier this run (an error kind ``timeout``)."""


class HostRefusedError(DownloadConnectionRefusedError):
    """A request not sent: its origin refused connections earlier this run (kind ``connection``)."""


class _Failure(NamedTuple):
    timed_out: bool  # else refused
    message: str


def origin_of(request: Request) -> str:
    """``scheme://host:port`` of the request: what a timeout or a refusal is a fact about."""
    parts = urlparse_cached(request)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_robots_request(request: Request) -> bool:
    """Whether the request is the robots.txt fetch of Scrapy's robots middleware."""
    return bool(request.meta.get("dont_obey_robotstxt")) and (
        urlparse_cached(request).path == "/robots.txt"
    )


class HostFailureMiddleware:
    """One request at a time to an origin until it answers; fail them all if it hangs or refuses.

    Placed before ``RetryMiddleware`` (550) so that it sees a failure only once the
    retries are spent. Until an origin has answered a page (any status), one request to
    it is on its way (the probe, with its retries) and the others wait here for its
    outcome. A request that ends in a timeout or a refused connection while nothing
    else came from its origin is a strike against the origin; the origin is remembered
    as failed at the second strike (two different URLs: one slow page does not condemn
    its host) or at once when it was the origin's robots.txt, a small static file. The
    probe's first timeout is its strike; the second URL (one attempt, no retries) goes
    at once, and the probe's next retry waits in the scheduler while it is out: when it
    times out too, the origin has failed and that retry fails at once, so a hanging host
    costs two timeouts, not the probe's every attempt. The waiting requests and every later one
    then end at once with :class:`HostTimedOutError` or :class:`HostRefusedError` (the
    same error kinds, ``timeout`` and ``connection``), not retried. A host that answers
    others of its pages while one hangs gets no strike for it.

    Settings: ``HOST_FAILURE_MEMORY`` (on/off), ``ROBOTSTXT_TIMEOUT`` (seconds a
    robots.txt request may take; 0 keeps ``DOWNLOAD_TIMEOUT``). Stats:
    ``hosts/failed/timeout``, ``hosts/failed/refused`` (origins remembered),
    ``hosts/fast_failed`` (requests not sent), ``hosts/probe_waits`` (requests that
    waited for a probe), ``hosts/probe_given_up`` (probes without an outcome in time),
    ``hosts/confirmations`` (second URLs sent beside a probe's retries).
    """

    def __init__(self, crawler: Crawler, robots_timeout: float, max_wait: float) -> None:
        self.crawler = crawler
        self.robots_timeout = robots_timeout
        # A waiter gives up waiting after this long and becomes a probe itself, so
        # that a probe lost without an outcome (cancelled at shutdown) strands nobody.
        self.max_wait = max_wait
        self.failed: LocalCache[str, _Failure] = LocalCache(_MAX_ORIGINS)
        self.last_answer: LocalCache[str, float] = LocalCache(_MAX_ORIGINS)
        self.proven: LocalCache[str, bool] = LocalCache(_MAX_ORIGINS)
        self.strikes: LocalCache[str, int] = LocalCache(_MAX_ORIGINS)
        self.probes: dict[str, asyncio.Future[None]] = {}
        # origins whose probe timed out once: one other URL goes at once, beside the
        # probe's retries (once per origin), and ``confirm_open`` holds those whose
        # confirming request has not been chosen yet
        self.confirming: LocalCache[str, bool] = LocalCache(_MAX_ORIGINS)
        self.confirm_open: set[str] = set()
        # origins whose confirming request is on its way: the probe's retries wait for it
        self.confirm_out: set[str] = set()
        # origin → its probe and confirming request still out: the waiters are
        # released when the last of them ends (or at once, when a page answers)
        self.deciders: dict[str, int] = {}
        self.probe_since: dict[str, float] = {}  # origin → when its probe was chosen
        # found by HostAnswerMiddleware, which sees each response before any later
        # middleware (decompression, say) can turn it into an exception
        crawler.host_failure_memory = self  # type: ignore[attr-defined]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off when ``HOST_FAILURE_MEMORY`` is false."""
        settings = crawler.settings
        if not settings.getbool("HOST_FAILURE_MEMORY"):
            raise NotConfigured
        attempts = settings.getint("RETRY_TIMES") + 1
        max_wait = 2 * attempts * settings.getfloat("DOWNLOAD_TIMEOUT") + settings.getfloat(
            "RETRY_AFTER_MAX"
        )
        return cls(crawler, settings.getfloat("ROBOTSTXT_TIMEOUT"), max_wait)

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _fail_fast(self, request: Request, known: _Failure) -> NoReturn:
        # not retried: the retries were spent on the request that found it out
        request.meta["dont_retry"] = True
        self._inc("hosts/fast_failed")
        if known.timed_out:
            raise HostTimedOutError(known.message)
        raise HostRefusedError(known.message)

    async def process_request(self, request: Request) -> None:
        """Fail at once for a failed origin; wait for the probe of an unproven one."""
        origin = origin_of(request)
        known = self.failed.get(origin)
        if known is not None:
            self._fail_fast(request, known)
        request.meta.setdefault(_FIRST_ATTEMPT, time.monotonic())
        if is_robots_request(request):
            if self.robots_timeout > 0:
                # Scrapy's DownloadTimeoutMiddleware (350) has already put DOWNLOAD_TIMEOUT
                # here, so a setdefault would never shorten it: a hanging robots.txt then
                # cost the full page timeout on each of its attempts.
                current = request.meta.get("download_timeout") or self.robots_timeout
                request.meta["download_timeout"] = min(float(current), self.robots_timeout)
            return
        waited = False
        while (
            not self.proven.get(origin)
            and request.meta.get(_PROBE) != origin
            and request.meta.get(_CONFIRM) != origin
        ):
            probe = self.probes.get(origin)
            if probe is None or probe.done():
                self._make_probe(request, origin)
                break
            if not waited:
                self._inc("hosts/probe_waits")
                waited = True
            try:
                await asyncio.wait_for(asyncio.shield(probe), self.max_wait)
            except TimeoutError:
                self._inc("hosts/probe_given_up")
                self._settle(origin)
            known = self.failed.get(origin)
            if known is not None:
                self._fail_fast(request, known)

    def _make_probe(self, request: Request, origin: str) -> None:
        # this request (and its retries, which carry the mark) is the probe
        request.meta[_PROBE] = origin
        if self.strikes.get(origin):
            request.meta["max_retry_times"] = 0  # confirming: one attempt
        self.probes[origin] = asyncio.get_running_loop().create_future()
        self.probe_since[origin] = time.monotonic()
        self.deciders[origin] = 1

    def admit(self, request: Request) -> bool:
        """Whether ``request`` may go to the downloader now (marked when it becomes the probe).

        Called by :class:`HostAwarePriorityQueue` before it hands a request over: a request
        that would only wait here for its origin's probe stays in the scheduler instead,
        out of the ``CONCURRENT_REQUESTS`` places. A probe that has had no outcome for
        longer than a waiter would wait is given up, as :meth:`process_request` does.
        """
        origin = origin_of(request)
        if origin in self.failed or self.proven.get(origin) or is_robots_request(request):
            return True
        if request.meta.get(_PROBE) == origin:
            # a retry of the probe waits while the confirming URL is out: its timeout
            # fails the origin (and this retry at once), its answer proves it
            return not (request.meta.get("retry_times") and origin in self.confirm_out)
        probe = self.probes.get(origin)
        if probe is not None and not probe.done():
            if origin in self.confirm_open:
                self._make_confirmation(request, origin)
                return True
            if time.monotonic() - self.probe_since.get(origin, 0.0) <= self.max_wait:
                return False
            self._inc("hosts/probe_given_up")
            self._settle(origin)
        self._make_probe(request, origin)
        return True

    def _make_confirmation(self, request: Request, origin: str) -> None:
        # one attempt: its timeout is the second strike's evidence, not a page to insist on
        self.confirm_open.discard(origin)
        self.confirm_out.add(origin)
        request.meta[_CONFIRM] = origin
        request.meta["max_retry_times"] = 0
        self.deciders[origin] = self.deciders.get(origin, 0) + 1

    def probe_timed_out(self, request: Request) -> None:
        """An attempt of ``request`` timed out: if it is a probe, let one other URL go now.

        The probe's first timeout, with nothing answered by its origin since the probe
        began, is the origin's first strike. The second URL that decides between "one
        slow page" and "a hanging host" goes at once instead of after the probe's
        retries, and the probe's next retry waits for it (:meth:`admit`): a hanging
        host costs two timeouts, once, and a host with one slow page has its other
        pages released by the first that answers.
        """
        origin = origin_of(request)
        if (
            request.meta.get(_PROBE) != origin
            or self.proven.get(origin)
            or origin in self.failed
            or self.confirming.get(origin)
        ):
            return
        self.confirming[origin] = True
        began = request.meta.get(_FIRST_ATTEMPT, 0.0)
        if self.last_answer.get(origin, -1.0) < began:
            request.meta[_STRUCK] = True  # its retries carry the mark: counted once
            self.strikes[origin] = self.strikes.get(origin, 0) + 1
            logger.info("Origin %s timed out on %s (attempt 1); one more URL will tell",
                        origin, request.url)  # fmt: skip
        self.confirm_open.add(origin)
        self._inc("hosts/confirmations")

    def has_failed(self, request: Request) -> bool:
        """Whether ``request``'s origin is remembered as failed (it will fail at once)."""
        return origin_of(request) in self.failed

    def probe_ended(self, request: Request) -> None:
        """``request`` ended without a verdict on its origin: release the origin's waiters."""
        self._decided(request, origin_of(request))

    def _decided(self, request: Request, origin: str) -> None:
        """The probe or the confirming request ended: release the waiters after the last."""
        if origin not in (request.meta.get(_PROBE), request.meta.get(_CONFIRM)):
            return
        if request.meta.get(_CONFIRM) == origin:
            self.confirm_out.discard(origin)
        left = self.deciders.get(origin, 1) - 1
        if left > 0 and origin not in self.failed:
            self.deciders[origin] = left
            self.confirm_open.discard(origin)  # the one still out decides
            return
        self._settle(origin)

    def _settle(self, origin: str) -> None:
        self.deciders.pop(origin, None)
        self.probe_since.pop(origin, None)
        self.confirm_out.discard(origin)
        probe = self.probes.pop(origin, None)
        if probe is not None and not probe.done():
            probe.set_result(None)

    def answered(self, request: Request) -> None:
        """The origin sent a response (whatever its status or body): release its waiters."""
        origin = origin_of(request)
        self.last_answer[origin] = time.monotonic()
        if not is_robots_request(request):
            self.proven[origin] = True
            self.confirm_open.discard(origin)
            # a page answered (the probe, or its confirmation while the probe's retry
            # is still out): the origin's other requests need wait no longer
            self._settle(origin)

    def process_response(self, request: Request, response: Response) -> Response:
        """Remember that the origin answered (whatever the status); release its waiters."""
        self.answered(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Remember an origin whose probe or robots.txt gave up on a timeout or a refusal."""
        origin = origin_of(request)
        try:
            if isinstance(exception, (HostTimedOutError, HostRefusedError)):
                return
            timed_out = isinstance(exception, TIMEOUT_ERRORS)
            if not timed_out and not isinstance(exception, REFUSED_ERRORS):
                return
            began = request.meta.get(_FIRST_ATTEMPT, 0.0)
            if self.last_answer.get(origin, -1.0) >= began or origin in self.failed:
                return  # the origin answered meanwhile: this request's own trouble
            attempts = request.meta.get("retry_times", 0) + 1
            what = "timed out" if timed_out else "refused the connection"
            robots = is_robots_request(request)
            strikes = self.strikes.get(origin, 0)
            if not request.meta.get(_STRUCK):  # a probe's strike was its first timeout
                strikes = self.strikes[origin] = strikes + 1
            if not robots and strikes < 2:
                logger.info("Origin %s %s on %s (%d attempt(s)); one more URL will tell",
                            origin, what, request.url, attempts)  # fmt: skip
                return
            fetch = "its robots.txt" if robots else f"{strikes} requests"
            self.failed[origin] = _Failure(
                timed_out,
                f"{origin} {what} on {fetch} earlier in this run; not asked again",
            )
            self._inc(f"hosts/failed/{'timeout' if timed_out else 'refused'}")
            logger.info("Origin %s %s (%d attempt(s)); its other sources fail fast", origin,
                        what, attempts)  # fmt: skip
        finally:
            # The probe or its confirmation has its outcome (retries, which keep the
            # mark, never reach here): once both have, the waiters fail fast, or the
            # next of them probes.
            self._decided(request, origin)


class HostAnswerMiddleware:
    """Downloader middleware next to the download handler: an origin that sent a response
    has answered, even when a later middleware turns that response into an error.

    A corrupt gzip body, say, raises in the decompression middleware's
    ``process_response``, so neither the response nor the exception would reach
    :class:`HostFailureMiddleware`, and the origin's other requests would wait
    for a probe that never settles.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off when ``HOST_FAILURE_MEMORY`` is false."""
        if not crawler.settings.getbool("HOST_FAILURE_MEMORY"):
            raise NotConfigured
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        """Tell the failure memory that the origin answered."""
        memory = getattr(self.crawler, "host_failure_memory", None)
        if isinstance(memory, HostFailureMiddleware):
            memory.answered(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A probe that failed otherwise than by a timeout or a refusal has its outcome.

        Such a failure (a name that does not resolve, a blocked address, a dropped
        connection) says nothing of a hanging host, and a later middleware may turn it
        into another exception (``DnsFailureMiddleware``), which ends Scrapy's chain
        before :class:`HostFailureMiddleware` sees it: without this, the origin's other
        requests would wait for the probe until they give up waiting.
        """
        memory = getattr(self.crawler, "host_failure_memory", None)
        if not isinstance(memory, HostFailureMiddleware):
            return
        if isinstance(exception, TIMEOUT_ERRORS):
            memory.probe_timed_out(request)  # every attempt: retries come later, at 550
        elif not isinstance(exception, REFUSED_ERRORS):
            memory.probe_ended(request)


class HostAwarePriorityQueue(DownloaderAwarePriorityQueue):
    """Scrapy's downloader-aware queue, handing over only requests that can go on the wire.

    Scrapy's downloader counts a request in ``CONCURRENT_REQUESTS`` from the moment
    the engine hands it over, whether it is on the wire, held by a middleware (a page
    waiting for its host's robots.txt or probe) or queued in its slot behind
    politeness. Handing over only what can be sent keeps the places for the wire: a
    host's next request waits here while its robots.txt is not known (asked for
    here, ahead, while the downloader has room), while its probe is out
    (:meth:`HostFailureMiddleware.admit`), while its slot already holds as many
    requests as its concurrency, or until its delay since its last request has passed
    (such a host sleeps outside the heap until then). The host with the most work left
    (:meth:`_rank`: queued requests times the host's latency, from
    :class:`HostSpeedThrottle`) per place goes next: a
    host with nothing in the downloader by its work, one with ``held`` requests there
    by ``work / (held + 1)``, so the hosts that take longest start first and keep their
    concurrency. Priorities still order each host's own requests. Requests downloaded
    without the scheduler wait for a turn (:meth:`turn`). Stats:
    ``hosts/robots_prefetched``, ``hosts/pop_seconds`` (time spent choosing),
    ``hosts/turns_waited``, ``hosts/turns_given_up``.
    """

    def __init__(self, crawler: Crawler, *args: Any, **kwargs: Any) -> None:
        super().__init__(crawler, *args, **kwargs)
        self._held = _HeldRequests(crawler)
        self._downloader_interface = self._held
        # Scrapy's __len__ sums every host's queue, and the spider asks for the
        # length before reading each entry: with thousands of hosts that cost
        # more than the rest of reading the list. Counted here instead.
        self._count = super().__len__()
        # Hosts by work left, most first: (-work, version, slot). Scrapy's pop looks at
        # every host for each request (a few ms with a thousand hosts queued, for each
        # of a night's requests); this heap is updated when a host's queue changes and
        # walked only until a host that can go is found. Entries whose version is not
        # the host's current one are stale and dropped when met.
        self._heap: list[tuple[tuple[int, float], int, str]] = []
        self._version: dict[str, int] = {}
        # When each host last had a request handed over: it reaches its slot (and
        # its slot's ``lastseen``) only after the middlewares, so the slot alone
        # would let a second request through inside the host's delay.
        self._handed: dict[str, float] = {}
        # One pending wake-up of the engine, at the earliest moment a host held back
        # by its delay may go (the engine otherwise asks again only when a download
        # ends, or at its 5 s heartbeat).
        self._wake: CallLaterResult | None = None
        self._wake_when = 0.0
        # Hosts waiting out their delay, (when it ends, slot): out of the heap until
        # then, so that each pop does not look at them again.
        self._sleeping: list[tuple[float, str]] = []
        self._blocked_until = 0.0  # set by _may_go: the delay that held a host back
        self._pop_seconds = 0.0  # time spent choosing hosts (stat hosts/pop_seconds)
        # Requests downloaded without the scheduler (the rot stage's soft-404 probe)
        # waiting for their turn (:meth:`turn`), by slot, first come first served; and
        # those given their turn that have not reached the downloader yet, which the
        # places left to the scheduler's own requests must count.
        # Hosts whose robots.txt is not asked yet, seen while there was no place to ask
        # it: out of the heap (in the order met) until a place frees, so that each pop
        # does not walk the hundreds of new hosts a list read ahead brings.
        self._unasked: dict[str, None] = {}
        self._turns: dict[str, list[asyncio.Future[bool | None]]] = {}
        self._releasing: Counter[str] = Counter()
        # The first-contact places (HOST_FIRST_CONTACT_PLACES): hosts none of whose pages
        # has been handed over, by work left, (-work, version, slot) with the versions of
        # _heap; and the hosts that have had one (bounded like the failure memory).
        self._first_places = crawler.settings.getint("HOST_FIRST_CONTACT_PLACES")
        self._fresh: list[tuple[float, int, str]] = []
        self._contacted: LocalCache[str, bool] = LocalCache(_MAX_ORIGINS)
        for slot in self.pqueues:
            self._touch(slot)
        # found by the rot stage (pipelines/rot_stage.py), whose probes wait for a turn
        crawler.host_queue = self  # type: ignore[attr-defined]
        crawler.signals.connect(self._release_turns, signals.request_left_downloader)

    def push(self, request: Request) -> None:
        """Queue ``request`` under its host."""
        super().push(request)
        self._count += 1
        self._touch(self._held.get_slot_key(request))

    def pop(self) -> Request | None:
        """The next request of the first host (see :meth:`_choose`) that can go on the wire now.

        A host whose robots.txt is not known yet, or whose probe (see
        :class:`HostFailureMiddleware`) is out, keeps its requests here: handed over,
        they would only wait in a middleware, holding a place of ``CONCURRENT_REQUESTS``.
        A host whose robots.txt was never asked gets it asked now, while there are
        places for it. None when no host can go: the engine asks again as soon as a
        download ends (a robots.txt or a probe among them).
        """
        if self._turns:
            self._release_turns()
        if self._releasing and self._places_left() <= 0:
            return None  # the places are the turns' just given
        if not self.pqueues:
            return None
        began = time.perf_counter()
        self._unpark()
        slot = self._choose()
        # the scheduler's own cost, walking the hosts: shown by bench/night.py
        self._pop_seconds += time.perf_counter() - began
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("hosts/pop_seconds", round(self._pop_seconds, 3))
        if slot is None:
            if self._sleeping:
                self._wake_at(self._sleeping[0][0])
            return None
        self._held.forced = slot
        try:
            request = super().pop()  # Scrapy's, on the chosen slot (see _HeldRequests)
        finally:
            self._held.forced = None
        if request is not None:
            self._count -= 1
            self._handed[slot] = time.monotonic()
            if self._first_places and slot not in self._contacted:
                self._contacted[slot] = True
                request.meta[_FIRST_CONTACT] = True  # counted in the first-contact places
        self._touch(slot)
        return request

    def close(self) -> dict[str, list[int]]:
        """Cancel a pending wake-up, let waiting turns go; then Scrapy's close."""
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        for waiters in self._turns.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._turns.clear()
        return super().close()

    async def turn(self, request: Request, max_wait: float) -> None:
        """Wait until ``request``, downloaded without the scheduler, can go on the wire.

        The rot stage's soft-404 probe goes to the downloader directly (its item waits
        for it). Sent at once, it would take a place of ``CONCURRENT_REQUESTS`` while it
        waits in its host's slot for the host's delay or concurrency, and a page the
        scheduler handed over would then wait behind it. It waits here instead, for the
        same conditions the scheduler's requests wait for (a place, the host's
        concurrency, its delay), and goes before the scheduler's next request once they
        hold. After ``max_wait`` seconds it goes anyway: a turn never holds an item
        back for long (stat ``hosts/turns_given_up``).
        """
        slot = self._held.get_slot_key(request)
        downloader = self._downloader()
        if not self._turns.get(slot) and self._turn_may_go(slot, downloader):
            self._handed[slot] = time.monotonic()
            return
        # its result: True when given its turn by _release_turns (counted in
        # _releasing until it is sent), None when let go at close
        waiter: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._turns.setdefault(slot, []).append(waiter)
        self._inc("hosts/turns_waited")
        self._release_turns()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), max_wait)
        except TimeoutError:
            self._inc("hosts/turns_given_up")
        finally:
            waiters = self._turns.get(slot, [])
            if waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._turns[slot]
            if waiter.done() and not waiter.cancelled() and waiter.result():
                # given its turn: it counted against the places until sent, now
                self._releasing[slot] -= 1
                if self._releasing[slot] <= 0:
                    del self._releasing[slot]
            elif not waiter.done():
                waiter.cancel()  # never given a turn later

    def _unpark(self) -> None:
        """Put hosts back in the heap whose robots.txt waited for a place, while places last."""
        if not self._unasked:
            return
        robots = getattr(self.crawler, "robots_middleware", None)
        if not isinstance(robots, SharedRobotsTxtMiddleware):
            room = len(self._unasked)
        else:
            room = self._room(self._downloader(), robots)
        # a few more than the places: some of them may have been asked meanwhile
        for slot in list(self._unasked)[: max(0, 2 * room)]:
            del self._unasked[slot]
            self._touch(slot)

    def _downloader(self) -> Any:
        engine = self.crawler.engine
        return engine.downloader if engine is not None else None

    def _places_left(self) -> int:
        """Places of ``CONCURRENT_REQUESTS`` free, less the turns given and not yet sent."""
        robots = getattr(self.crawler, "robots_middleware", None)
        shared = robots if isinstance(robots, SharedRobotsTxtMiddleware) else None
        return self._room(self._downloader(), shared) - sum(self._releasing.values())

    def _turn_may_go(self, slot: str, downloader: Any) -> bool:
        """A place is free, the host's slot has room and its delay has passed."""
        if downloader is None or self._places_left() <= 0:
            return False
        held = sum(1 for r in downloader.active if downloader.get_slot_key(r) == slot)
        if held + self._releasing.get(slot, 0) >= self._concurrency(downloader, slot):
            return False
        ready = self._ready_at(downloader, slot)
        if ready > time.monotonic():
            self._wake_at(ready)
            return False
        return True

    def _release_turns(self, *_: Any, **__: Any) -> None:
        """Give waiting turns their go, first come first served per host, while places last.

        Called when a download leaves the downloader (a place frees), at each pop and
        when a host's delay ends.
        """
        downloader = self._downloader()
        for slot in list(self._turns):
            waiters = self._turns[slot]
            while waiters and self._turn_may_go(slot, downloader):
                waiter = waiters.pop(0)
                if waiter.done():
                    continue
                waiter.set_result(True)
                self._releasing[slot] += 1
                self._handed[slot] = time.monotonic()
            if not waiters:
                del self._turns[slot]

    def _wake_at(self, when: float) -> None:
        """Have the engine ask for a request again at ``when`` (monotonic seconds)."""
        if self._wake is not None and self._wake_when <= when:
            return  # an earlier wake-up is pending; it will find this host too
        if self._wake is not None:
            self._wake.cancel()
        self._wake_when = when
        self._wake = call_later(max(0.0, when - time.monotonic()), self._wake_engine)

    def _wake_engine(self) -> None:
        self._wake = None
        if self._turns:
            self._release_turns()
        # The engine's own "look for requests soon" call (private to Scrapy's engine,
        # hence the getattr: without it the engine still asks at its heartbeat).
        engine_slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(engine_slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def __len__(self) -> int:
        return self._count

    def _latency(self, slot: str) -> float:
        speed = getattr(self.crawler, "host_speed", None)
        return speed.latency(slot) if isinstance(speed, HostSpeedThrottle) else 1.0

    def _touch(self, slot: str) -> None:
        """Put the host back in the heap at its current rank (or forget it, if done)."""
        queue = self.pqueues.get(slot)
        if queue is None:
            self._version.pop(slot, None)
            self._handed.pop(slot, None)  # its slot's own lastseen still holds the delay
            return
        version = self._version.get(slot, 0) + 1
        self._version[slot] = version
        rank = self._rank(slot, queue)
        heapq.heappush(self._heap, (rank, version, slot))
        if len(self._heap) > 4 * len(self._version) + 64:
            # more stale entries than live ones: keep the live ones only
            self._heap = [e for e in self._heap if self._version.get(e[2]) == e[1]]
            heapq.heapify(self._heap)
        if self._first_places and slot not in self._contacted:
            heapq.heappush(self._fresh, (rank[1], version, slot))
            if len(self._fresh) > 4 * len(self._version) + 64:
                self._fresh = [e for e in self._fresh if self._fresh_entry(e)]
                heapq.heapify(self._fresh)

    def _fresh_entry(self, entry: tuple[float, int, str]) -> bool:
        """Whether an entry of the first-contact heap is current (host still not contacted)."""
        return self._version.get(entry[2]) == entry[1] and entry[2] not in self._contacted

    def _rank(self, slot: str, queue: Any) -> tuple[int, float]:
        """``(band, -work)``: the most work left (queued requests times the host's latency).

        The band is 1 for every host. Putting the hosts whose first page has not answered
        in a band of their own, first, found a hanging host early but starved the
        night's busiest host (60 sources at 7 s each in bench/night.py): its pages,
        spread through the list, were left to the end and served one at a time (a full
        night took 140 s with fewer than 4 requests on the wire, against 12 s).
        """
        return (1, -len(queue) * self._latency(slot))

    def _choose(self) -> str | None:
        """The first host, by :meth:`_rank` and work per place, whose next request may go now."""
        crawler = self.crawler
        robots = getattr(crawler, "robots_middleware", None)
        memory = getattr(crawler, "host_failure_memory", None)
        downloader = crawler.engine.downloader if crawler.engine is not None else None
        counts: Counter[str] = Counter()
        if downloader is not None:
            counts = Counter(downloader.get_slot_key(r) for r in downloader.active)
        taken: list[tuple[tuple[int, float], int, str]] = []
        busy: list[tuple[int, tuple[int, float], str]] = []
        asleep: set[str] = set()
        chosen = None
        heap, versions, sleeping = self._heap, self._version, self._sleeping
        now = time.monotonic()
        while sleeping and sleeping[0][0] <= now:  # their delay is over: back in the heap
            self._touch(heapq.heappop(sleeping)[1])
        if self._fresh and downloader is not None:
            first = self._choose_fresh(downloader, robots, memory)
            if first is not None:
                return first
        tried: set[str] = set()

        def busy_first(work: float) -> str | None:
            """A proven host in the downloader whose work per place beats ``work``."""
            for held, rank, slot in busy:
                if slot in tried or rank[0] != 1 or -rank[1] / (held + 1) <= work:
                    continue
                tried.add(slot)
                if self._may_go(slot, held, downloader, robots, memory):
                    return slot
                if self._blocked_until:
                    asleep.add(slot)
                    heapq.heappush(sleeping, (self._blocked_until, slot))
            return None

        try:
            # hosts with nothing in the downloader, most work first; a host already in
            # the downloader goes before one with nothing there when its work per place
            # (work / (held + 1)) is the larger: a host with many slow pages left is the
            # night's longest path, and one place at a time would stretch it (longest
            # processing time first)
            while heap:
                entry = heapq.heappop(heap)
                if versions.get(entry[2]) != entry[1]:
                    continue  # stale
                if entry[0][0] == 0 and self._rank(entry[2], self.pqueues[entry[2]]) != entry[0]:
                    # its first page has answered since: ranked again by its work
                    self._touch(entry[2])
                    continue
                taken.append(entry)
                held = counts.get(entry[2], 0)
                if held:
                    busy.append((held, entry[0], entry[2]))
                    continue
                if entry[0][0] == 1 and busy:
                    chosen = busy_first(-entry[0][1])
                    if chosen is not None:
                        break
                if self._unasked_without_room(entry[2], downloader, robots, memory):
                    asleep.add(entry[2])  # parked in _unasked, not back in the heap
                    self._unasked[entry[2]] = None
                    continue
                if self._may_go(entry[2], 0, downloader, robots, memory):
                    chosen = entry[2]
                    break
                if self._blocked_until:
                    asleep.add(entry[2])
                    heapq.heappush(sleeping, (self._blocked_until, entry[2]))
            # then hosts already in the downloader: the most work per place
            if chosen is None:
                by_place = sorted(busy, key=lambda b: (b[1][0], b[1][1] / (b[0] + 1)))
                for held, _, slot in by_place:
                    if slot in tried:
                        continue
                    if self._may_go(slot, held, downloader, robots, memory):
                        chosen = slot
                        break
                    if self._blocked_until:
                        asleep.add(slot)
                        heapq.heappush(sleeping, (self._blocked_until, slot))
        finally:
            for entry in taken:
                if entry[2] not in asleep:
                    heapq.heappush(heap, entry)
        return chosen

    def _first_contacts(self, downloader: Any, robots: Any) -> int:
        """First contacts on their first attempt: robots.txt requests and first pages.

        A retry no longer counts: the host has shown it is slow or hanging, which is what
        the first-contact places are there to find out early.
        """
        out = robots.starting if robots is not None else 0
        for request in downloader.active:
            meta = request.meta
            if not meta.get("retry_times") and (
                meta.get(_FIRST_CONTACT) or is_robots_request(request)
            ):
                out += 1
        return out

    def _choose_fresh(self, downloader: Any, robots: Any, memory: Any) -> str | None:
        """A host not contacted yet, most work first, while first contacts hold fewer than
        ``HOST_FIRST_CONTACT_PLACES`` places; its robots.txt is asked for first.

        Ranked by work alone, a host with one source, read late in the list, is the
        last to go, and when it hangs its timeouts are the end of the night. With a few
        places kept for first contacts, every host is asked soon after it is read; the
        other places still go by work per place, so the busiest host is not starved, as
        it was when new hosts came first in every place.
        """
        free = self._first_places - self._first_contacts(downloader, robots)
        if free <= 0:
            return None
        fresh, taken, chosen = self._fresh, [], None
        looked = 0
        try:
            while fresh and looked < _FRESH_WALK and free > 0:
                entry = heapq.heappop(fresh)
                if not self._fresh_entry(entry):
                    continue  # stale, or contacted since
                taken.append(entry)
                looked += 1
                slot = entry[2]
                starting = robots.starting if robots is not None else 0
                if self._may_go(slot, 0, downloader, robots, memory):
                    chosen = slot
                    break
                if robots is not None and robots.starting > starting:
                    free -= 1  # its robots.txt was asked for: a first contact
        finally:
            for entry in taken:
                heapq.heappush(fresh, entry)
        if chosen is not None:
            self._inc("hosts/first_contacts")
        return chosen

    def _unasked_without_room(self, slot: str, downloader: Any, robots: Any, memory: Any) -> bool:
        """Whether the host's robots.txt is not asked yet and there is no place to ask it."""
        if robots is None or self._room(downloader, robots) > 0:
            return False
        try:
            request = self.pqueues[slot].peek()
        except NotImplementedError:
            return False
        if request is None or (memory is not None and memory.has_failed(request)):
            return False
        return bool(robots.robots_state(request) is RobotsState.UNKNOWN)

    def _may_go(self, slot: str, held: int, downloader: Any, robots: Any, memory: Any) -> bool:
        """Whether the next request of ``slot`` can go on the wire now (see :meth:`pop`).

        When only the host's delay holds it back, :attr:`_blocked_until` says until when.
        """
        self._blocked_until = 0.0
        if downloader is not None and held >= self._concurrency(downloader, slot):
            # it would wait in its slot's queue (politeness), holding a place; a
            # retry pushed meanwhile would wait behind it there
            return False
        try:
            request = self.pqueues[slot].peek()
        except NotImplementedError:  # a queue class without peek: no gate
            return True
        if request is None:
            return False
        if memory is not None and memory.has_failed(request):
            return True  # failed at once in the middleware, never on the wire: no delay
        if robots is not None:
            state = robots.robots_state(request)
            if state is RobotsState.UNKNOWN and self._room(downloader, robots) > 0:
                robots.prefetch(request)  # counted in robots.starting at once
                self._inc("hosts/robots_prefetched")
            if state is not RobotsState.KNOWN:
                return False
        if downloader is not None:
            ready = self._ready_at(downloader, slot)
            if ready > time.monotonic():
                # it would wait out the host's delay in its slot, holding a place
                self._blocked_until = ready
                return False
        return memory is None or bool(memory.admit(request))

    def _ready_at(self, downloader: Any, slot: str) -> float:
        """When the host's delay (``DOWNLOAD_DELAY`` or the throttle's) next lets it send.

        The slot sends at ``lastseen`` plus its delay (randomised around it with
        ``RANDOMIZE_DOWNLOAD_DELAY``): a request handed over before then only waits in
        the slot's queue. Measured from the later of the slot's last send and the last
        request handed over here, which may not have reached the slot yet.
        """
        known = downloader.slots.get(slot)
        if known is None or known.delay <= 0:
            return 0.0
        last = max(float(known.lastseen), self._handed.get(slot, 0.0))
        return last + float(known.delay)

    @staticmethod
    def _room(downloader: Any, robots: SharedRobotsTxtMiddleware | None) -> int:
        """Places of ``CONCURRENT_REQUESTS`` neither active nor taken by a starting robots.txt."""
        if downloader is None:
            return 0
        starting = robots.starting if robots is not None else 0
        return int(downloader.total_concurrency) - len(downloader.active) - starting

    @staticmethod
    def _concurrency(downloader: Any, slot: str) -> int:
        """How many requests ``slot`` may have on the wire at once."""
        known = downloader.slots.get(slot)
        if known is not None:
            return int(known.concurrency)
        per_slot = downloader.per_slot_settings.get(slot, {})
        return int(per_slot.get("concurrency", downloader.domain_concurrency))

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)


class _HeldRequests(DownloaderInterface):
    """Requests the downloader holds per slot: reached the slot or still in a middleware.

    ``forced``, while set, is the one slot Scrapy's ``pop`` is given to choose from
    (the one :class:`HostAwarePriorityQueue` chose).
    """

    forced: str | None = None

    def stats(self, possible_slots: Iterable[str]) -> list[tuple[int, str]]:
        """``(requests held, slot)`` for each slot (only the forced one, when set)."""
        if self.forced is not None:
            return [(0, self.forced)]
        downloader = self.downloader
        counts = Counter(downloader.get_slot_key(r) for r in downloader.active)
        return [(counts.get(slot, 0), slot) for slot in possible_slots]


class HostSpeedThrottle(AutoThrottle):
    """AutoThrottle that backs off from the slowdown we cause, not from a host's own slowness.

    Scrapy's AutoThrottle aims at ``latency / AUTOTHROTTLE_TARGET_CONCURRENCY`` between
    requests, so a host that takes 7 s for every page, loaded or not, gets 3.5 s between
    requests and half its ``CONCURRENT_REQUESTS_PER_DOMAIN``: its sources take twice as
    long and its queue can hold back the end of the night. Here a host's own speed is
    the fastest answer it gave this run; only the latency beyond it (which is what our
    load can cause) is divided by the target concurrency, and the host's own latency is
    spread over its slot's concurrency:

        delay = (latency - fastest) / AUTOTHROTTLE_TARGET_CONCURRENCY + fastest / concurrency

    A steady host keeps its concurrency whatever its speed; a host that slows down as
    we ask more gets Scrapy's back-off. ``DOWNLOAD_DELAY``, ``AUTOTHROTTLE_MAX_DELAY``
    and the rule that non-200 answers never shorten the delay are Scrapy's.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._fastest: LocalCache[str, float] = LocalCache(_MAX_ORIGINS)
        self._key: str | None = None
        self._first_latencies = 0.0  # sum of every host's first latency, for a typical host
        self._hosts = 0
        # found by HostAwarePriorityQueue, which weighs a host's queue by its speed
        crawler.host_speed = self  # type: ignore[attr-defined]

    def latency(self, slot: str) -> float:
        """The host's own latency (its fastest answer); a typical host's before it answered."""
        known = self._fastest.get(slot)
        if known is not None:
            return known
        return self._first_latencies / self._hosts if self._hosts else 1.0

    def _get_slot(self, request: Request, spider: Any) -> tuple[str | None, Slot | None]:
        key, slot = super()._get_slot(request, spider)
        self._key = key  # read by _adjust_delay, which Scrapy calls next with the slot only
        return key, slot

    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        key = self._key
        fastest = latency
        first = key is not None and key not in self._fastest
        if key is not None:
            fastest = min(latency, self._fastest.get(key, latency))
            self._fastest[key] = fastest
        if first:
            self._first_latencies += latency
            self._hosts += 1
        target = (latency - fastest) / self.target_concurrency + fastest / max(1, slot.concurrency)
        # The start delay is a guess made before the host answered; its first answer
        # replaces it (Scrapy's halving would keep a fast host near the guess for its
        # first few requests, and a night of small hosts is mostly first few requests).
        new_delay = target if first else max(target, (slot.delay + target) / 2.0)
        new_delay = min(max(self.mindelay, new_delay), self.maxdelay)
        if response.status != 200 and new_delay <= slot.delay:
            return
        slot.delay = new_delay
