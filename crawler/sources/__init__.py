"""Sources lists: where the URLs to crawl come from (files, directories, globs, S3).

The rest of the project reads entries through this interface only:
:func:`resolve_sources` finds the files, :func:`check_sources` checks them
whole before anything is fetched, :func:`iter_entries` streams
:class:`SourceEntry` objects, and :func:`fetch_s3_sources` downloads an
``s3://`` list first. One module per format (``yaml_list``, ``json_list``,
``jsonl_list``, ``csv_list``, ``text_list``) behind one interface
(``check(path)``, ``iter_entries(path)``), chosen by
:mod:`crawler.sources.registry`.
"""

from crawler.sources.reader import (
    SourceEntry,
    SourcesError,
    check_sources,
    iter_entries,
    resolve_sources,
)
from crawler.sources.s3download import fetch_s3_sources

__all__ = [
    "SourceEntry",
    "SourcesError",
    "check_sources",
    "fetch_s3_sources",
    "iter_entries",
    "resolve_sources",
]
