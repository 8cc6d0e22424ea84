"""Hostile web: every fault gives exactly one correct record, and the address guard holds.

Two page servers: the one on 127.0.0.1 is let through with
``ALLOWED_NETWORKS=127.0.0.1/32``; the one on 127.0.0.2 stands for the
internal network and must never see a request, whether a source names it,
a redirect leads there, or a host name resolves to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.fetch.guard import AddressPolicy, is_ip_literal
from crawler.fetch.middlewares import retry_after_seconds
from tests.conftest import CrawlResult, run_crawl
from tests.pageserver import PageServer

GUARDED = {
    "ALLOW_PRIVATE_ADDRESSES": "false",
    "ALLOWED_NETWORKS": "127.0.0.1/32",
    "TWISTED_DNS_RESOLVER": "tests.dnsfixture.LoopbackResolver",
    "DOWNLOAD_TIMEOUT": "3",
    "DOWNLOAD_MAXSIZE": str(5 * 1024 * 1024),
    "DOWNLOAD_WARNSIZE": "0",
    "RETRY_AFTER_MAX": "5",
    "REDIRECT_MAX_TIMES": "5",
    # most of these sources fail on purpose: no share of errors fails the run here
    "MAX_ERROR_SHARE": "1",
    "ALARM_MAX_ERROR_SHARE": "1",
}


@pytest.fixture(scope="module")
def internal_server() -> Iterator[PageServer]:
    """The server the guard must keep the crawler away from."""
    with PageServer(host="127.0.0.2") as server:
        yield server


def expectations(pages: PageServer, internal: PageServer) -> dict[str, tuple[str, str | None]]:
    """Source URL -> (status, error) for the guarded crawl."""
    u = pages.url
    port = pages.port
    return {
        u("/status/404"): ("dead", "http_404"),
        u("/status/410"): ("dead", "http_410"),
        u("/busy/a?status=429&after=1"): ("ok", None),
        u("/busy/b?status=503&after=1"): ("ok", None),
        u("/retry-after/3600"): ("error", "http_503"),
        u("/status/429"): ("error", "http_429"),
        u("/status/500"): ("error", "http_500"),
        u("/flaky/faults"): ("ok", None),
        "http://127.0.0.1:1/refused": ("error", "connection"),
        u("/reset"): ("error", "connection"),
        u("/drop"): ("error", "connection"),
        u("/lying-type"): ("ok", None),
        u("/binary-html"): ("ok", None),
        u("/empty"): ("ok", None),
        u("/invalid-utf8"): ("ok", None),
        u("/latin1"): ("ok", None),
        u("/not-html"): ("ok", None),
        u("/gzip-corrupt"): ("error", "decoding"),
        u("/gzip-bomb/64"): ("error", "too_large"),
        u("/big/8192"): ("error", "too_large"),
        u("/trickle"): ("error", "timeout"),
        u("/delay/20"): ("error", "timeout"),
        u("/huge-header"): ("error", "connection"),
        u("/redirect-loop"): ("error", "too_many_redirects"),
        u("/echo/a page with spaces/ünïcödé?q=naïve"): ("ok", None),
        f"http://bücher.test:{port}/article/gov-report": ("ok", None),
        f"http://nowhere.test:{port}/article/gov-report": ("dead", "dns"),
        f"http://user:s3cr3t-pw@127.0.0.1:{port}/article/blog-post": ("ok", None),
        # the internal network: directly, by redirect, by name, and other ranges
        internal.url("/article/ai-safety"): ("error", "blocked_address"),
        u(f"/redirect-to?url={internal.url('/article/reef-paper')}"): (
            "error",
            "blocked_address",
        ),
        f"http://rebind.test:{internal.port}/article/blog-post": ("error", "blocked_address"),
        u(f"/redirect-to?url=http://rebind.test:{internal.port}/x"): (
            "error",
            "blocked_address",
        ),
        "http://169.254.169.254/latest/meta-data/": ("error", "blocked_address"),
        "http://10.0.0.1/": ("error", "blocked_address"),
        f"http://[::1]:{port}/article/ai-safety": ("error", "blocked_address"),
        u("/redirect-to?url=ftp://ftp.example.org/file"): ("error", "unsupported_scheme"),
    }


@pytest.fixture(scope="module")
def guarded_crawl(
    tmp_path_factory: pytest.TempPathFactory, page_server: PageServer, internal_server: PageServer
) -> CrawlResult:
    internal_server.reset_hits()
    root = tmp_path_factory.mktemp("faults")
    listing = root / "faults.txt"
    listing.write_text("\n".join(expectations(page_server, internal_server)) + "\n", "utf-8")
    hosts = {"xn--bcher-kva.test": "127.0.0.1", "rebind.test": "127.0.0.2"}
    result = run_crawl(
        listing,
        root / "out.jsonl",
        timeout=180,
        **GUARDED,
        TEST_DNS_HOSTS=json.dumps(hosts),
        CONCURRENT_REQUESTS="64",
    )
    assert result.exit_code == 0, result.log[-3000:]
    return result


def test_every_fault_gives_one_correct_record(
    guarded_crawl: CrawlResult, page_server: PageServer, internal_server: PageServer
) -> None:
    expected = expectations(page_server, internal_server)
    got = {r["url"]: (r["status"], r["error"]) for r in guarded_crawl.records}
    assert len(guarded_crawl.records) == len(expected)
    expected = {url.replace("user:s3cr3t-pw@", ""): outcome for url, outcome in expected.items()}
    mismatches = {
        url: (got.get(url), want) for url, want in expected.items() if got.get(url) != want
    }
    assert not mismatches


def test_internal_server_never_contacted(
    guarded_crawl: CrawlResult, internal_server: PageServer
) -> None:
    assert sum(internal_server.all_hits().values()) == 0


def test_secrets_stay_out_of_logs_and_records(guarded_crawl: CrawlResult) -> None:
    assert "s3cr3t-pw" not in guarded_crawl.log
    assert "s3cr3t-pw" not in guarded_crawl.output.read_text(encoding="utf-8")


def test_decoded_text_is_clean(guarded_crawl: CrawlResult, page_server: PageServer) -> None:
    by_url = guarded_crawl.by_url()
    latin1 = by_url[page_server.url("/latin1")]
    assert "crème brûlée" in (latin1["preview"] or "") + (latin1["title"] or "")
    invalid = by_url[page_server.url("/invalid-utf8")]
    assert invalid["preview"] and "\ufffd" not in invalid["preview"]
    binary = by_url[page_server.url("/binary-html")]
    assert binary["content_type"] == "other" and binary["preview"] is None
    assert by_url[page_server.url("/empty")]["preview"] is None
    idn = by_url[f"http://bücher.test:{page_server.port}/article/gov-report"]
    assert idn["domain"] == "xn--bcher-kva.test" and idn["title"]
    echo = by_url[page_server.url("/echo/a page with spaces/ünïcödé?q=naïve")]
    assert "ünïcödé" in (echo["title"] or "")


def test_retry_after_was_honoured(guarded_crawl: CrawlResult, page_server: PageServer) -> None:
    # one refusal with Retry-After, one retry that succeeded
    assert page_server.hits("/busy/a") == 2
    assert page_server.hits("/busy/b") == 2
    # asked to wait an hour: not retried this run
    assert page_server.hits("/retry-after/3600") == 1


def test_default_settings_block_loopback(tmp_path: Path) -> None:
    with PageServer() as server:
        listing = tmp_path / "one.txt"
        listing.write_text(server.url("/article/ai-safety") + "\n", encoding="utf-8")
        result = run_crawl(
            listing,
            tmp_path / "out.jsonl",
            ALLOW_PRIVATE_ADDRESSES="false",
            MAX_ERROR_SHARE="1",
            ALARM_MAX_ERROR_SHARE="1",
        )
        assert result.exit_code == 0, result.log[-2000:]
        (record,) = result.records
        assert (record["status"], record["error"]) == ("error", "blocked_address")
        assert sum(server.all_hits().values()) == 0  # robots.txt was not fetched either


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("172.31.255.255", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata service
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("fd12:3456::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:169.254.169.254", True),
        ("ff02::1", True),
        ("::", True),
        ("93.184.215.14", False),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_policy_decision(address: str, blocked: bool) -> None:
    assert (AddressPolicy().refusal(address) is not None) is blocked
    assert AddressPolicy(allow_private=True).refusal(address) is None


def test_allowlist_opens_exactly_its_ranges() -> None:
    policy = AddressPolicy.from_settings(False, ["10.20.0.0/16", "fd00::/8", ""])
    assert policy.refusal("10.20.5.5") is None
    assert policy.refusal("10.21.0.1") is not None
    assert policy.refusal("fd00::5") is None
    assert policy.refusal("169.254.169.254") is not None
    with pytest.raises(ValueError, match="not a network"):
        AddressPolicy.from_settings(False, ["10.0.0.0/33"])


def test_ip_literal_detection() -> None:
    assert is_ip_literal("127.0.0.1") and is_ip_literal("[::1]") and is_ip_literal("::1")
    assert not is_ip_literal("localhost") and not is_ip_literal("example.com")


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
