"""Identifiers of a source: resource ID, canonical URL, stable ID and domain.

The rules are the contract in DESIGN.md; consumers join on these values, so
any change here is a schema change.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that only track the click and never select content.
# utm_*, fbclid and gclid are named by the design; the others are the
# equivalent click IDs of other ad and mail platforms.
_TRACKING_PARAM = re.compile(
    r"^(utm_[a-z0-9_]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid"
    r"|_hsenc|_hsmi)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STABLE_ID_PREFIX = "sid_"
STABLE_ID_LENGTH = 10


def resource_id(url: str, given: str | None = None) -> str:
    """Return the entry's own id when it has one, else sha256(url)[:16].

    >>> resource_id("https://example.com")
    '100680ad546ce6a5'
    """
    if given:
        return given
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def canonical_url(url: str) -> str:
    """Normalise a URL so that trivial variants of one page compare equal.

    Lowercases scheme and host, drops ``www.``, the default port, the
    fragment, tracking parameters and a trailing slash, and sorts the query.
    Raises ``ValueError`` for a URL without a host.
    """
    # canonicalize_url percent-encodes, IDNA-encodes the host, sorts the
    # query and drops the fragment; the rest is ours.
    parts = urlsplit(canonicalize_url(url.strip()))
    host = parts.hostname
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    host = host.removeprefix("www.")  # parts.hostname already leaves out user:password@
    scheme = parts.scheme.lower()
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAM.match(k)
        ]
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def stable_id(canonical: str) -> str:
    """Derive ``sid_`` + 10 base62 characters from a canonical URL.

    The scheme is left out so that http and https variants share the ID.
    """
    without_scheme = canonical.split("://", 1)[-1]
    number = int.from_bytes(hashlib.sha256(without_scheme.encode("utf-8")).digest()[:8], "big")
    chars = []
    for _ in range(STABLE_ID_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return STABLE_ID_PREFIX + "".join(chars)


def domain_of(url: str | None) -> str | None:
    """Return the lowercase host of ``url`` without ``www.``, or None."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.lower().rstrip(".").removeprefix("www.")
