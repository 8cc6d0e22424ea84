"""Give a rendered response the address the browser's connection really reached."""

from __future__ import annotations

import ipaddress
from typing import Self
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.render.addon import RenderAddon
from crawler.render.proxy import GuardedProxy


class BrowserPeerMiddleware:
    """Replace a rendered response's peer address (the proxy's) by the target's.

    The browser reaches every page through the guarded proxy on 127.0.0.1, so
    Playwright reports the proxy as the server. The proxy knows which address
    it connected to for each host; this middleware puts that address on the
    response, and the address guard's own check of responses
    (:class:`crawler.fetch.middlewares.AddressGuardMiddleware`) judges it as it
    judges any other response.
    """

    def __init__(self, proxy: GuardedProxy) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Only when the render add-on is active."""
        addon = crawler.get_addon(RenderAddon)
        if addon is None or not addon.active or addon.proxy is None:
            raise NotConfigured("rendering is off")
        return cls(addon.proxy)

    def process_response(self, request: Request, response: Response) -> Response:
        """Set the peer address of a browser response from the proxy's connection."""
        if "playwright" not in response.flags:
            return response
        # the page's own host (after the browser's redirects), else the one asked for
        hosts = (urlsplit(response.url).hostname, urlparse_cached(request).hostname)
        address = next(
            (self.proxy.connected[h] for h in hosts if h and h in self.proxy.connected), None
        )
        peer = ipaddress.ip_address(address) if address else None
        return response.replace(ip_address=peer)
