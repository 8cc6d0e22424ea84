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

import logging
from typing import Any, Self

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.internet.defer import Deferred
from twisted.web._newclient import HEADER, STATUS

from crawler.fetch.errors import HeadersTooLargeError

logger = logging.getLogger(__name__)


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


#: ``Request.meta`` key: ``(url, size)`` of a body before :class:`BodyCapMiddleware` cut it
FULL_BODY_BYTES = "full_body_bytes"
#: media types whose body is read from its start only (the extractor's own cut keeps these)
_CUT_TYPES = ("text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml", "text/plain")


def full_body_bytes(response: Response) -> int | None:
    """The size of ``response``'s body before :class:`BodyCapMiddleware` cut it; None if not cut."""
    mark = response.meta.get(FULL_BODY_BYTES)
    if isinstance(mark, tuple) and len(mark) == 2 and mark[0] == response.url:
        return int(mark[1])
    return None


class BodyCapMiddleware:
    """Keep only the head of a very large HTML or text body; remember its full size.

    Extraction reads at most ``EXTRACT_MAX_HTML_BYTES`` of markup or text (main text
    and metadata sit near the top), and Scrapy's scraper holds every response whole
    until its item has passed the pipelines, counting its bytes against
    ``SCRAPER_SLOT_MAX_ACTIVE_SIZE`` (5 MB): one 19 MB page waiting for extraction
    stops the engine from starting any download. Placed after decompression (590)
    on the way back, this cuts such a body to the head extraction would read
    (at the last tag start before the cap, as extraction cuts) before it reaches the
    scraper, and puts ``(url, full size)`` in ``request.meta["full_body_bytes"]`` (the
    record's ``body_bytes``: see :func:`full_body_bytes`). PDFs and other kinds, which
    need all their bytes, are left whole (``DOWNLOAD_MAXSIZE`` bounds them), and so
    are non-2xx answers (not extracted). Off when ``EXTRACT_MAX_HTML_BYTES`` is 0.
    Stat: ``fetch/body_cut``.
    """

    def __init__(self, crawler: Crawler, limit: int) -> None:
        self.crawler = crawler
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off (``NotConfigured``) when ``EXTRACT_MAX_HTML_BYTES`` is 0."""
        limit = crawler.settings.getint("EXTRACT_MAX_HTML_BYTES")
        if limit <= 0:
            raise NotConfigured
        return cls(crawler, limit)

    def process_response(self, request: Request, response: Response) -> Response:
        """Cut an HTML or text body longer than the cap to the head extraction reads."""
        size = len(response.body)
        if size <= self.limit or not 200 <= response.status < 300:
            return response
        mime = (response.headers.get(b"Content-Type") or b"").split(b";", 1)[0].strip().lower()
        head = response.body[:1024].lstrip()
        if mime.decode("latin-1") not in _CUT_TYPES or head.startswith(b"%PDF-"):
            return response
        body = response.body
        cut = body.rfind(b"<", max(0, self.limit - 65536), self.limit)
        # with the URL: a request made from this one (a meta refresh) copies the meta
        request.meta[FULL_BODY_BYTES] = (response.url, size)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("fetch/body_cut")
        logger.info("Kept the first %d of %d bytes of %s", cut if cut > 0 else self.limit,
                    size, response.url)  # fmt: skip
        return response.replace(body=body[: cut if cut > 0 else self.limit])
