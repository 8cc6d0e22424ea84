"""Incremental runs honour the night's extraction settings: other settings, extraction again."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from crawler.incremental.store import read_all
from tests.conftest import run_crawl
from tests.test_incremental import LM, ChangingSite, Page, article, site

__all__ = ["site"]  # the fixture, shared with tests/test_incremental.py


def _pages() -> dict[str, Page]:
    return {
        "/etag": Page(body=article("Etag page", "alpha beta"), etag='"e1"'),
        "/lastmod": Page(body=article("Lastmod page", "gamma delta"), last_modified=LM),
        "/plain": Page(body=article("Plain page", "epsilon zeta")),
    }


def test_night_with_full_text_extracts_carried_sources_again(
    tmp_path: Path, site: ChangingSite
) -> None:
    site.pages = _pages()
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(site.url(p) for p in site.pages) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    first = run_crawl(listing, out / "night1.jsonl")
    assert first.exit_code == 0, first.log[-3000:]
    assert all(r["status"] == "ok" and r.get("text") is None for r in first.records)

    # Night 2 asks for full text: no page may be answered from night 1's records.
    site.conditional.clear()
    bodies = dict(site.body_bytes)
    second = run_crawl(listing, out / "night2.jsonl", FULL_TEXT="true")
    assert second.exit_code == 0, second.log[-3000:]
    assert len(second.records) == 3
    for record in second.records:
        assert record["status"] == "ok"
        assert record["text"] and record["text"].startswith(record["preview"][:50])
        assert record["changed"] is False  # same content, only extracted again
    assert site.conditional == {}, "validators sent for records made with other settings"
    for path in site.pages:
        assert site.body_bytes[path] > bodies[path], f"{path} was not fetched again"

    # Night 3, same settings as night 2: carried forward without a request, text included.
    hits = dict(site.hits)
    third = run_crawl(listing, out / "night3.jsonl", FULL_TEXT="true", REFETCH_AFTER_DAYS="1")
    assert third.exit_code == 0, third.log[-3000:]
    assert all(r["text"] and r["changed"] is False for r in third.records)
    assert dict(site.hits) == hits, "a source made with the same settings was fetched again"

    # Night 4 changes the preview length under REFETCH_AFTER_DAYS: fetched, not carried.
    fourth = run_crawl(
        listing, out / "night4.jsonl", FULL_TEXT="true", PREVIEW_CHARS="100", REFETCH_AFTER_DAYS="1"
    )
    assert fourth.exit_code == 0, fourth.log[-3000:]
    for path in site.pages:
        assert site.hits[path] == hits[path] + 1, f"{path} was carried without a request"
    assert all(len(r["preview"]) <= 100 for r in fourth.records)


def test_state_written_before_fingerprints_is_extracted_again(
    tmp_path: Path, site: ChangingSite
) -> None:
    site.pages = _pages()
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(site.url(p) for p in site.pages) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    first = run_crawl(listing, out / "night1.jsonl")
    assert first.exit_code == 0, first.log[-3000:]
    # The state as the previous version wrote it: no extraction column.
    state = out / "state.sqlite"
    old = tmp_path / "old.sqlite"
    shutil.copy(state, old)
    with sqlite3.connect(old) as db:
        db.execute("ALTER TABLE sources DROP COLUMN extraction")
    shutil.copy(old, state)
    assert {s.extraction for s in read_all(state).values()} == {None}
    site.conditional.clear()
    second = run_crawl(listing, out / "night2.jsonl", REFETCH_AFTER_DAYS="1")
    assert second.exit_code == 0, second.log[-3000:]
    assert site.conditional == {} and all(site.hits[p] == 2 for p in site.pages)
    assert len({s.extraction for s in read_all(state).values()}) == 1
    assert None not in {s.extraction for s in read_all(state).values()}
