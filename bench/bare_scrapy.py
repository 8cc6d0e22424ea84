"""Contender (a): bare Scrapy fetching every URL of a list, no extraction, no output.

``python bench/bare_scrapy.py URLS_FILE --concurrency 32`` prints ``PAGES <n>``
(responses with a body) at the end. Same reactor and concurrency as our crawl;
nothing else: no robots.txt, no throttling, no pipelines.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


class BareSpider(Spider):
    name = "bare"

    def __init__(self, urls_file: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls_file = urls_file
        self.pages = 0
        self.bytes = 0

    async def start(self) -> AsyncIterator[Request]:
        # Streamed like our spider reads its list.
        with open(self.urls_file, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield Request(line.strip(), dont_filter=True)

    def parse(self, response: Response) -> None:
        self.pages += 1
        self.bytes += len(response.body)

    def closed(self, reason: str) -> None:
        print(f"PAGES {self.pages} {self.bytes}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls_file")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
            "ROBOTSTXT_OBEY": False,
            "AUTOTHROTTLE_ENABLED": False,
            "COOKIES_ENABLED": False,
            "DOWNLOAD_TIMEOUT": 30,
            "DOWNLOAD_MAXSIZE": 20 * 1024 * 1024,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        }
    )
    process.crawl(BareSpider, urls_file=args.urls_file)
    process.start()


if __name__ == "__main__":
    main()
