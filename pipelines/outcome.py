"""Pure rules that turn fetch facts into ``(status, error kind, sentence)``.

The statuses are the contract in DESIGN.md: ``dead`` means the source is
gone, ``paywall`` that it is behind a wall, ``error`` anything that failed
and may pass, or that we refused.
"""

from __future__ import annotations

import re
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

#: Every ``error`` kind a record can carry, with its meaning: the one list the
#: README's table is made from (tests/test_security_kinds.py checks both the
#: code and the README against it). ``http_<code>`` stands for the final HTTP
#: status of a response that is not 2xx (``http_404``, ``http_503``, ...).
ERROR_KINDS: dict[str, str] = {
    "invalid_url": "the entry has no URL, or one that cannot be parsed (no scheme, no host, "
    "a bad port)",
    "unsupported_scheme": "a scheme other than http/https, given or redirected to",
    "blocked_address": "the host is, resolves or redirects to a loopback, private, link-local "
    "or otherwise non-public address (the address guard)",
    "dns": "the host name does not exist (status dead) or the look-up failed (status error)",
    "timeout": "no complete response within DOWNLOAD_TIMEOUT",
    "connection": "the connection was refused, reset or dropped",
    "too_large": "the body passed DOWNLOAD_MAXSIZE (also once decompressed) or the headers "
    "DOWNLOAD_MAX_HEADER_BYTES",
    "robots": "robots.txt disallows the URL",
    "too_many_redirects": "more than REDIRECT_MAX_TIMES redirects, or a redirect loop",
    "decoding": "the body could not be decoded: corrupt gzip, deflate, br or zstd, or its charset",
    "ignored": "Scrapy refused the request for another reason (the detail says which)",
    "fetch": "the download failed in a way none of the other kinds describes (the detail "
    "names the exception)",
    "internal": "a stage of the crawler failed on this source (the detail names it); "
    "also a page that passed the extraction worker's memory cap or time limit",
    "invalid_record": "the record failed validation against the schema",
    "http_<code>": "the final HTTP status, when not 2xx: dead for 4xx except 401/403/407/429, "
    "paywall for 401/402, error otherwise",
    # Kinds of the content checks (DESIGN.md, "Error kinds added"):
    "soft_404": "the page answers 200 but is the site's not-found page (status dead)",
    "redirected_home": "a deep URL now lands on the site's home or landing page (status dead)",
    "parked_domain": "the domain is parked or for sale (status dead)",
    "login_wall": "redirected to a login page (status paywall)",
}


def kinds_markdown() -> str:
    """The README's table of error kinds (a test keeps the README in step with it)."""
    lines = ["| `error` | meaning |", "| --- | --- |"]
    lines += [f"| `{kind}` | {meaning} |" for kind, meaning in ERROR_KINDS.items()]
    return "\n".join(lines) + "\n"


#: the pattern ``http_<code>`` in :data:`ERROR_KINDS` stands for
HTTP_KIND = re.compile(r"^http_[1-5][0-9][0-9]$")


def is_known_kind(kind: str) -> bool:
    """Whether ``kind`` is one of :data:`ERROR_KINDS` (``http_404`` counts as ``http_<code>``)."""
    return kind in ERROR_KINDS or bool(HTTP_KIND.match(kind))


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
