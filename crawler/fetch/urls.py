"""Decide whether a source URL can be fetched at all, before any request."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.http import basic_auth_header
from w3lib.url import safe_url_string

# Re-exported: the stages that write URLs and sentences into records take the
# redaction from here, one of the two doors of this room (see ARCHITECTURE.md).
from crawler.fetch.redact import strip_credentials as strip_credentials

FETCHABLE_SCHEMES = frozenset({"http", "https"})


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
    return Target(safe, authorization)
