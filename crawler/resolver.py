"""DNS resolution that remembers why a name failed.

Twisted's endpoints report every failed look-up as "no results for hostname
lookup", so a name that does not exist (the source is ``dead``) looks the
same as a resolver that timed out (an ``error`` that may pass). This resolver
keeps the system's answer per name, so the fetch can be classified, and
answers again at once for names known not to exist instead of asking (and
retrying) for every URL of a dead domain.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet import defer
from twisted.internet.base import ReactorBase
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

# The C library's words for EAI_NONAME / EAI_NODATA ("this name does not
# exist"), as opposed to EAI_AGAIN and friends (the resolver failed).
_NOT_FOUND_TEXTS = (
    "Name or service not known",
    "No address associated with hostname",
    "nodename nor servname provided",
)


class HostNotFoundError(Exception):
    """The host name does not exist (NXDOMAIN): the source is gone, retrying will not help.

    Deliberately not a ``CannotResolveHostError``: Scrapy retries those.
    """


class RememberingResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, plus a memory of failed names and their reasons."""

    def __init__(self, reactor: ReactorBase, cache_size: int, timeout: float) -> None:
        super().__init__(reactor, cache_size, timeout)
        self._failures: LocalCache[str, tuple[bool, str]] = LocalCache(max(cache_size, 1000))

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        """Build it from the DNS settings, as Scrapy's resolver does."""
        resolver: Self = super().from_crawler(crawler, reactor)
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        """Resolve ``name``; a name known not to exist fails at once."""
        known = self._failures.get(name)
        if known is not None and known[0]:
            return defer.fail(DNSLookupError(known[1]))
        d = super().getHostByName(name, timeout)
        d.addErrback(self._remember, name)
        return d

    def _remember(self, failure: Failure, name: str) -> Failure:
        message = failure.getErrorMessage()
        self._failures[name] = (any(text in message for text in _NOT_FOUND_TEXTS), message)
        return failure

    def explain(self, name: str) -> tuple[bool, str] | None:
        """Return (does-not-exist, the resolver's message) for a name that failed, else None."""
        return self._failures.get(name)
