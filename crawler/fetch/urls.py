"""Decide whether a source URL can be fetched at all, before any request.

It also holds the project's one reading of credentials written into a URL
(:func:`split_userinfo`): the request's ``Authorization`` header, the
record's ``url`` and ``final_url``, the log filter, the report,
``error_detail`` and the state key all go through it, so they cannot
disagree about where a password ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.http import basic_auth_header
from w3lib.url import safe_url_string

FETCHABLE_SCHEMES = frozenset({"http", "https"})

# "scheme://": where an authority (and so a userinfo) can start.
_AUTHORITY_START = re.compile(r"^\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")


def split_userinfo(url: str) -> tuple[str, str | None]:
    """Split a URL into (the URL without userinfo, the userinfo as written or None).

    The authority runs from ``//`` to the first ``/``, ``?`` or ``#``, and
    its userinfo is everything before its LAST ``@``, as the WHATWG URL
    standard reads it: ``http://user:s3cr@t@host/`` has the password
    ``s3cr@t`` and the host ``host``. Raises ``ValueError`` when the URL does
    not parse.
    """
    if "@" not in url:
        return url, None
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=hostport)), userinfo


def _has_host(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except (ValueError, UnicodeError):
        return False
    return bool(parts.hostname)


def redact_url(url: str) -> str:
    """The URL as it may be shown anywhere (records, logs, report): without its userinfo.

    A URL the parser cannot place a host in (a password holding ``/``, ``?``
    or ``#`` unencoded ends the authority early, so the URL is refused) is
    cut from ``://`` to its last ``@``: whatever the writer meant, no part of
    what may be a password is shown.
    """
    if "@" not in url:
        return url
    try:
        stripped, userinfo = split_userinfo(url)
    except (ValueError, UnicodeError):
        stripped, userinfo = url, None
    if _has_host(stripped):
        return stripped if userinfo is not None else url
    start = _AUTHORITY_START.match(url)
    at = url.rfind("@")
    if start is None or at < start.end():
        return url
    return url[: start.end()] + url[at + 1 :]


def has_userinfo(url: str) -> bool:
    """Whether showing ``url`` would need :func:`redact_url` (credentials may be in it)."""
    return redact_url(url) != url


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a URL will not be fetched: an error kind and a sentence."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Target:
    """What to request for a source URL.

    Credentials written into the URL (``user:password@``) are taken out of it
    and sent as HTTP basic authentication, as browsers do; the URL requested
    (and logged) never carries them.
    """

    url: str
    authorization: str | None = None


def fetchable_url(url: str) -> Target | Refusal:
    """Return what to request for ``url``, or the reason it cannot be fetched.

    Spaces and non-ASCII characters are percent-encoded and IDN hosts
    punycoded (w3lib), as a browser would before sending the request.
    """
    shown = redact_url(url)  # what a refusal may quote
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if not scheme:
            return Refusal("invalid_url", f"URL has no scheme: {shown!r}")
        if scheme not in FETCHABLE_SCHEMES:
            return Refusal(
                "unsupported_scheme", f"scheme {scheme!r} is not fetched (only http, https)"
            )
        if not parts.hostname:
            return Refusal("invalid_url", f"URL has no host: {shown!r}")
        _ = parts.port  # raises ValueError for a port that is not a number in range
        authorization = None
        bare, userinfo = split_userinfo(url)
        if userinfo is not None:
            user, _, password = userinfo.partition(":")
            authorization = basic_auth_header(unquote(user), unquote(password)).decode("ascii")
        safe = safe_url_string(bare)
        urlsplit(safe).hostname  # noqa: B018 - re-parse what will be requested
    except (ValueError, UnicodeError) as exc:
        if "@" in url:
            # the parser's message quotes pieces of the authority (a "port"
            # that is half a password): say what is wrong without them
            return Refusal(
                "invalid_url",
                "URL cannot be parsed: what precedes its first / ? or # is not "
                "[user:password@]host[:port] (a password with / ? # must be percent-encoded)",
            )
        return Refusal("invalid_url", f"URL cannot be parsed: {exc}")
    return Target(safe, authorization)
