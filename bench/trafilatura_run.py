"""Contender (c): plain trafilatura, its own downloader and extractor, as its CLI runs them.

``python bench/trafilatura_run.py URLS_FILE --threads 32`` prints ``PAGES <n>``
(pages with extracted text). The shape is the CLI's URL pipeline
(``trafilatura -i urls.txt --parallel N``): ``buffered_downloads`` fetches with
a thread pool while the main thread extracts each page as it arrives.

Configured fairly for a loopback benchmark, and only so:

- ``SSRF_PROTECTION = off``: trafilatura 2.3 refuses private addresses by
  default, and the benchmark's server is on 127.0.0.1;
- ``SLEEP_TIME = 0`` and the URL list handed straight to ``buffered_downloads``:
  the CLI's per-host scheduler (``UrlStore``) releases one URL per host per
  ``SLEEP_TIME`` (5 s), which on a single-host benchmark would serialise every
  download; real crawls spread over many hosts do not pay that;
- extraction with metadata (``with_metadata=True``, JSON output), the
  equivalent of the fields our records carry.
"""

from __future__ import annotations

import argparse
from copy import deepcopy

import trafilatura
from trafilatura.downloads import buffered_downloads
from trafilatura.settings import DEFAULT_CONFIG, Extractor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls_file")
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    config = deepcopy(DEFAULT_CONFIG)
    config["DEFAULT"]["SSRF_PROTECTION"] = "off"
    config["DEFAULT"]["SLEEP_TIME"] = "0"
    options = Extractor(config=config, output_format="json", with_metadata=True)
    with open(args.urls_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    pages = fetched = 0
    for url, html in buffered_downloads(urls, args.threads, options=options):
        if not html:
            continue
        fetched += 1
        result = trafilatura.extract(
            html, url=url, output_format="json", with_metadata=True, config=config
        )
        if result:
            pages += 1
    print(f"PAGES {pages} {fetched}", flush=True)


if __name__ == "__main__":
    main()
