"""Scrapy's HTTP/1.1 download handler with a bound on the total size of response headers.

``DOWNLOAD_MAXSIZE`` bounds the body only, and Twisted's client parser
bounds a single header line (``LineReceiver.MAX_LENGTH``), not their number:
a server sending header lines for ever grows the crawl's memory until the
download timeout, gigabytes later. This handler's parser counts the bytes
of the status line and header lines of every response and gives up with
:class:`~crawler.fetch.errors.HeadersTooLargeError` (a ``too_large``
record) past ``DOWNLOAD_MAX_HEADER_BYTES``.

Scrapy itself swaps its lenient parser in by replacing the class of the
parser object its protocol creates (``HTTP11ClientProtocol.request()``
hard-codes the class); this does the same with a subclass of that lenient
parser, which adds only a counter.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from scrapy.crawler import Crawler
from twisted.internet.defer import Deferred
from twisted.web._newclient import HEADER, STATUS

from crawler.fetch.errors import HeadersTooLargeError


class _BoundedHeaderParser(_LenientHTTPClientParser):
    """The lenient parser, raising once the header section passes ``max_header_bytes``."""

    max_header_bytes = 0  # set on the subclass each handler makes

    def lineReceived(self, line: bytes) -> None:
        """Count the line (and its CR LF) while in the header section."""
        if self.state in (STATUS, HEADER):
            seen = getattr(self, "_header_bytes", 0) + len(line) + 2
            self._header_bytes = seen
            if seen > self.max_header_bytes:
                # HTTP11ClientProtocol.dataReceived turns this into a failed
                # response and drops the connection: nothing more is read.
                raise HeadersTooLargeError(
                    f"response headers exceed DOWNLOAD_MAX_HEADER_BYTES "
                    f"({self.max_header_bytes} bytes)"
                )
        super().lineReceived(line)


class _BoundedProtocol(_LenientHTTP11ClientProtocol):
    parser_class: type[_BoundedHeaderParser] = _BoundedHeaderParser

    def request(self, request: Any) -> Deferred[Any]:
        """Issue the request with the bounded parser (Scrapy's own swap, one class further)."""
        d: Deferred[Any] = super().request(request)
        assert self._parser is not None
        self._parser.__class__ = self.parser_class
        return d


def bound_header_bytes(handler: HTTP11DownloadHandler, limit: int) -> None:
    """Make ``handler``'s connections refuse responses whose header lines pass ``limit`` bytes."""
    parser = type("BoundedHeaderParser", (_BoundedHeaderParser,), {"max_header_bytes": limit})
    protocol = type("BoundedProtocol", (_BoundedProtocol,), {"parser_class": parser})

    class Factory(_LenientHTTP11ClientFactory):
        def buildProtocol(self, addr: Any) -> Any:
            return protocol(self._quiescentCallback)

    handler._pool._factory = Factory


class BoundedHTTP11DownloadHandler(HTTP11DownloadHandler):
    """``DOWNLOAD_HANDLERS`` for http and https: Scrapy's, with ``DOWNLOAD_MAX_HEADER_BYTES``."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        bound_header_bytes(self, crawler.settings.getint("DOWNLOAD_MAX_HEADER_BYTES"))
