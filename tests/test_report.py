"""The nightly report, computed from crafted output files of several nights."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from crawler.watch.alarms import Thresholds
from crawler.watch.report import build_report, render, write_report
from crawler.watch.report.__main__ import main as report_main
from crawler.watch.report.model import find_outputs, report_of

LONG = "word " * 120  # 600 characters: a preview that counts as text


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record(rid: str, status: str = "ok", **fields: Any) -> dict[str, Any]:
    """A schema-shaped record; ok records have every field unless overridden."""
    domain = fields.pop("domain", "site.example")
    url = fields.pop("url", f"https://{domain}/{rid}")
    ok = status == "ok"
    base: dict[str, Any] = {
        "schema_version": "1",
        "resource_id": rid,
        "stable_id": f"sid_{rid:0>10}"[:14],
        "url": url,
        "canonical_url": url.removeprefix("https://"),
        "final_url": url,
        "domain": domain,
        "status": status,
        "error": None,
        "error_detail": None,
        "http_status": 200 if ok else None,
        "fetched_at": "2026-11-29T02:00:01Z",
        "content_type": "html" if ok else None,
        "mime": "text/html" if ok else None,
        "title": f"Title {rid}" if ok else None,
        "published_date": "2024-01-02" if ok else None,
        "modified_date": None,
        "authors": ["A. Writer"] if ok else [],
        "site_name": None,
        "language": "en",
        "description": None,
        "preview": LONG if ok else None,
        "preview_truncated": False,
        "content_length": len(LONG) if ok else None,
        "body_bytes": 1000 if ok else None,
        "content_sha256": sha(f"text of {rid}") if ok else None,
        "source": {},
        "publication": None,
    }
    base.update(fields)
    return base


def write_night(
    directory: Path, stamp: str, records: list[dict[str, Any]], *, gz: bool = False
) -> Path:
    """Write an output file and its manifest as a published run would."""
    name = stamp.replace(":", "-") + (".jsonl.gz" if gz else ".jsonl")
    path = directory / name
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    manifest = {
        "schema_version": "1",
        "output": str(path),
        "records": len(records),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
        "started_at": stamp,
        "finished_at": stamp.replace("02:00:00", "02:10:00"),
        "by_status": by_status,
        "by_error": {},
        "entries": len(records),
        "duplicates": 0,
        "sources": "wiki/resources/",
    }
    Path(f"{path}.manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def craft_nights(directory: Path) -> list[Path]:
    """Three nights; the last ("tonight") differs from the second in every way the report shows."""
    bad = {"domain": "bad.example"}
    night1 = [record(x) for x in "abcdfg"]
    night2 = [
        record("a"),
        record("b"),
        record("c"),
        record("d", "error", error="timeout", error_detail="timed out"),
        record("f"),
        record("g", "dead", error="http_404", http_status=404),
        record("h", "ok", **bad),
        record("i", "ok", **bad),
    ]
    tonight = [
        record("a"),  # unchanged
        record("b", content_sha256=sha("new text of b")),  # content changed
        record("c", "dead", error="http_404", http_status=404, error_detail="Not Found"),
        record("d", title=None, authors=[]),  # recovered; no title, no authors
        record("e", published_date=None, preview="short"),  # new source
        # f is no longer listed
        record("g", "dead", error="http_410", http_status=410),  # was dead already
        record("h", "error", error="connection", error_detail="refused <b>x</b>", **bad),
        record("i", "error", error="http_503", http_status=503, **bad),
        record("j", "paywall", http_status=402, domain="news.example"),
        record("k", "error", error="invalid_url", url="", domain=None, canonical_url=None),
    ]
    return [
        write_night(directory, "2026-11-27T02:00:00Z", night1, gz=True),
        write_night(directory, "2026-11-28T02:00:00Z", night2),
        write_night(directory, "2026-11-29T02:00:00Z", tonight),
    ]


THRESHOLDS = Thresholds(
    max_error_share=0.25,
    min_coverage={"title": 0.8, "published_date": 0.5, "authors": None, "preview": 0.5},
    min_records=0,
)


@pytest.fixture
def nights(tmp_path: Path) -> list[Path]:
    paths = craft_nights(tmp_path)
    # tonight's download timings, as the extension keeps them
    Path(f"{paths[-1]}.timings.json").write_text(
        json.dumps(
            {
                "domains": {
                    "site.example": {"responses": 4, "latency_total": 2.0, "latency_max": 0.9},
                    "news.example": {"responses": 1, "latency_total": 3.5, "latency_max": 3.5},
                }
            }
        ),
        encoding="utf-8",
    )
    return paths


def ids(changes: list[Any]) -> list[str]:
    return sorted(c.resource_id for c in changes)


def test_outputs_are_ordered_by_start_and_need_a_manifest(nights: list[Path]) -> None:
    stray = nights[0].parent / "notes.jsonl"  # no manifest: not a night
    stray.write_text("{}\n", encoding="utf-8")
    assert find_outputs(nights[0].parent) == nights


def test_report_figures(nights: list[Path]) -> None:
    report = build_report(nights[-1], thresholds=THRESHOLDS)
    tonight = report.tonight
    assert tonight.counts.records == 10
    assert dict(tonight.by_status) == {"ok": 4, "dead": 2, "error": 3, "paywall": 1}
    assert dict(tonight.by_error) == {
        "http_404": 1,
        "http_410": 1,
        "connection": 1,
        "http_503": 1,
        "invalid_url": 1,
    }

    changes = report.changes
    assert changes is not None and changes.previous.path == nights[1]
    assert ids(changes.new) == ["e", "j", "k"]
    assert ids(changes.removed) == ["f"]
    assert ids(changes.newly_dead) == ["c"]
    assert ids(changes.recovered) == ["d"]
    assert ids(changes.content_changed) == ["b"]

    top = report.failure_domains[0]
    assert (top.domain, top.failing, top.total) == ("bad.example", 2, 2)
    assert dict(top.kinds) == {"connection": 1, "http_503": 1}
    assert {d.domain: d.failing for d in report.failure_domains} == {
        "bad.example": 2,
        "site.example": 2,
        "news.example": 1,
        "(no domain)": 1,
    }

    assert report.timings_available
    assert [s.domain for s in report.slow_domains] == ["news.example", "site.example"]
    assert report.slow_domains[1].mean_latency == pytest.approx(0.5)

    # coverage among the 4 ok records (a, b, d, e)
    assert tonight.counts.ok == 4
    assert tonight.counts.coverage("title") == 0.75
    assert tonight.counts.coverage("published_date") == 0.75
    assert tonight.counts.coverage("authors") == 0.75
    assert tonight.counts.coverage("preview") == 0.75
    assert [n.path for n in report.history] == nights
    assert report.history[1].counts.coverage("title") == 1.0
    assert report.history[0].counts.ok == 6  # the gzipped night is read too

    # error share 3/10 > 25%; title 75% < 80%; date and preview 75% >= 50%; authors off
    assert [a.name for a in report.alarms] == ["error_share", "coverage/title"]
    assert sorted(f.resource_id for f in report.failing) == ["c", "g", "h", "i", "j", "k"]


def metric(page: str, name: str) -> str:
    found = re.search(rf'data-metric="{re.escape(name)}">([^<]*)<', page)
    assert found, name
    return found.group(1)


def test_rendered_page_is_self_contained(nights: list[Path]) -> None:
    page = render(build_report(nights[-1], thresholds=THRESHOLDS))
    assert metric(page, "records") == "10"
    assert metric(page, "status/ok") == "4"
    assert metric(page, "status/error") == "3"
    assert metric(page, "changes/newly_dead") == "1"
    assert metric(page, "changes/content_changed") == "1"
    assert metric(page, "coverage/title") == "75%"
    assert metric(page, "domain-failing/bad.example") == "2"
    assert metric(page, "failing") == "6"
    assert 'data-alarm="coverage/title"' in page
    assert page.count("<svg") == 4
    assert "default-src 'none'" in page
    # nothing that would load from elsewhere; links only to http(s), without referrer
    assert not re.search(r"""src\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    for tag in re.findall(r"<a [^>]*>", page):
        assert re.fullmatch(r'<a href="https?://[^"<>]+" rel="noreferrer noopener">', tag), tag
    # every source is in the data block, which no text of a record can close or escape
    rows = sources_data(page)["rows"]
    assert len(rows) == 10 and metric(page, "sources") == "10"
    assert [r[0] for r in rows].index("ok") == 6  # failing first
    assert any(r[7:] == ["refused <b>x</b>"] for r in rows)
    assert "<b>x</b>" not in page


def sources_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="sources-data">(.*?)</script>', page)
    assert found
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_hostile_records_stay_text(tmp_path: Path) -> None:
    hostile = [
        record("x", "dead", url="javascript:alert(1)", error="unsupported_scheme"),
        record(
            "y",
            title="</script><script>alert(1)</script>",
            url="https://a.example/?q=<x>&y",
            content_sha256=sha("changed"),  # listed under "content changed", as a link
        ),
        record("z", "ok", title="t" * 5000),
    ]
    write_night(tmp_path, "2026-11-28T02:00:00Z", [record("x"), record("y", url=hostile[1]["url"])])
    page = render(build_report(write_night(tmp_path, "2026-11-29T02:00:00Z", hostile)))
    assert "<script>alert" not in page and 'href="javascript' not in page
    assert '<a href="https://a.example/?q=&lt;x&gt;&amp;y" rel="noreferrer noopener">' in page
    rows = {r[6]: r for r in sources_data(page)["rows"]}
    assert rows["https://a.example/?q=<x>&y"][3] == "</script><script>alert(1)</script>"
    assert len(rows["https://site.example/z"][3]) == 300  # titles are cut for the list


def test_small_run_is_not_judged(tmp_path: Path) -> None:
    records = [record(x, "error", error="timeout") for x in "abc"]
    report = build_report(write_night(tmp_path, "2026-11-29T02:00:00Z", records))
    assert not report.judged and report.alarms == []
    page = render(report)
    assert 'data-judged="false"' in page and "Not judged: 3 records" in page
    assert "every threshold holds" not in page
    judged = build_report(
        write_night(tmp_path, "2026-11-30T02:00:00Z", [record(x) for x in "abc"]),
        thresholds=THRESHOLDS,
    )
    assert judged.judged and "every threshold holds" in render(judged)


def test_first_night_has_nothing_to_compare(tmp_path: Path) -> None:
    only = write_night(tmp_path, "2026-11-29T02:00:00Z", [record("a")])
    report = build_report(only)
    assert report.changes is None and report.alarms == []  # 1 record: too few to judge
    assert "No earlier run" in render(report)


def test_write_report_beside_the_output(nights: list[Path]) -> None:
    page, _ = write_report(nights[-1], thresholds=THRESHOLDS)
    assert page == report_of(nights[-1]) == Path(f"{nights[-1]}.report.html")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(page.parent.glob(".*.part"))


def test_command_rebuilds_from_a_directory(
    nights: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_main([str(nights[0].parent), "--min-records", "0"]) == 0
    assert report_of(nights[-1]).is_file()
    assert not report_of(nights[0]).exists()
    assert "alarms: error_share, coverage/title" in capsys.readouterr().out
    assert report_main([str(nights[0].parent), "--all"]) == 0
    assert all(report_of(p).is_file() for p in nights)
    # the second night's page compares with the first only
    second = report_of(nights[1]).read_text(encoding="utf-8")
    assert metric(second, "changes/new") == "2"  # h, i


def test_command_reports_a_missing_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_main([str(tmp_path)]) == 2
    assert "no output files" in capsys.readouterr().err
