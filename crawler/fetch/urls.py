"""Decide whether a source URL can be fetched at all, before any request."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.http import basic_auth_header
from w3lib.url import safe_url_string

# Re-exported: the stages that write URLs and sentences into records take the
# redaction from here, one of the two doors of this room (see ARCHITECTURE.md).
from crawler.fetch.redact import strip_credentials as strip_credentials

FETCHABLE_SCHEMES = frozenset({"http", "https"})
#: the WHATWG URL standard's forbidden domain code points (besides controls):
#: a browser refuses a host holding one, so no server can be reached by it
FORBIDDEN_HOST_CHARACTERS = frozenset(" #%/:<>?@[\\]^|")


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
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if not scheme:
            return Refusal("invalid_url", f"URL has no scheme: {url!r}")
        if scheme not in FETCHABLE_SCHEMES:
            return Refusal(
                "unsupported_scheme", f"scheme {scheme!r} is not fetched (only http, https)"
            )
        if not parts.hostname:
            return Refusal("invalid_url", f"URL has no host: {url!r}")
        problem = host_problem(parts.hostname)
        if problem:
            return Refusal("invalid_url", f"URL cannot be fetched: {problem}")
        _ = parts.port  # raises ValueError for a port that is not a number in range
        authorization = None
        if "@" in parts.netloc:
            userinfo, _, hostport = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            authorization = basic_auth_header(unquote(user), unquote(password)).decode("ascii")
            url = urlunsplit(parts._replace(netloc=hostport))
        safe = safe_url_string(url)
        urlsplit(safe).hostname  # noqa: B018 - re-parse what will be requested
    except (ValueError, UnicodeError) as exc:
        return Refusal("invalid_url", f"URL cannot be parsed: {exc}")
    if max_length is not None and len(safe) > max_length:
        return Refusal(
            "invalid_url",
            f"URL is {len(safe)} characters long once encoded, over the limit of "
            f"{max_length} (URLLENGTH_LIMIT)",
        )
    return Target(safe, authorization)
