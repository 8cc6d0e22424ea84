"""``sources-crawl``: the crawl as an installed command, from any directory.

It is ``scrapy crawl sources`` with this project's settings module, so it
needs no ``scrapy.cfg`` and takes the same ``-a``, ``-s``, ``-O`` and
``-L`` options. ``sources-crawl --help`` lists the spider's arguments, every
project setting (generated from :mod:`crawler.options`) and the exit codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SETTINGS_MODULE = "crawler.settings"

USAGE = """\
usage: sources-crawl [-a sources=PATH_OR_URI] [-s NAME=VALUE ...] [-O OUTPUT.jsonl[.gz]]
                     [-L LEVEL] [--logfile FILE]

Fetch every URL of a sources list and write one validated JSON record per source
(JSON Lines), with a manifest, a latest.json pointer, incremental state and a report.
Without -a sources= it crawls the example list bundled with the project.
"""


def help_text() -> str:
    """The whole ``--help`` page: arguments, options, settings and exit codes."""
    from crawler.options import text_table
    from crawler.publish.exitcodes import MEANING
    from crawler.spiders.sources import SourcesSpider

    lines = [USAGE, "arguments (-a NAME=VALUE):"]
    for name, meaning in SourcesSpider.ARGUMENTS.items():
        lines.append(f"  {name:<10} {meaning}")
    lines += [
        "",
        "options:",
        "  -s NAME=VALUE   set a setting (below, or one of Scrapy's own, e.g. CONCURRENT_REQUESTS)",
        "  -O FILE         write the records to FILE (.jsonl or .jsonl.gz), as OUTPUT_URI",
        "  -L LEVEL        log level (DEBUG, INFO, WARNING, ERROR); tracebacks only at DEBUG",
        "  --logfile FILE  log to FILE instead of standard error",
        "  -h, --help      show this page",
        "",
        "settings (-s NAME=VALUE):",
        text_table(),
        "",
        "exit codes:",
    ]
    lines += [f"  {code}  {meaning}" for code, meaning in sorted(MEANING.items())]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``scrapy crawl sources`` with the given options; exit with its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in args):
        sys.stdout.write(help_text())
        return
    # This command is this project's crawl wherever it runs: a scrapy.cfg of
    # another project in the current directory must not pick the settings.
    os.environ["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    from scrapy.cmdline import execute

    execute(["scrapy", "crawl", "sources", *args])


if __name__ == "__main__":
    main()
