"""Decide whether a source URL can be fetched at all, before any request."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.http import basic_auth_header
from w3lib.url import safe_url_string

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
    return None


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
