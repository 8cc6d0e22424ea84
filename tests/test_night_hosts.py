"""Hosts of a night: a host that hangs or refuses costs its timeout once, not once per source.

Real crawls (``run_crawl``) against servers on 127.0.0.1 that accept connections and never
answer (all of them, or all but robots.txt), and a port that refuses. Each source still
gets its own record, with the error kind its host earned; the servers count what reached
them. No timing is asserted: the counts of connections say how often the timeout was paid.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.fetch.hosts import HostFailureMiddleware
from tests.conftest import run_crawl
from tests.loopserver import LoopServer
from tests.pageserver import PageServer

SETTINGS = {
    "DOWNLOAD_TIMEOUT": "2",
    "ROBOTSTXT_TIMEOUT": "1",
    "RETRY_TIMES": "1",
    "MAX_ERROR_SHARE": "1",  # every source here fails on purpose
    "ALARM_MAX_ERROR_SHARE": "1",
    "EXTRACT_WORKERS": "0",
}


class HangingServer(LoopServer):
    """Accepts, reads a request, never answers (robots.txt gets a 404 when ``robots_ok``)."""

    def __init__(self, *, robots_ok: bool) -> None:
        super().__init__()
        self.robots_ok = robots_ok
        self.seen: Counter[str] = Counter()  # request path → connections that asked for it

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1")
                self.seen[path] += 1
                if not (self.robots_ok and path == "/robots.txt"):
                    await reader.read()  # hold the connection until the client gives up
                    return
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def pages_seen(self) -> int:
        return sum(n for path, n in self.seen.items() if path != "/robots.txt")


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 that never listens: connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def write_sources(path: Path, urls: list[str]) -> Path:
    path.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    return path


def test_a_hanging_host_costs_its_robots_timeout_once(tmp_path: Path) -> None:
    """Robots.txt hangs: its own retries are all the host costs; no page is asked for."""
    with HangingServer(robots_ok=False) as server:
        urls = [f"http://127.0.0.1:{server.port}/page/{i}" for i in range(5)]
        result = run_crawl(
            write_sources(tmp_path / "s.txt", urls), tmp_path / "out.jsonl", **SETTINGS
        )
    assert result.exit_code == 0, result.log
    assert sorted(r["url"] for r in result.records) == sorted(urls)
    assert {(r["status"], r["error"]) for r in result.records} == {("error", "timeout")}
    assert 1 <= server.seen["/robots.txt"] <= 2  # one request and its one retry
    assert server.pages_seen() == 0
    assert all("earlier in this run" in r["error_detail"] for r in result.records)
    # robots.txt had its own timeout (ROBOTSTXT_TIMEOUT 1 s), not the page's 2 s
    assert "robots.txt took longer than 1.0 seconds" in result.log, result.log
    assert "robots.txt took longer than 2.0 seconds" not in result.log


def test_a_host_hanging_after_robots_costs_one_probe_and_one_confirmation(
    tmp_path: Path,
) -> None:
    """Robots.txt answers, pages hang: a probe with its retry, one confirming URL, then none."""
    with HangingServer(robots_ok=True) as server:
        urls = [f"http://127.0.0.1:{server.port}/page/{i}" for i in range(6)]
        result = run_crawl(
            write_sources(tmp_path / "s.txt", urls), tmp_path / "out.jsonl", **SETTINGS
        )
    assert result.exit_code == 0, result.log
    assert sorted(r["url"] for r in result.records) == sorted(urls)
    assert {(r["status"], r["error"]) for r in result.records} == {("error", "timeout")}
    # the probe (2 attempts) and the confirming request (1): three connections of six sources
    assert 2 <= server.pages_seen() <= 3
    assert len([p for p, n in server.seen.items() if p != "/robots.txt" and n]) == 2
    fast = [r for r in result.records if "earlier in this run" in r["error_detail"]]
    assert len(fast) == len(urls) - 2


def test_a_hanging_host_costs_two_timeouts_not_the_probes_every_attempt(tmp_path: Path) -> None:
    """The probe's first timeout is a strike; the confirming URL's timeout is the second.

    With two retries the probe would take three timeouts one after the other. Its first
    timeout sends the confirming URL (one attempt) beside its second attempt; its third
    attempt waits for the confirmation, which times out and fails the origin, so that
    attempt fails at once: three connections for five sources, the host's cost two
    timeouts.
    """
    with HangingServer(robots_ok=True) as server:
        urls = [f"http://127.0.0.1:{server.port}/page/{i}" for i in range(5)]
        result = run_crawl(
            write_sources(tmp_path / "s.txt", urls),
            tmp_path / "out.jsonl",
            **{**SETTINGS, "RETRY_TIMES": "2"},
        )
    assert result.exit_code == 0, result.log
    assert {(r["status"], r["error"]) for r in result.records} == {("error", "timeout")}
    assert sorted(r["url"] for r in result.records) == sorted(urls)
    # the probe's first two attempts and the confirming one; never the probe's third
    assert server.pages_seen() == 3, server.seen
    assert len([p for p, n in server.seen.items() if p != "/robots.txt" and n]) == 2
    assert "(attempt 1); one more URL will tell" in result.log, result.log
    assert "(1 attempt(s)); its other sources fail fast" in result.log, result.log
    assert "'hosts/failed/timeout': 1," in result.log  # Scrapy's stats dump


def test_a_lone_hanging_source_keeps_its_retries(tmp_path: Path) -> None:
    """A host with one source has no second URL: its probe's retries are not held back."""
    with HangingServer(robots_ok=True) as server:
        url = f"http://127.0.0.1:{server.port}/page/0"
        result = run_crawl(
            write_sources(tmp_path / "s.txt", [url]),
            tmp_path / "out.jsonl",
            **{**SETTINGS, "RETRY_TIMES": "2"},
        )
    assert result.exit_code == 0, result.log
    assert [(r["status"], r["error"]) for r in result.records] == [("error", "timeout")]
    assert server.pages_seen() == 3  # one URL, its three attempts: no verdict on its host
    assert "hosts/failed/timeout" not in result.log


def test_a_refusing_host_is_refused_once(tmp_path: Path, refusing_port: int) -> None:
    urls = [f"http://127.0.0.1:{refusing_port}/page/{i}" for i in range(4)]
    result = run_crawl(write_sources(tmp_path / "s.txt", urls), tmp_path / "out.jsonl", **SETTINGS)
    assert result.exit_code == 0, result.log
    assert {(r["status"], r["error"]) for r in result.records} == {("error", "connection")}
    assert len(result.records) == len(urls)
    assert "its other sources fail fast" in result.log


def test_a_slow_page_does_not_condemn_its_host(tmp_path: Path, page_server: PageServer) -> None:
    """One page times out, the host's others answer: they are fetched, not failed fast."""
    slow = page_server.url("/delay/20")
    urls = [slow] + [page_server.url(f"/article/blog-post?v={i}") for i in range(5)]
    result = run_crawl(write_sources(tmp_path / "s.txt", urls), tmp_path / "out.jsonl", **SETTINGS)
    assert result.exit_code == 0, result.log
    by_url = result.by_url()
    assert by_url[slow]["error"] == "timeout"
    assert "earlier in this run" not in by_url[slow]["error_detail"]
    assert all(by_url[u]["status"] == "ok" for u in urls[1:])


def test_components_can_be_switched_off() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"HOST_FAILURE_MEMORY": False})
    with pytest.raises(NotConfigured):
        HostFailureMiddleware.from_crawler(crawler)


def _throttle_delays(latencies: list[float], concurrency: int = 4) -> list[float]:
    """The delays our throttle sets for a slot whose answers take ``latencies`` seconds."""
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from crawler.fetch.hosts import HostSpeedThrottle

    crawler = get_crawler(
        settings_dict={"AUTOTHROTTLE_ENABLED": True, "AUTOTHROTTLE_TARGET_CONCURRENCY": 2.0}
    )
    throttle = HostSpeedThrottle(crawler)
    throttle.mindelay, throttle.maxdelay = 0.0, 30.0
    slot = Slot(concurrency, 1.0, 0.0)
    request = Request("http://slow.test/", meta={"download_slot": "slow.test"})
    delays = []
    for latency in latencies:
        throttle._key = "slow.test"
        throttle._adjust_delay(slot, latency, Response(request.url, request=request))
        delays.append(slot.delay)
    return delays


def test_a_steady_slow_host_keeps_its_concurrency() -> None:
    """7 s a page, every page: requests every 7/4 s (4 at once), not Scrapy's 7/2 s."""
    assert _throttle_delays([7.0] * 10)[-1] == pytest.approx(7.0 / 4)


def test_a_host_we_slow_down_gets_backed_off() -> None:
    """A host whose answers go from 0.2 s to 2 s as we ask is given more room between requests."""
    delays = _throttle_delays([0.2] * 12 + [2.0] * 10)
    assert delays[11] == pytest.approx(0.2 / 4, rel=0.01)
    # (2.0 - 0.2) / AUTOTHROTTLE_TARGET_CONCURRENCY (2.0) + 0.2 / 4
    assert delays[-1] == pytest.approx(0.95)


def test_a_hosts_first_answer_replaces_the_start_delay() -> None:
    """The 1 s start delay is a guess: a host answering in 0.2 s gets 0.2/4 s at once."""
    delays = _throttle_delays([0.2, 0.2])
    assert delays[0] == pytest.approx(0.2 / 4)
    assert delays[1] == pytest.approx(0.2 / 4)


def test_a_host_whose_name_does_not_resolve_holds_no_source_back(tmp_path: Path) -> None:
    """Its probe ends in a DNS error, which a later middleware rewords: its waiters go on."""
    urls = [f"http://no-such-host.invalid/page/{i}" for i in range(3)]
    result = run_crawl(
        write_sources(tmp_path / "s.txt", urls), tmp_path / "out.jsonl", timeout=300, **SETTINGS
    )
    assert result.exit_code == 0, result.log
    assert sorted(r["url"] for r in result.records) == sorted(urls)
    assert {r["status"] for r in result.records} == {"dead"}  # the name does not exist
    assert "hosts/probe_given_up" not in result.log  # nobody waited for a probe until it gave up
