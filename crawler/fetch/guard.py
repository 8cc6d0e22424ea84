"""The address guard's decision: may the crawler connect to this IP address?

Cited sources are arbitrary URLs, and the crawler runs on machines that hold
cloud credentials: a source (or a redirect, or a DNS answer) that points at
loopback, a private network or the cloud metadata service (169.254.169.254)
must not be fetched. Only globally routable unicast addresses pass, unless a
setting opens a range. This module is pure; the resolver and a downloader
middleware apply it to the addresses actually used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Self

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _kind(ip: IPAddress) -> str | None:
    """Name the non-public range ``ip`` falls in, or None for a public unicast address."""
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:  # 169.254.0.0/16 holds the cloud metadata service
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:  # RFC 1918, fc00::/7, and the other special-purpose blocks
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:  # e.g. 100.64.0.0/10, carrier-grade NAT
        return "not globally routable"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be connected to.

    ``allow_private`` turns the guard off; ``allowed`` lists networks let
    through while the guard stays on for everything else.
    """

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, allow_private: bool, allowed: Iterable[str]) -> Self:
        """Build the policy from ``ALLOW_PRIVATE_ADDRESSES`` and ``ALLOWED_NETWORKS``.

        Raises ``ValueError`` naming a CIDR that does not parse.
        """
        networks = []
        for cidr in allowed:
            text = str(cidr).strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError as exc:
                raise ValueError(f"ALLOWED_NETWORKS: {text!r} is not a network: {exc}") from exc
        return cls(allow_private=allow_private, allowed=tuple(networks))

    def refusal(self, address: str) -> str | None:
        """Return why connecting to ``address`` is refused, or None when it is allowed."""
        if self.allow_private:
            return None
        try:
            ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        # ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address it carries.
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        target = mapped or ip
        if any(target in net for net in self.allowed if net.version == target.version):
            return None
        kind = _kind(target)
        return f"{address} is a {kind} address" if kind else None


def is_ip_literal(host: str) -> bool:
    """Whether a URL host is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
