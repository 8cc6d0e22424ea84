"""Pure rules that turn fetch facts into ``(status, error kind, sentence)``.

The statuses are the contract in DESIGN.md: ``dead`` means the source is
gone, ``paywall`` that it is behind a wall, ``error`` anything that failed
and may pass, or that we refused.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import NamedTuple

from crawler.fetch.errors import (
    CONNECTION_ERRORS,
    DECODING_ERRORS,
    DNS_ERRORS,
    IGNORED_ERRORS,
    REFUSED_ERRORS,
    SIZE_ERRORS,
    TIMEOUT_ERRORS,
    BlockedAddressError,
    HostNotFoundError,
    UnsupportedSchemeError,
    causes,
)

# 4xx codes that say "you may not" or "slow down", not "gone".
_BLOCKING_4XX = frozenset({403, 407, 429})
_PAYWALL_CODES = frozenset({401, 402})
# getaddrinfo's words for a name that does not exist (as opposed to a
# resolver that failed or timed out, which may pass).
_NXDOMAIN_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "no address associated",
    "nxdomain",
    "does not exist",
    "host not found",
)


class Outcome(NamedTuple):
    """The classification of one source."""

    status: str
    error: str | None
    detail: str | None


OK = Outcome("ok", None, None)


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "non-standard status"


def from_http_status(code: int) -> Outcome:
    """Classify a final HTTP status (after retries and redirects)."""
    if 200 <= code < 300:
        return OK
    kind = f"http_{code}"
    detail = f"HTTP {code} {_reason(code)}"
    if code in _PAYWALL_CODES:
        return Outcome("paywall", kind, detail)
    if 400 <= code < 500 and code not in _BLOCKING_4XX:
        return Outcome("dead", kind, detail)
    return Outcome("error", kind, detail)


def from_failure(exc: BaseException) -> Outcome:
    """Classify an exception that ended a download without a response."""
    message = str(exc) or type(exc).__name__
    text = message.lower()
    if isinstance(exc, BlockedAddressError):
        return Outcome("error", "blocked_address", f"address refused by the guard: {message}")
    if isinstance(exc, UnsupportedSchemeError):
        return Outcome("error", "unsupported_scheme", message)
    if isinstance(exc, HostNotFoundError):
        return Outcome("dead", "dns", f"host name does not exist: {message}")
    if isinstance(exc, DNS_ERRORS):
        if any(hint in text for hint in _NXDOMAIN_HINTS):
            return Outcome("dead", "dns", f"host name does not exist: {message}")
        return Outcome("error", "dns", f"DNS lookup failed: {message}")
    if isinstance(exc, TIMEOUT_ERRORS):
        return Outcome("error", "timeout", f"download timed out: {message}")
    if any(isinstance(c, SIZE_ERRORS) for c in causes(exc)) or "maxsize" in text:
        return Outcome("error", "too_large", f"response too large: {message}")
    if isinstance(exc, IGNORED_ERRORS):
        if "robots.txt" in text:
            return Outcome("error", "robots", "forbidden by robots.txt")
        if "redirect" in text:
            return Outcome("error", "too_many_redirects", message)
        return Outcome("error", "ignored", message)
    if isinstance(exc, REFUSED_ERRORS):
        return Outcome("error", "connection", f"connection refused: {message}")
    if isinstance(exc, CONNECTION_ERRORS):
        return Outcome("error", "connection", f"connection failed: {message}")
    if isinstance(exc, DECODING_ERRORS) or (isinstance(exc, OSError) and "gzip" in text):
        return Outcome("error", "decoding", f"body could not be decoded: {message}")
    return Outcome("error", "fetch", f"{type(exc).__name__}: {message}")
