"""Meta-refresh redirects read from the head of the page only (crawler/metarefresh.py)."""

from __future__ import annotations

from pathlib import Path

from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.fetch.metarefresh import HEAD_BYTES, HeadMetaRefreshMiddleware
from tests.conftest import run_crawl
from tests.pageserver import PageServer

REFRESH = b'<meta http-equiv="refresh" content="0; url=/moved/here">'
FILLER = b"<p>" + b"filler text " * 1000 + b"</p>"  # about 12 KB


def _middleware() -> HeadMetaRefreshMiddleware:
    return HeadMetaRefreshMiddleware.from_crawler(get_crawler())


def _page(head: bytes, paragraphs: int) -> HtmlResponse:
    body = b"<html><head>" + head + b"</head><body>" + FILLER * paragraphs + b"</body></html>"
    return HtmlResponse("https://site.example/old", body=body, encoding="utf-8")


def test_refresh_in_the_head_of_a_large_page_redirects_without_decoding_it() -> None:
    response = _page(REFRESH, 100)  # 1.2 MB
    outcome = _middleware().process_response(Request(response.url), response)
    assert isinstance(outcome, Request)
    assert outcome.url == "https://site.example/moved/here"
    # the whole body was never decoded (nor is its text kept with the response)
    assert response._cached_ubody is None


def test_refresh_beyond_the_first_characters_is_ignored_as_scrapy_does() -> None:
    late = HtmlResponse(
        "https://site.example/old",
        body=b"<html><head></head><body>" + FILLER * 3 + REFRESH + b"</body></html>",
        encoding="utf-8",
    )
    assert len(late.body) > HEAD_BYTES
    assert _middleware().process_response(Request(late.url), late) is late


def test_small_pages_and_pages_without_refresh_pass_through() -> None:
    plain = _page(b"<title>Plain</title>", 100)
    assert _middleware().process_response(Request(plain.url), plain) is plain
    small = _page(REFRESH, 0)
    outcome = _middleware().process_response(Request(small.url), small)
    assert isinstance(outcome, Request) and outcome.url.endswith("/moved/here")


def test_crawl_follows_meta_refresh(tmp_path: Path, page_server: PageServer) -> None:
    source = page_server.url("/meta-refresh?to=/article/gov-report")
    sources = tmp_path / "sources.txt"
    sources.write_text(source + "\n", encoding="utf-8")
    result = run_crawl(sources, tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.log[-3000:]
    (record,) = result.records
    assert record["url"] == source and record["status"] == "ok"
    assert record["final_url"] == page_server.url("/article/gov-report")
    assert record["title"] == "Review Finds Rural Water Systems Need Sustained Maintenance Funding"
