"""The exceptions a fetch can end with, grouped by what classification needs to know.

This is the one module of :mod:`crawler.fetch` that the record stages import:
``pipelines/outcome.py`` turns these families into error kinds without
reaching into the middlewares, the guard, the resolver or Twisted's private
modules. Scrapy 2.19 wraps Twisted's errors in its own classes, so each
family lists both.
"""

from __future__ import annotations

import gzip
import importlib
import zlib

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as tx_error
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived


class BlockedAddressError(Exception):
    """The source resolves or redirects to an address the guard refuses."""


class HostNotFoundError(Exception):
    """The host name does not exist (NXDOMAIN): the source is gone, retrying will not help.

    Deliberately not a ``CannotResolveHostError``: Scrapy retries those.
    """


class HeadersTooLargeError(Exception):
    """The response's headers passed ``DOWNLOAD_MAX_HEADER_BYTES`` (crawler/fetch/handler.py)."""


class UnsupportedSchemeError(Exception):
    """A request (usually a redirect) to a scheme other than http or https."""


#: a look-up that failed (the text tells a missing name from a failing resolver)
DNS_ERRORS: tuple[type[BaseException], ...] = (CannotResolveHostError, tx_error.DNSLookupError)
TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (
    DownloadTimeoutError,
    tx_error.TimeoutError,
    tx_error.TCPTimedOutError,
)
#: the download was cancelled by a size limit
SIZE_ERRORS: tuple[type[BaseException], ...] = (DownloadCancelledError, HeadersTooLargeError)
#: Scrapy's "do not fetch this" (robots.txt, redirect limits, decompression limits)
IGNORED_ERRORS: tuple[type[BaseException], ...] = (IgnoreRequest,)
REFUSED_ERRORS: tuple[type[BaseException], ...] = (
    DownloadConnectionRefusedError,
    tx_error.ConnectionRefusedError,
)
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ResponseDataLossError,
    ResponseFailed,
    ResponseNeverReceived,
    DownloadFailedError,
    tx_error.ConnectionLost,
    tx_error.ConnectError,
)


def _codec_errors() -> tuple[type[BaseException], ...]:
    """The errors of the brotli and zstd decoders Scrapy uses, when they are installed."""
    found: list[type[BaseException]] = []
    for module, attr in (
        ("brotli", "error"),
        ("brotlicffi", "error"),
        ("compression.zstd", "ZstdError"),
        ("backports.zstd", "ZstdError"),
        ("zstandard", "ZstdError"),
    ):
        try:
            error = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        if isinstance(error, type) and issubclass(error, BaseException):
            found.append(error)
    return tuple(found)


#: a body that could not be decoded: its Content-Encoding (gzip, deflate,
#: br, zstd) or its charset
DECODING_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    gzip.BadGzipFile,
    EOFError,  # a truncated gzip or zstd stream
    UnicodeError,
    *_codec_errors(),
)


def causes(exc: BaseException, limit: int = 8) -> list[BaseException]:
    """``exc`` and what it wraps: ``__cause__``, and the reasons of Twisted's ``ResponseFailed``.

    Scrapy 2.19 wraps a failed response as ``DownloadFailedError`` from a
    ``ResponseFailed`` whose ``reasons`` hold the actual failures (a header
    limit, a data loss); classification needs to see them. Bounded, so a
    cycle cannot loop.
    """
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < limit:
        current = todo.pop(0)
        if current in found:
            continue
        found.append(current)
        if current.__cause__ is not None:
            todo.append(current.__cause__)
        if isinstance(current, ResponseFailed):
            values = (getattr(r, "value", None) for r in current.reasons)
            todo.extend(v for v in values if isinstance(v, BaseException))
    return found
