"""Downloader middlewares of the project."""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    NotConfigured,
)
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro, deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.task import deferLater

from crawler.fetch.errors import BlockedAddressError, HostNotFoundError, UnsupportedSchemeError
from crawler.fetch.guard import AddressPolicy, is_ip_literal
from crawler.fetch.resolver import FailureKind, RememberingResolver
from crawler.fetch.urls import FETCHABLE_SCHEMES

logger = logging.getLogger(__name__)


class _QuietFetchFailures(logging.Filter):
    """Log a robots.txt that could not be fetched as one warning line, not a traceback.

    A host that is down or gone is an outcome of its sources (their records
    say so), not an error of the run; 1,500 dead domains made 1,500 tracebacks.
    """

    QUIET = (
        BlockedAddressError,
        HostNotFoundError,
        CannotResolveHostError,
        DNSLookupError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
    )

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, self.QUIET):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class RobotsState(Enum):
    """What is known of the robots.txt that rules a request."""

    KNOWN = "known"  # parsed, failed, or not asked for this request
    PENDING = "pending"  # being fetched
    UNKNOWN = "unknown"  # not asked yet


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every waiting request seeing the parser.

    Scrapy 2.19 lets all requests to a host that arrive while its robots.txt
    is downloading await one shared Deferred through ``asFuture()``, which
    leaves ``None`` as the Deferred's result: only the first waiter gets the
    parser, the others are treated as if there were no robots.txt and fetch
    disallowed pages. The parser is stored before the Deferred fires, so
    reading it back after the wait gives every request the right answer.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        robots_logger = logging.getLogger(RobotsTxtMiddleware.__module__)
        if not any(isinstance(f, _QuietFetchFailures) for f in robots_logger.filters):
            robots_logger.addFilter(_QuietFetchFailures())
        # hosts whose prefetch started and whose robots.txt request has not reached the
        # downloader yet (it does when the reactor next runs the prefetch)
        self._starting: set[str] = set()
        self._prefetches: set[Deferred[None]] = set()
        # found by the scheduler's queue (crawler/fetch/hosts.py), which asks for a
        # host's robots.txt ahead of its pages and keeps them until it is known
        crawler.robots_middleware = self  # type: ignore[attr-defined]

    def robots_state(self, request: Request) -> RobotsState:
        """Whether the robots.txt that rules ``request`` is known, being fetched, or not asked."""
        if request.meta.get("dont_obey_robotstxt") or urlparse_cached(request).scheme not in (
            "http",
            "https",
        ):
            return RobotsState.KNOWN
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            return RobotsState.PENDING if netloc in self._starting else RobotsState.UNKNOWN
        if isinstance(self._parsers[netloc], Deferred):
            return RobotsState.PENDING
        return RobotsState.KNOWN

    @property
    def starting(self) -> int:
        """Prefetched robots.txt requests not in the downloader yet."""
        return len(self._starting)

    def prefetch(self, request: Request) -> None:
        """Start fetching the robots.txt of ``request``'s host, without the page waiting for it.

        The robots.txt request enters the downloader when the reactor next runs;
        :attr:`starting` counts those not there yet, so that the caller does not
        start more than the downloader has places for.
        """
        netloc = urlparse_cached(request).netloc
        self._starting.add(netloc)

        async def fetch() -> None:
            self._starting.discard(netloc)  # its robots.txt request enters the downloader now
            await self.robot_parser(request)

        done = deferred_from_coro(fetch())
        self._prefetches.add(done)
        done.addErrback(
            lambda failure: logger.warning(
                "robots.txt prefetch for %s failed: %s", request.url, failure.value
            )
        )
        done.addBoth(lambda _: self._prefetches.discard(done))

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """Return the host's parser (None when robots.txt could not be fetched)."""
        waited = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return waited if isinstance(stored, Deferred) else stored


def _resolver() -> RememberingResolver | None:
    from twisted.internet import reactor  # imported late: importing installs a reactor

    resolver = getattr(reactor, "resolver", None)
    return resolver if isinstance(resolver, RememberingResolver) else None


def _known_bad_host(request: Request) -> Exception | None:
    """The exception to raise for a host already known not to exist or to be refused."""
    resolver = _resolver()
    host = urlparse_cached(request).hostname
    if resolver is None or not host:
        return None
    failure = resolver.explain(host)
    if failure is None:
        return None
    if failure.kind is FailureKind.BLOCKED:
        return BlockedAddressError(failure.message)
    if failure.kind is FailureKind.NOT_FOUND:
        return HostNotFoundError(failure.message)
    return None


class AddressGuardMiddleware:
    """Refuse requests to non-public addresses: named directly, resolved, or connected to.

    Names are checked by the resolver (:mod:`crawler.fetch.resolver`), whose
    answer is the address connected to; this middleware checks IP literals
    before any connection (redirects pass through it again), hosts the
    resolver already refused, and, after the fact, the peer address of every
    response. Settings: ``ALLOW_PRIVATE_ADDRESSES``, ``ALLOWED_NETWORKS``.
    """

    def __init__(self, policy: AddressPolicy, *, proxied: bool = False) -> None:
        self.policy = policy
        self.proxied = proxied

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the policy from the crawler's settings."""
        return cls(
            AddressPolicy.from_settings(
                crawler.settings.getbool("ALLOW_PRIVATE_ADDRESSES"),
                crawler.settings.getlist("ALLOWED_NETWORKS"),
            ),
            proxied=bool(crawler.settings.get("PROXY_URL")),
        )

    async def process_request(self, request: Request) -> None:
        """Raise before connecting when the target is known to be refused or missing.

        With a proxy (``PROXY_URL``) the proxy, not our resolver, resolves
        the target's name: the name is resolved and checked here instead,
        before the request leaves.
        """
        parts = urlparse_cached(request)
        if parts.scheme not in FETCHABLE_SCHEMES:
            raise UnsupportedSchemeError(f"scheme {parts.scheme!r} is not fetched")
        host = parts.hostname or ""
        if is_ip_literal(host):
            refusal = self.policy.refusal(host)
            if refusal is not None:
                raise BlockedAddressError(refusal)
            return
        known = _known_bad_host(request)
        if known is not None:
            raise known
        if self.proxied and host:
            await self._check_name(request, host)

    @staticmethod
    async def _check_name(request: Request, host: str) -> None:
        resolver = _resolver()
        if resolver is None:
            # Without our resolver nothing checks the answer: refuse rather than trust.
            raise BlockedAddressError(
                f"{host}: no guarded resolver (TWISTED_DNS_RESOLVER) to check it before the proxy"
            )
        try:
            await deferred_to_future(resolver.getHostByName(host))
        except DNSLookupError as exc:
            known = _known_bad_host(request)
            if known is not None:
                raise known from exc
            raise CannotResolveHostError(str(exc)) from exc

    def process_response(self, request: Request, response: Response) -> Response:
        """Refuse a response whose peer address the guard does not allow."""
        peer = response.ip_address
        # Through a proxy the peer is the proxy (operator-trusted); the target's
        # name was resolved and checked before the request left.
        if peer is not None and not request.meta.get("proxy"):
            refusal = self.policy.refusal(str(peer))
            if refusal is not None:
                raise BlockedAddressError(f"connected to {refusal}")
        return response


class ProxyMiddleware(HttpProxyMiddleware):
    """Scrapy's proxy middleware, with the proxy from ``PROXY_URL`` only, never the environment.

    Scrapy's reads ``http_proxy``/``https_proxy`` from the environment: a
    variable set for some other tool would route every source through a
    proxy that resolves names itself, out of the address guard's sight. Here
    proxying is on only when the operator sets ``PROXY_URL`` (credentials in
    it become ``Proxy-Authorization``); the guard then checks every target
    name itself (:class:`AddressGuardMiddleware`), and the resolver trusts
    the proxy's own host name.
    """

    def __init__(self, proxy_url: str, auth_encoding: str | None = "latin-1") -> None:
        # Deliberately not super().__init__(): it reads the environment.
        self.auth_encoding = auth_encoding
        proxy = self._get_proxy(proxy_url, "http")
        self.proxies = {"http": proxy, "https": proxy}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build it from ``PROXY_URL``; off (``NotConfigured``) when unset."""
        proxy_url = crawler.settings.get("PROXY_URL")
        if not proxy_url or not crawler.settings.getbool("HTTPPROXY_ENABLED"):
            raise NotConfigured
        return cls(str(proxy_url), crawler.settings.get("HTTPPROXY_AUTH_ENCODING"))

    def process_request(  # type: ignore[override]
        self, request: Request
    ) -> Request | Response | None:
        """Send every http(s) request through the proxy (no ``no_proxy`` from the environment)."""
        if "proxy" in request.meta:
            return super().process_request(request)
        scheme = urlparse_cached(request).scheme
        if scheme in self.proxies:
            creds, proxy_url = self.proxies[scheme]
            self._set_proxy_and_creds(request, proxy_url, creds, scheme)
        return None


class DnsFailureMiddleware:
    """Give DNS failures the resolver's reason, and do not retry names that do not exist.

    Placed closer to the downloader than ``RetryMiddleware``, so that the
    exceptions raised here (not retried by Scrapy) skip the retries: a name
    that does not exist will not exist a second later, and a refused address
    stays refused.
    """

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Replace an unexplained DNS failure by one that says why."""
        if isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            known = _known_bad_host(request)
            if known is not None:
                raise known from exception


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's retries, waiting as long as a 429 or 503 asks in ``Retry-After``, up to a cap.

    Setting ``RETRY_AFTER_MAX`` (seconds, default 60): a server that asks for
    longer is not retried this run; its record says so. Only the one request
    waits; the reactor and other downloads go on.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX")

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        """Retry as Scrapy does, after the delay the server asked for."""
        if response.status not in (429, 503) or request.meta.get("dont_retry", False):
            return super().process_response(request, response)
        header = response.headers.get(b"Retry-After")
        delay = retry_after_seconds(header.decode("latin-1") if header else None)
        if delay is None:
            return super().process_response(request, response)
        if delay > self.retry_after_max:
            logger.info(
                "Not retrying %s: Retry-After %.0f s exceeds RETRY_AFTER_MAX %.0f s",
                request,
                delay,
                self.retry_after_max,
            )
            return response
        retry = super().process_response(request, response)
        if isinstance(retry, Request) and delay > 0:
            from twisted.internet import reactor  # imported late: importing installs a reactor

            await deferred_to_future(deferLater(reactor, delay, lambda: None))
        return retry
