"""End to end: the real `scrapy crawl sources` against pages served on 127.0.0.1."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crawler.ids import stable_id
from schemas import read_records
from tests.conftest import PROJECT_ROOT, CrawlResult, crawl_command, run_crawl
from tests.pageserver import PageServer


def sha16(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@pytest.fixture(scope="module")
def sources_dir(tmp_path_factory: pytest.TempPathFactory, page_server: PageServer) -> Path:
    """A directory holding one sources file of every format, with every kind of entry."""
    u = page_server.url
    root = tmp_path_factory.mktemp("sources")
    # a.yaml is read first (sorted names), so its entries win over later duplicates.
    (root / "a.yaml").write_text(
        f"""\
- id: given-id-article
  url: {u("/article/ai-safety")}
  title: Title from the wiki
  type: web
  tags: [ai, safety]
  published_date: 2024-02-14
- url: {u("/status/404")}
- url: {u("/status/410")}
- url: {u("/status/500")}
- url: {u("/redirect/2?to=/article/gov-report")}
- url: {u("/flaky/e2e")}
- url: {u("/private/secret")}
- url: {u("/pdf/findings")}
- url: {u("/article/ai-safety#section-2")}
- url: http://127.0.0.1:1/refused
- url: ftp://ftp.example.org/pub/file.pdf
- url: file:///etc/passwd
- url: "http://[::1/broken"
- title: an entry without a url
- 42
- [not, a, mapping]
- url: {u("/article/ai-safety")}
  id: duplicate-must-not-win
""",
        encoding="utf-8",
    )
    (root / "b.json").write_text(
        json.dumps(
            [
                {"url": u("/article/reef-paper"), "id": "json-id", "type": "paper"},
                u("/article/blog-post"),
                {"url": u("/status/404"), "note": "duplicate of a.yaml"},
            ]
        ),
        encoding="utf-8",
    )
    (root / "c.jsonl").write_text(
        json.dumps({"url": u("/article/de-stadtbaeume"), "stable_id": "sid_keepThis1"})
        + "\n"
        + "{not json\n"
        + "\n"
        + json.dumps({"url": u("/text")})
        + "\n",
        encoding="utf-8",
    )
    with (root / "d.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["title", "URL", "type"])
        writer.writerow(["Image", u("/image.png"), "other"])
        writer.writerow(["No URL here", "", "web"])
    (root / "e.txt").write_text(
        f"# plain list\n{u('/article/gov-report')}\n\n{u('/empty')}\n", encoding="utf-8"
    )
    (root / "notes.md").write_text("not a sources file, skipped\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def crawl(
    sources_dir: Path, tmp_path_factory: pytest.TempPathFactory, page_server: PageServer
) -> CrawlResult:
    page_server.reset_hits()
    out = tmp_path_factory.mktemp("out") / "night.jsonl"
    result = run_crawl(sources_dir, out)
    assert result.exit_code == 0, result.log[-3000:]
    return result


def test_one_record_per_unique_url(crawl: CrawlResult, page_server: PageServer) -> None:
    urls = [r["url"] for r in crawl.records if r["url"]]
    assert len(urls) == len(set(urls))
    u = page_server.url
    expected = {
        u("/article/ai-safety"),
        u("/status/404"),
        u("/status/410"),
        u("/status/500"),
        u("/redirect/2?to=/article/gov-report"),
        u("/flaky/e2e"),
        u("/private/secret"),
        u("/pdf/findings"),
        u("/article/ai-safety#section-2"),
        "http://127.0.0.1:1/refused",
        "ftp://ftp.example.org/pub/file.pdf",
        "file:///etc/passwd",
        "http://[::1/broken",
        u("/article/reef-paper"),
        u("/article/blog-post"),
        u("/article/de-stadtbaeume"),
        u("/text"),
        u("/image.png"),
        u("/article/gov-report"),
        u("/empty"),
    }
    assert set(urls) == expected
    # entries without a URL still get one record each: yaml (3), jsonl bad line, csv empty url
    assert len([r for r in crawl.records if not r["url"]]) == 5
    assert len(crawl.records) == len(expected) + 5


def test_duplicates_fetched_once_and_first_entry_wins(
    crawl: CrawlResult, page_server: PageServer
) -> None:
    article = crawl.by_url()[page_server.url("/article/ai-safety")]
    assert article["resource_id"] == "given-id-article"
    assert article["source"]["title"] == "Title from the wiki"
    assert crawl.by_url()[page_server.url("/status/404")]["source"] == {}
    # the fragment variant is its own record but the same fetch target
    assert page_server.hits("/status/404") == 1
    assert crawl.manifest["duplicates"] == 2
    assert "ingest/duplicates': 2" in crawl.log


def test_ids(crawl: CrawlResult, page_server: PageServer) -> None:
    by_url = crawl.by_url()
    blog = page_server.url("/article/blog-post")
    assert by_url[blog]["resource_id"] == sha16(blog)
    assert by_url[page_server.url("/article/reef-paper")]["resource_id"] == "json-id"
    assert by_url[page_server.url("/article/de-stadtbaeume")]["stable_id"] == "sid_keepThis1"
    base = by_url[page_server.url("/article/ai-safety")]
    variant = by_url[page_server.url("/article/ai-safety#section-2")]
    assert variant["resource_id"] == sha16(page_server.url("/article/ai-safety#section-2"))
    assert variant["stable_id"] == base["stable_id"] == stable_id(base["canonical_url"])
    assert base["canonical_url"] == page_server.url("/article/ai-safety")


def test_ok_article_fields(crawl: CrawlResult, page_server: PageServer) -> None:
    record = crawl.by_url()[page_server.url("/article/ai-safety")]
    assert record["status"] == "ok" and record["error"] is None
    assert record["http_status"] == 200
    assert record["content_type"] == "html" and record["mime"] == "text/html"
    assert record["title"] == "Independent Labs Report Progress on Evaluating Frontier AI Systems"
    assert record["published_date"] == "2024-02-14"
    assert record["authors"] == ["Priya Raman", "Tomás Ortega"]
    assert record["domain"] == "127.0.0.1"
    assert "A coalition of independent research groups" in record["preview"]
    assert "cookie" not in record["preview"].lower()
    assert record["content_length"] >= len(record["preview"]) > 500
    assert record["content_sha256"] and len(record["content_sha256"]) == 64
    assert record["body_bytes"] > record["content_length"]
    assert record["source"]["tags"] == ["ai", "safety"]
    assert record["source"]["published_date"] == "2024-02-14"  # passed through as written
    assert "text" not in record  # FULL_TEXT is off
    assert record["fetched_at"].endswith("Z")


@pytest.mark.parametrize(
    ("path", "status", "error", "http_status"),
    [
        ("/status/404", "dead", "http_404", 404),
        ("/status/410", "dead", "http_410", 410),
        ("/status/500", "error", "http_500", 500),
        ("/private/secret", "error", "robots", None),
        ("/flaky/e2e", "ok", None, 200),
        ("/empty", "ok", None, 200),
        ("/image.png", "ok", None, 200),
    ],
)
def test_statuses(
    crawl: CrawlResult,
    page_server: PageServer,
    path: str,
    status: str,
    error: str | None,
    http_status: int | None,
) -> None:
    record = crawl.by_url()[page_server.url(path)]
    assert (record["status"], record["error"], record["http_status"]) == (
        status,
        error,
        http_status,
    )
    if error:
        assert record["error_detail"]


def test_refused_and_invalid_entries(crawl: CrawlResult) -> None:
    by_url = crawl.by_url()
    assert by_url["http://127.0.0.1:1/refused"]["error"] == "connection"
    assert by_url["ftp://ftp.example.org/pub/file.pdf"]["error"] == "unsupported_scheme"
    assert by_url["file:///etc/passwd"]["error"] == "unsupported_scheme"
    assert by_url["http://[::1/broken"]["error"] == "invalid_url"
    no_url = [r for r in crawl.records if not r["url"]]
    assert {r["status"] for r in no_url} == {"error"}
    assert {r["error"] for r in no_url} == {"invalid_url"}
    details = " ".join(r["error_detail"] for r in no_url)
    assert "a.yaml:" in details and "c.jsonl:2" in details and "not a mapping" in details
    for record in [*no_url, by_url["ftp://ftp.example.org/pub/file.pdf"]]:
        assert record["final_url"] is None and record["http_status"] is None


def test_redirect_and_content_types(crawl: CrawlResult, page_server: PageServer) -> None:
    by_url = crawl.by_url()
    redirected = by_url[page_server.url("/redirect/2?to=/article/gov-report")]
    assert redirected["status"] == "ok"
    assert redirected["final_url"] == page_server.url("/article/gov-report")
    assert redirected["title"] == (
        "Review Finds Rural Water Systems Need Sustained Maintenance Funding"
    )
    pdf = by_url[page_server.url("/pdf/findings")]
    assert pdf["content_type"] == "pdf" and pdf["title"]
    assert by_url[page_server.url("/text")]["content_type"] == "text"
    image = by_url[page_server.url("/image.png")]
    assert image["content_type"] == "other" and image["preview"] is None


def test_records_validate_and_manifest_matches(crawl: CrawlResult) -> None:
    records = list(read_records(crawl.output))
    assert len(records) == len(crawl.records)
    manifest = crawl.manifest
    assert manifest["records"] == len(crawl.records)
    assert manifest["schema_version"] == "1"
    assert manifest["sha256"] == hashlib.sha256(crawl.output.read_bytes()).hexdigest()
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in crawl.records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if r["error"]:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    assert manifest["by_status"] == statuses
    assert manifest["by_error"] == errors
    assert manifest["started_at"] <= manifest["finished_at"]
    # key order is the schema's
    first = json.loads(crawl.output.read_text(encoding="utf-8").splitlines()[0])
    assert list(first)[:4] == ["schema_version", "resource_id", "stable_id", "url"]
    assert not [p for p in crawl.output.parent.iterdir() if p.name.endswith(".part")]


def test_malformed_yaml_stops_before_crawling(tmp_path: Path, page_server: PageServer) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"- url: {page_server.url('/status/404')}\n- url: [unclosed\n- url: x\n", encoding="utf-8"
    )
    page_server.reset_hits()
    out = tmp_path / "out.jsonl"
    result = run_crawl(bad, out)
    assert result.exit_code == 2
    assert f"{bad}:3" in result.log and "YAML syntax error" in result.log
    assert not out.exists()
    assert page_server.hits("/status/404") == 0


def test_missing_sources_and_csv_without_url_column(tmp_path: Path) -> None:
    result = run_crawl(tmp_path / "nope.yaml", tmp_path / "out.jsonl")
    assert result.exit_code == 2 and "no such file or directory" in result.log
    table = tmp_path / "list.csv"
    table.write_text("link,title\nhttp://127.0.0.1:1/,x\n", encoding="utf-8")
    result = run_crawl(table, tmp_path / "out.jsonl")
    assert result.exit_code == 2 and "no 'url' column" in result.log
    assert not (tmp_path / "out.jsonl").exists()


def test_gzip_output_and_full_text(tmp_path: Path, page_server: PageServer) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(page_server.url("/article/blog-post") + "\n", encoding="utf-8")
    out = tmp_path / "night.jsonl.gz"
    result = run_crawl(listing, out, FULL_TEXT="true", PREVIEW_CHARS="200")
    assert result.exit_code == 0, result.log[-2000:]
    with gzip.open(out, "rt", encoding="utf-8") as f:
        (record,) = [json.loads(line) for line in f]
    assert record["status"] == "ok"
    assert record["text"].startswith(record["preview"])
    assert len(record["preview"]) <= 200 and record["preview_truncated"] is True
    assert record["content_length"] == len(record["text"])
    assert not record["preview"].endswith(" ")
    manifest = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [r.url for r in read_records(out)] == [record["url"]]


def test_unwritable_output_exits_non_zero(tmp_path: Path, page_server: PageServer) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(page_server.url("/article/blog-post") + "\n", encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = run_crawl(listing, blocker / "out.jsonl")  # a directory that is a file
    assert result.exit_code == 3, result.log[-2000:]


def _wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_crawl_publishes_nothing(
    tmp_path: Path, page_server: PageServer, sig: signal.Signals
) -> None:
    listing = tmp_path / "slow.txt"
    listing.write_text(
        page_server.url("/article/reef-paper")
        + "\n"
        + "".join(page_server.url(f"/delay/3?n={i}") + "\n" for i in range(8)),
        encoding="utf-8",
    )
    out = tmp_path / "night.jsonl"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        crawl_command(listing, out, CONCURRENT_REQUESTS="2"),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # wait until the part file holds the first record: the crawl is midway
        assert _wait_for(
            lambda: any(
                p.name.endswith(".part") and p.stat().st_size > 0 for p in tmp_path.iterdir()
            ),
            30,
        )
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not out.exists()
    if sig == signal.SIGTERM:
        assert proc.returncode == 3, stderr[-2000:]
        assert "not read to its end" in stderr or "records written for" in stderr
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    # the next run produces the complete output and clears what the dead run left
    result = run_crawl(listing, out, CONCURRENT_REQUESTS="16")
    assert result.exit_code == 0, result.log[-2000:]
    assert len(result.records) == 9
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_default_output_path_is_under_output(tmp_path: Path, page_server: PageServer) -> None:
    listing = tmp_path / "one.txt"
    listing.write_text(page_server.url("/article/gov-report") + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "sources",
        "-a",
        f"sources={listing}",
        "-s",
        "ALLOW_PRIVATE_ADDRESSES=true",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
    ]
    # run from a scratch copy of the project config so output/ lands in tmp_path
    (tmp_path / "scrapy.cfg").write_text((PROJECT_ROOT / "scrapy.cfg").read_text())
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (produced,) = (tmp_path / "output" / "sources").glob("*.jsonl")
    assert produced.name.endswith("Z.jsonl") and "+" not in produced.name
    assert Path(f"{produced}.manifest.json").exists()


def test_robots_txt_applies_to_every_concurrent_request(tmp_path: Path) -> None:
    # A fresh server: its robots.txt is fetched while all ten requests wait for it.
    with PageServer() as server:
        listing = tmp_path / "private.txt"
        listing.write_text(
            "".join(server.url(f"/private/{i}") + "\n" for i in range(10)), encoding="utf-8"
        )
        # every record is an error on purpose: the run's error-share alarm is off
        result = run_crawl(
            listing, tmp_path / "out.jsonl", MAX_ERROR_SHARE="1", ALARM_MAX_ERROR_SHARE="1"
        )
        assert result.exit_code == 0, result.log[-2000:]
        assert [r["error"] for r in result.records] == ["robots"] * 10
        assert sum(server.hits(f"/private/{i}") for i in range(10)) == 0
