"""Pipeline stages on their own: nothing is dropped, whatever goes wrong inside a stage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scrapy.utils.test import get_crawler

from crawler.items import SourceItem
from crawler.sources import SourceEntry
from crawler.stage import Stage
from pipelines.classify import ClassifyPipeline
from pipelines.identify import IdentifyPipeline
from pipelines.validate import ValidatePipeline
from schemas import SourceRecord


def make_item(**changes: Any) -> SourceItem:
    entry = SourceEntry(url="https://example.com", origin="list.yaml:1", fields={"type": "web"})
    item = SourceItem(
        entry=entry,
        fetched_at=datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
        http_status=200,
        final_url="https://example.com/",
    )
    for name, value in changes.items():
        setattr(item, name, value)
    return item


def run_stages(item: SourceItem, *stages: type[Stage]) -> Any:
    crawler = get_crawler()
    result: Any = item
    for stage in stages:
        result = stage.from_crawler(crawler).process_item(result)
    return ValidatePipeline.from_crawler(crawler).process_item(result)


def test_a_valid_item_becomes_a_record_in_schema_order() -> None:
    record = run_stages(make_item(), IdentifyPipeline, ClassifyPipeline)
    assert record["resource_id"] == "100680ad546ce6a5"
    assert record["status"] == "ok" and record["http_status"] == 200
    assert list(record) == [f for f in SourceRecord.model_fields if f != "text"]


def test_an_invalid_record_becomes_an_error_record() -> None:
    class BadDate(Stage):
        def process(self, item: SourceItem) -> None:
            item.record["published_date"] = "yesterday"

    record = run_stages(make_item(), IdentifyPipeline, ClassifyPipeline, BadDate)
    assert (record["status"], record["error"]) == ("error", "invalid_record")
    assert "published_date" in record["error_detail"]
    assert record["resource_id"] == "100680ad546ce6a5" and record["published_date"] is None


def test_a_stage_that_raises_keeps_the_item() -> None:
    class Broken(Stage):
        def process(self, item: SourceItem) -> None:
            raise RuntimeError("boom")

    record = run_stages(make_item(), IdentifyPipeline, Broken, ClassifyPipeline)
    assert (record["status"], record["error"]) == ("error", "internal")
    assert "Broken: RuntimeError: boom" in record["error_detail"]


def test_credentials_never_reach_the_record() -> None:
    entry = SourceEntry(url="https://user:hunter2@example.com/x", origin="list.yaml:1")
    item = SourceItem(
        entry=entry,
        fetched_at=datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
        http_status=200,
        final_url="https://example.com/x",
    )
    record = run_stages(item, IdentifyPipeline, ClassifyPipeline)
    assert "hunter2" not in str(record)
    assert record["url"] == "https://example.com/x"
