"""The validation stage's fallback: an invalid record's URL and log line show no credentials.

When the identity fields themselves fail validation (the identity stage
never ran, say), the error record is rebuilt from the source entry; the
entry's URL is read by the one credential parser (crawler/fetch/urls.py)
before it goes into the record or the log.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from scrapy.utils.test import get_crawler

from crawler.fetch.urls import redact_url
from crawler.items import SourceItem
from crawler.sources import SourceEntry
from pipelines.classify import ClassifyPipeline
from pipelines.validate import ValidatePipeline
from tests.conftest import run_crawl
from tests.pageserver import PageServer

# userinfo as written, and the pieces of its password that must not be shown
SPELLINGS = {
    "alice:s3cr@t-pw1": ["s3cr", "t-pw1"],
    "bob:sp ace-pw2": ["ace-pw2"],
    "carol:pe%40rc%3Ant-pw3": ["pe%40rc", "nt-pw3"],
    "dave:co:lon-pw4": ["lon-pw4"],
    "erin:sl/ash-pw5": ["sl/ash", "ash-pw5"],
    "frank:ha#sh-pw6": ["ha#sh", "sh-pw6"],
    "gina:qu?est-pw7": ["qu?est", "est-pw7"],
}


@pytest.mark.parametrize("userinfo", list(SPELLINGS))
def test_the_fallback_record_and_its_log_line_show_no_password(
    userinfo: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"https://{userinfo}@example.com/x?y=1"
    item = SourceItem(
        entry=SourceEntry(url=url, origin="list.yaml:1", fields={"note": f"see {url}"}),
        fetched_at=datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
        http_status=200,
        final_url="https://example.com/x?y=1",
    )
    crawler = get_crawler()
    # No identity stage ran: url, resource_id and stable_id are missing and
    # come from the fallback.
    classified = ClassifyPipeline.from_crawler(crawler).process_item(item)
    with caplog.at_level(logging.ERROR, logger="pipelines.validate"):
        record = ValidatePipeline.from_crawler(crawler).process_item(classified)
    assert (record["status"], record["error"]) == ("error", "invalid_record")
    assert record["url"] == redact_url(url) and "@" not in record["url"].split("?")[0]
    assert record["resource_id"] and record["stable_id"]
    assert "Invalid record for" in caplog.text
    shown = json.dumps(record, ensure_ascii=False) + caplog.text
    for piece in SPELLINGS[userinfo]:
        assert piece not in shown, piece


def test_credentials_in_the_entry_s_other_fields_are_not_passed_through(
    tmp_path: Path, page_server: PageServer
) -> None:
    """The record's ``source`` keeps the entry's fields, but never a URL's login in them."""
    listing = tmp_path / "list.yaml"
    entry = {
        "url": page_server.url("/article/blog-post"),
        "title": "Kept as written",
        "mirror": "https://alice:s3cr@t-pw1@mirror.example/x",
        "notes": ["see ftp://dave:co:lon-pw4@files.example/a and https://medium.com/@someone"],
        "links": {"archive": "https://erin:sl/ash-pw5@archive.example/y"},
    }
    listing.write_text(yaml.safe_dump([entry]), encoding="utf-8")
    result = run_crawl(listing, tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.log[-2000:]
    [record] = result.records
    source = record["source"]
    assert source["title"] == "Kept as written"
    assert source["mirror"] == "https://mirror.example/x"
    assert source["links"] == {"archive": "https://archive.example/y"}
    # a URL whose path holds an @ is not a login, and stays whole
    assert source["notes"] == ["see ftp://files.example/a and https://medium.com/@someone"]
    shown = json.dumps(record) + result.log
    for piece in ("s3cr", "t-pw1", "lon-pw4", "sl/ash", "ash-pw5"):
        assert piece not in shown, piece
