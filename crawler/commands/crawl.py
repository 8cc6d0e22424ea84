"""``scrapy crawl``, with an exit code that says whether the run's output was published."""

from __future__ import annotations

import argparse
import logging

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from crawler.exitcodes import MEANING, OK, STARTUP_FAILED, exit_code_for

logger = logging.getLogger(__name__)


class Command(ScrapyCrawlCommand):
    """Run a spider; exit 0 only when its output was published (see crawler/exitcodes.py).

    Scrapy's own command exits 0 even when the export failed.
    """

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Run the crawl and derive the exit code from its stats."""
        if len(args) != 1:
            raise UsageError("give exactly one spider name, e.g. `scrapy crawl sources`")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or crawler.stats is None:
            self.exitcode = STARTUP_FAILED
            return
        self.exitcode = exit_code_for(crawler.stats.get_stats())
        if self.exitcode != OK:
            logger.error("Exit code %d: %s", self.exitcode, MEANING[self.exitcode])
