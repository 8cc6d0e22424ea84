"""Downloader middlewares of the project."""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.resolver import HostNotFoundError, RememberingResolver


class _QuietFetchFailures(logging.Filter):
    """Log a robots.txt that could not be fetched as one warning line, not a traceback.

    A host that is down or gone is an outcome of its sources (their records
    say so), not an error of the run; 1,500 dead domains made 1,500 tracebacks.
    """

    QUIET = (
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

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """Return the host's parser (None when robots.txt could not be fetched)."""
        waited = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return waited if isinstance(stored, Deferred) else stored


def _resolver() -> RememberingResolver | None:
    from twisted.internet import reactor  # imported late: importing installs a reactor

    resolver = getattr(reactor, "resolver", None)
    return resolver if isinstance(resolver, RememberingResolver) else None


def _known_missing_host(request: Request) -> str | None:
    """The resolver's message when the request's host is known not to exist."""
    resolver = _resolver()
    host = urlparse_cached(request).hostname
    if resolver is None or not host:
        return None
    explained = resolver.explain(host)
    return explained[1] if explained is not None and explained[0] else None


class DnsFailureMiddleware:
    """Give DNS failures the resolver's reason, and do not retry names that do not exist.

    Placed closer to the downloader than ``RetryMiddleware``, so that the
    :class:`~crawler.resolver.HostNotFoundError` raised here skips the
    retries: a name that does not exist will not exist a second later.
    """

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Replace an unexplained DNS failure by one that says why."""
        if isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            message = _known_missing_host(request)
            if message is not None:
                raise HostNotFoundError(message) from exception


class KnownMissingHostMiddleware:
    """Fail requests to hosts already known not to exist before they queue for a slot.

    Without it every URL of a vanished domain waits its turn in that domain's
    throttled download slot only to fail the same way.
    """

    def process_request(self, request: Request) -> None:
        """Raise :class:`~crawler.resolver.HostNotFoundError` for a known missing host."""
        message = _known_missing_host(request)
        if message is not None:
            raise HostNotFoundError(message)
