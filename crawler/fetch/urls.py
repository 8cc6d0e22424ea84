"""Decide whether a source URL can be fetched at all, before any request.

It also holds the project's one reading of credentials written into a URL
(:func:`split_userinfo`): the request's ``Authorization`` header, the
record's ``url`` and ``final_url``, the log filter, the report,
``error_detail`` and the state key all go through it, so they cannot
disagree about where a password ends.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.http import basic_auth_header
from w3lib.url import safe_url_string

FETCHABLE_SCHEMES = frozenset({"http", "https"})
#: the WHATWG URL standard's forbidden domain code points (besides controls):
#: a browser refuses a host holding one, so no server can be reached by it
FORBIDDEN_HOST_CHARACTERS = frozenset(" #%/:<>?@[\\]^|")

# A URL and whatever may follow it on the line up to a quote, bracket or the
# next URL: passwords may hold spaces, so the span is not cut at white space.
URL_SPAN = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*:)?//(?:(?!\b[a-z][a-z0-9+.-]*://)[^\n\r'\"<>`])*"
)

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


def host_problem(host: str) -> str | None:
    """Why a URL's host (as ``urlsplit`` gives it, brackets removed) is invalid, or None.

    IP literals are parsed; a domain is refused when, percent-decoded, it
    holds a WHATWG forbidden domain code point (a space, ``<``, ``|`` …) or
    a control character.
    """
    if ":" in host:  # only a bracketed IPv6 literal has colons here
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return f"host {host!r} is not a valid IPv6 address"
        return None
    decoded = unquote(host)
    bad = sorted(
        {c for c in decoded if c in FORBIDDEN_HOST_CHARACTERS or ord(c) < 0x20 or ord(c) == 0x7F}
    )
    if bad:
        shown = ", ".join("space" if c == " " else repr(c) for c in bad)
        return f"host {decoded!r} holds characters no host name can have ({shown})"
    if not decoded.strip("."):
        return f"host {host!r} is empty"
    if _ends_in_a_number(decoded) and not _whatwg_ipv4(decoded):
        return f"host {decoded!r} ends in a number but is not a valid IPv4 address"
    return None


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: decimal, ``0x`` hex or leading-zero octal."""
    base = 10
    if part[:2].lower() == "0x":
        part, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        part, base = part[1:], 8
    if not part:
        return 0
    try:
        return int(part, base) if part.isascii() and part.isalnum() else None
    except ValueError:
        return None


def _labels(host: str) -> list[str]:
    labels = host.split(".")
    return labels[:-1] if len(labels) > 1 and labels[-1] == "" else labels


def _ends_in_a_number(host: str) -> bool:
    """The WHATWG test: a host whose last label is a number is parsed as an IPv4 address."""
    last = _labels(host)[-1]
    if last.isascii() and last.isdigit():
        return True
    return last[:2].lower() == "0x" and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def _whatwg_ipv4(host: str) -> bool:
    """Whether the WHATWG IPv4 parser accepts ``host`` (``127.1`` and ``0x7f.1`` included)."""
    labels = _labels(host)
    numbers = [_ipv4_number(p) if p else None for p in labels]
    if len(labels) > 4 or any(n is None for n in numbers):
        return False
    values = [n for n in numbers if n is not None]
    return all(n <= 255 for n in values[:-1]) and values[-1] < 256 ** (5 - len(values))


def fetchable_url(url: str, max_length: int | None = None) -> Target | Refusal:
    """Return what to request for ``url``, or the reason it cannot be fetched.

    Spaces and other characters invalid in a path or query are
    percent-encoded and IDN hosts punycoded (w3lib), as a browser does
    before sending the request (the WHATWG URL rules); a host that no
    browser would accept is an ``invalid_url``, and so is a URL longer than
    ``max_length`` once encoded (Scrapy's ``URLLENGTH_LIMIT``: longer
    requests would be dropped without a trace).
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
        problem = host_problem(parts.hostname)
        if problem:
            return Refusal("invalid_url", f"URL cannot be fetched: {problem}")
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
    if max_length is not None and len(safe) > max_length:
        return Refusal(
            "invalid_url",
            f"URL is {len(safe)} characters long once encoded, over the limit of "
            f"{max_length} (URLLENGTH_LIMIT)",
        )
    return Target(safe, authorization)


def strip_credentials(text: str) -> str:
    """Remove the ``user:password@`` part of every URL in ``text`` (sentences, log lines)."""
    return URL_SPAN.sub(lambda m: redact_url(m.group(0)), text) if "@" in text else text


def strip_credentials_in(value: Any) -> Any:
    """``value`` with :func:`strip_credentials` applied to every string in it, keys included.

    For the entry's pass-through fields: a sources list may hold a mirror or
    archive URL with its login in any field, and the record must not show it.
    The structure is already bounded by the sources reader (depth, size), so
    the walk is too. Values without an ``@`` come back as the same objects.
    """
    if isinstance(value, str):
        return strip_credentials(value)
    if isinstance(value, dict):
        return {strip_credentials_in(k): strip_credentials_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_credentials_in(v) for v in value]
    return value
