"""Source URLs: bad hosts refused, paths and queries encoded as browsers do, long URLs kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.fetch.urls import Refusal, Target, fetchable_url, host_problem
from tests.conftest import run_crawl
from tests.pageserver import PageServer


@pytest.mark.parametrize(
    "url",
    [
        "http://exa mple.com/x",
        "http://exa mple .com/bad url",
        "http://ex<a>.com/",
        "http://exa|mple.com/",
        "http://ex%20ample.com/",  # percent-decoded first, as the WHATWG rules do
        "http://exa^mple.com/",
        "http://[::zz]/",
        "http://999.1.1.1/",  # ends in a number: an IPv4 address, and not a valid one
        "http://1.2.3.4.5/",
        "http://a.0x/",  # "0x" is the number 0 to the WHATWG parser
    ],
)
def test_invalid_hosts_are_invalid_url(url: str) -> None:
    result = fetchable_url(url)
    assert isinstance(result, Refusal) and result.kind == "invalid_url"
    assert "host" in result.detail or "address" in result.detail


@pytest.mark.parametrize(
    ("url", "requested"),
    [
        ("http://example.com/a b?q=c d", "http://example.com/a%20b?q=c%20d"),
        ("http://example.com/a\tb", "http://example.com/ab"),  # tabs are removed
        ('http://example.com/<x>?"y"', "http://example.com/%3Cx%3E?%22y%22"),
        ("http://münchen.de/straße", "http://xn--mnchen-3ya.de/stra%C3%9Fe"),
        ("http://a_b.example.com/", "http://a_b.example.com/"),
        ("http://[::1]:8080/a b", "http://[::1]:8080/a%20b"),
    ],
)
def test_paths_and_queries_are_encoded(url: str, requested: str) -> None:
    assert fetchable_url(url) == Target(requested)


def test_length_limit_counts_the_encoded_url() -> None:
    url = "http://example.com/" + "é" * 100  # 100 characters, 600 once encoded
    assert isinstance(fetchable_url(url, 1000), Target)
    refused = fetchable_url(url, 500)
    assert isinstance(refused, Refusal) and refused.kind == "invalid_url"
    assert "619 characters" in refused.detail and "URLLENGTH_LIMIT" in refused.detail


def test_host_problem_accepts_ordinary_hosts() -> None:
    ordinary = ("example.com", "127.0.0.1", "127.1", "0x7f.0.0.1", "example.com.", "1example.com")
    for host in (*ordinary, "xn--mnchen-3ya.de", "::1", "fe80::1%eth0", "4.3"):
        assert host_problem(host) is None, host


def test_crawl_keeps_one_record_per_entry_whatever_the_url(
    tmp_path: Path, page_server: PageServer
) -> None:
    long_ok = page_server.url("/article/blog-post?pad=" + "x" * 5000)
    too_long = page_server.url("/article/blog-post?pad=" + "y" * 40000)
    spaced = page_server.url("/a b?q=c d")
    spaced_query = page_server.url("/article/reef-paper?q=c d&who=ünïcode")
    bad_host = "http://exa mple.com/x"
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "\n".join([long_ok, too_long, spaced, spaced_query, bad_host]) + "\n", encoding="utf-8"
    )
    page_server.reset_hits()
    result = run_crawl(listing, tmp_path / "night.jsonl")
    assert result.exit_code == 0, result.log[-3000:]
    records = result.by_url()
    assert len(result.records) == 5 and set(records) == {
        long_ok,
        too_long,
        spaced,
        spaced_query,
        bad_host,
    }
    assert records[long_ok]["status"] == "ok" and records[long_ok]["http_status"] == 200
    assert (records[too_long]["status"], records[too_long]["error"]) == ("error", "invalid_url")
    assert "URLLENGTH_LIMIT" in records[too_long]["error_detail"]
    assert (records[bad_host]["status"], records[bad_host]["error"]) == ("error", "invalid_url")
    assert "space" in records[bad_host]["error_detail"]
    assert records[spaced]["http_status"] == 404  # fetched: the server has no such page
    assert page_server.hits("/a%20b") == 1
    assert records[spaced_query]["status"] == "ok"
    assert records[spaced_query]["final_url"].endswith("?q=c%20d&who=%C3%BCn%C3%AFcode")
    assert "Traceback" not in result.log
