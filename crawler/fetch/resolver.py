"""DNS resolution that applies the address guard and remembers why a name failed.

Every connection to a named host uses the address this resolver returns, so
checking that address here checks the address actually connected to (a DNS
answer that changes between two look-ups cannot slip past: the answer is
checked each time it is used, cached or not).

Twisted's endpoints report every failed look-up as "no results for hostname
lookup", which hides both a refused address and the difference between a
name that does not exist (the source is ``dead``) and a resolver that timed
out (an ``error`` that may pass). The resolver keeps its reason per name, so
that :mod:`crawler.fetch.middlewares` can raise the right exception, and answers
again at once for names known not to exist or to be refused.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple, Self
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet import defer
from twisted.internet.base import ReactorBase
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from crawler.fetch.guard import AddressPolicy

# The C library's words for EAI_NONAME / EAI_NODATA ("this name does not
# exist"), as opposed to EAI_AGAIN and friends (the resolver failed).
_NOT_FOUND_TEXTS = (
    "Name or service not known",
    "No address associated with hostname",
    "nodename nor servname provided",
)


class _RefusedAddress(DNSLookupError):
    """A look-up whose answer the guard refused.

    A DNSLookupError, because Twisted logs any other look-up failure as an
    unexpected error with a traceback.
    """


class FailureKind(Enum):
    """Why a name could not be used."""

    NOT_FOUND = "not_found"
    BLOCKED = "blocked"
    OTHER = "other"


class NameFailure(NamedTuple):
    """The remembered outcome of a failed look-up."""

    kind: FailureKind
    message: str


class RememberingResolver(CachingThreadedResolver):
    """Scrapy's caching resolver plus the address guard and a memory of failed names."""

    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        policy: AddressPolicy | None = None,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy or AddressPolicy()
        #: names whose addresses are not judged: the operator's proxy (PROXY_URL)
        self.trusted: frozenset[str] = frozenset()
        self._failures: LocalCache[str, NameFailure] = LocalCache(max(cache_size, 1000))

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        """Build it from the DNS and address-guard settings."""
        resolver: Self = super().from_crawler(crawler, reactor)
        resolver.policy = AddressPolicy.from_settings(
            crawler.settings.getbool("ALLOW_PRIVATE_ADDRESSES"),
            crawler.settings.getlist("ALLOWED_NETWORKS"),
        )
        proxy = crawler.settings.get("PROXY_URL")
        host = urlsplit(str(proxy)).hostname if proxy else None
        resolver.trusted = frozenset({host.lower()}) if host else frozenset()
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        """Resolve ``name`` to an address the guard allows."""
        known = self._failures.get(name)
        if known is not None and known.kind is not FailureKind.OTHER:
            return defer.fail(DNSLookupError(known.message))
        d = self.lookup(name, timeout)
        d.addCallback(self._check, name)
        d.addErrback(self._remember, name)
        return d

    def lookup(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        """Ask the system resolver (cached); tests override this to stay off the network."""
        return super().getHostByName(name, timeout)

    def _check(self, address: str, name: str) -> str:
        if name.lower() in self.trusted:
            return address
        refusal = self.policy.refusal(address)
        if refusal is not None:
            raise _RefusedAddress(f"{name} resolves to {refusal}")
        return address

    def _remember(self, failure: Failure, name: str) -> Failure:
        message = failure.getErrorMessage()
        if isinstance(failure.value, _RefusedAddress):
            kind = FailureKind.BLOCKED
        elif any(text in message for text in _NOT_FOUND_TEXTS):
            kind = FailureKind.NOT_FOUND
        else:
            kind = FailureKind.OTHER
        self._failures[name] = NameFailure(kind, message)
        return failure

    def explain(self, name: str) -> NameFailure | None:
        """Return why ``name`` failed, if it did."""
        return self._failures.get(name)
