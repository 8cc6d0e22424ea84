"""The record contract: the shipped JSON Schema, the model and the consumer reader."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from schemas import FIELD_ORDER, RecordError, SourceRecord, read_records
from schemas.__main__ import SCHEMA_FILE, render

DESIGN_FIELDS = [
    "schema_version",
    "resource_id",
    "stable_id",
    "url",
    "canonical_url",
    "final_url",
    "domain",
    "status",
    "error",
    "error_detail",
    "http_status",
    "fetched_at",
    "content_type",
    "mime",
    "title",
    "published_date",
    "modified_date",
    "authors",
    "site_name",
    "language",
    "description",
    "preview",
    "preview_truncated",
    "content_length",
    "body_bytes",
    "content_sha256",
    "text",
    "source",
    "publication",
    "changed",  # added in a minor change (issue 4): last, so earlier keys keep their order
    # reference rot (issue 18), added after it
    "drift",
    "first_failed_at",
    "failures_in_a_row",
    "dead_confirmed",
    "archive",
    "preview_from_archive",
    "rendered",  # added in a minor change (issue 15)
    "identifiers",  # added in a minor change (issue 16)
    "metadata_source",
]


def good_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema_version": "1",
        "resource_id": "100680ad546ce6a5",
        "stable_id": "sid_abcDEF1234",
        "url": "https://example.com",
        "canonical_url": "https://example.com/",
        "final_url": "https://example.com/",
        "domain": "example.com",
        "status": "ok",
        "error": None,
        "error_detail": None,
        "http_status": 200,
        "fetched_at": "2026-11-29T02:00:00Z",
        "content_type": "html",
        "mime": "text/html",
        "title": "Example Domain",
        "published_date": None,
        "modified_date": None,
        "authors": [],
        "site_name": None,
        "language": "en",
        "description": None,
        "preview": "This domain is for use in examples.",
        "preview_truncated": False,
        "content_length": 35,
        "body_bytes": 1256,
        "content_sha256": "0" * 64,
        "source": {"type": "web"},
        "publication": None,
    }
    record.update(changes)
    return record


def test_checked_in_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "schemas/record.schema.json is stale: run `python -m schemas`"
    )


def test_fields_follow_the_design_order() -> None:
    assert list(FIELD_ORDER) == DESIGN_FIELDS
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert list(schema["properties"]) == DESIGN_FIELDS
    assert "text" not in schema["required"] and "status" in schema["required"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "gone"},
        {"published_date": "2024/01/02"},
        {"fetched_at": "2026-11-29 02:00:00"},
        {"content_sha256": "xyz"},
        {"schema_version": "2"},
        {"unexpected": 1},
        {"content_length": -1},
    ],
)
def test_model_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SourceRecord.model_validate(good_record(**bad))


def test_reader_reads_plain_and_gzip(tmp_path: Path) -> None:
    lines = [json.dumps(good_record()), "", json.dumps(good_record(url="https://b.example"))]
    plain = tmp_path / "n.jsonl"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    packed = tmp_path / "n.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        assert [r.url for r in read_records(path)] == ["https://example.com", "https://b.example"]


def test_reader_names_file_and_line_of_a_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text(
        json.dumps(good_record())
        + "\n"
        + json.dumps(good_record(status="?"))
        + "\n"
        + "not json\n",
        encoding="utf-8",
    )
    records = read_records(path)
    next(records)
    with pytest.raises(RecordError) as caught:
        next(records)
    assert caught.value.line == 2 and str(path) in str(caught.value)
    unchecked = read_records(path, validate=False)
    assert [next(unchecked).status, next(unchecked).status] == ["ok", "?"]
    with pytest.raises(RecordError, match="not JSON") as caught:
        next(unchecked)
    assert caught.value.line == 3
