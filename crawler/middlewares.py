"""Downloader middlewares of the project."""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every waiting request seeing the parser.

    Scrapy 2.19 lets all requests to a host that arrive while its robots.txt
    is downloading await one shared Deferred through ``asFuture()``, which
    leaves ``None`` as the Deferred's result: only the first waiter gets the
    parser, the others are treated as if there were no robots.txt and fetch
    disallowed pages. The parser is stored before the Deferred fires, so
    reading it back after the wait gives every request the right answer.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """Return the host's parser (None when robots.txt could not be fetched)."""
        waited = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return waited if isinstance(stored, Deferred) else stored
