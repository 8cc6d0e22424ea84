"""One process keeps a host's concurrency (``CONCURRENT_REQUESTS_PER_DOMAIN``) with no delay.

Scrapy 2.19's downloader, under the asyncio reactor and with a download delay of 0,
starts each download as a task: a slot's ``transferring`` set fills only after the
loop has emptied the slot's whole queue, so a slot handed many requests at once sends
them all. The project's scheduler queue (``crawler/fetch/hosts.py``) hands a host no
more requests than its slot can send, and this test holds it to that: a host behind a
server that counts the requests it is answering never sees more than the limit.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_crawl
from tests.test_distributed_politeness import StampingServer

PAGES = 24
LIMIT = 2


def test_one_process_never_exceeds_the_hosts_concurrency(tmp_path: Path) -> None:
    with StampingServer() as site:
        site.gate.set()  # no hold: the crawl alone sets the pace
        sources = tmp_path / "sources.jsonl"
        sources.write_text(
            "".join(
                json.dumps({"id": f"p{i}", "url": site.url(f"/page/{i}?sleep=0.3")}) + "\n"
                for i in range(PAGES)
            ),
            encoding="utf-8",
        )
        result = run_crawl(
            sources,
            tmp_path / "out.jsonl",
            CONCURRENT_REQUESTS_PER_DOMAIN=str(LIMIT),
            DOWNLOAD_DELAY="0",
        )
    assert result.exit_code == 0, result.log[-2000:]
    assert len(result.records) == PAGES
    assert sum(1 for r in result.records if r["status"] == "ok") == PAGES
    print(f"\nmax concurrent requests seen by the host: {site.max_active} (limit {LIMIT})")
    assert site.max_active == LIMIT  # the limit is used, and never passed
