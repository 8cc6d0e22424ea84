"""The night benchmark's resolver: every ``*.night.test`` name is 127.0.0.1, others do not exist.

Set with ``-s TWISTED_DNS_RESOLVER=bench.nightdns.NightResolver``. It keeps the project
resolver's address guard and memory of failed names and replaces only the system look-up,
so thousands of simulated origins cost no DNS query and no list of names on the command line.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from crawler.fetch.guard import is_ip_literal
from crawler.fetch.resolver import RememberingResolver

SUFFIX = ".night.test"


class NightResolver(RememberingResolver):
    """Resolve ``*.night.test`` to 127.0.0.1 and nothing else."""

    def lookup(self, name: str, timeout: Any = ()) -> defer.Deferred[str]:
        """Answer from the simulated zone, never from the network."""
        if is_ip_literal(name):
            return defer.succeed(name)
        if name.lower().endswith(SUFFIX):
            return defer.succeed("127.0.0.1")
        # the wording glibc gives for NXDOMAIN
        return defer.fail(
            DNSLookupError(f"address {name!r} not found: [Errno -2] Name or service not known")
        )
