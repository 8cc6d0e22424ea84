"""A resolver for tests: names from a setting resolve to loopback, every other name does not exist.

Set with ``-s TWISTED_DNS_RESOLVER=tests.dnsfixture.LoopbackResolver`` and
``-s TEST_DNS_HOSTS='{"name": "127.0.0.1"}'``. It keeps the project
resolver's guard and memory, and replaces only the system look-up, so tests
of host names (IDN hosts, names that do not resolve, names that point at a
refused address) send no DNS query off the machine.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler
from twisted.internet import defer
from twisted.internet.base import ReactorBase
from twisted.internet.error import DNSLookupError

from crawler.fetch.guard import is_ip_literal
from crawler.fetch.resolver import RememberingResolver


class LoopbackResolver(RememberingResolver):
    """Resolve only the names listed in ``TEST_DNS_HOSTS``."""

    hosts: dict[str, str]

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        resolver: Self = super().from_crawler(crawler, reactor)
        resolver.hosts = {
            k.lower(): str(v) for k, v in crawler.settings.getdict("TEST_DNS_HOSTS").items()
        }
        return resolver

    def lookup(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        address = name if is_ip_literal(name) else self.hosts.get(name.lower())
        if address is None:
            # the wording glibc gives for NXDOMAIN
            return defer.fail(
                DNSLookupError(f"address {name!r} not found: [Errno -2] Name or service not known")
            )
        return defer.succeed(address)
