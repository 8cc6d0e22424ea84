"""How the crawl drives Scrapy's downloader on a night of many hosts.

Real crawls (``run_crawl``) against a server on 127.0.0.1 whose robots.txt and pages take
as long as the test says. :class:`DownloaderSampler`, an extension the crawl loads from
this module, looks at the downloader every few milliseconds from inside the crawl and
writes what it saw; the server logs the order its requests arrived in. No timing is
asserted: what is asserted is where requests were while they waited.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.internet.task import LoopingCall

from crawler.items import ENTRY_META_KEY
from tests.conftest import run_crawl
from tests.loopserver import LoopServer

SETTINGS = {
    "EXTRACT_WORKERS": "0",
    "DOWNLOAD_TIMEOUT": "10",
    "MAX_ERROR_SHARE": "1",
    "ALARM_MAX_ERROR_SHARE": "1",
}


def page(path: str) -> bytes:
    """A small article of its own for each path."""
    words = " ".join(f"{path} says something of its own, sentence {i}." for i in range(30))
    return (
        f"<html><head><title>Page {path}</title></head><body><p>{words}</p></body></html>".encode()
    )


class DownloaderSampler:
    """Test extension: what the downloader holds while hosts wait (``SAMPLER_FILE``)."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.seen: dict[str, int] = {
            "samples": 0,
            "robots_pending": 0,  # samples with a robots.txt on its way
            "pages_waiting_for_robots": 0,  # page requests in the downloader meanwhile
            "probe_out": 0,  # samples with an origin's first page out and unanswered
            "pages_waiting_for_probe": 0,  # that origin's other pages in the downloader
            "largest_body": 0,  # longest response body the engine received
            # sources whose request sat in its slot's queue, which could have sent it
            # but for its delay
            "waited_for_delay": 0,
            "probes_in_slot": 0,  # soft-404 probes seen waiting in a slot's queue
        }
        self.waited: set[str] = set()
        self.probes_in_slot: set[str] = set()
        self.loop = LoopingCall(self.sample)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Off unless ``SAMPLER_FILE`` is set."""
        path = crawler.settings.get("SAMPLER_FILE")
        if not path:
            raise NotConfigured
        ext = cls(crawler, Path(path))
        crawler.signals.connect(ext.opened, signals.spider_opened)
        crawler.signals.connect(ext.closed, signals.spider_closed)
        crawler.signals.connect(ext.received, signals.response_received)
        return ext

    def opened(self) -> None:
        self.loop.start(0.005, now=False)

    def received(self, response: Response, request: Request) -> None:
        self.seen["largest_body"] = max(self.seen["largest_body"], len(response.body))

    def sample(self) -> None:
        engine = self.crawler.engine
        robots = getattr(self.crawler, "robots_middleware", None)
        memory = getattr(self.crawler, "host_failure_memory", None)
        if engine is None or robots is None or memory is None:
            return
        from crawler.fetch.hosts import is_robots_request, origin_of
        from crawler.fetch.middlewares import RobotsState

        active = list(engine.downloader.active)
        self.seen["samples"] += 1
        for slot in engine.downloader.slots.values():
            if slot.queue and len(slot.transferring) < slot.concurrency:
                # the sources' requests, which come through the scheduler (the rot
                # stage's soft-404 probe goes to the downloader directly)
                self.waited.update(r.url for r, _ in slot.queue if ENTRY_META_KEY in r.meta)
            # the rot stage's soft-404 probes, which wait for their turn before the slot
            self.probes_in_slot.update(r.url for r, _ in slot.queue if r.meta.get("rot"))
        self.seen["waited_for_delay"] = len(self.waited)
        self.seen["probes_in_slot"] = len(self.probes_in_slot)
        pages = [r for r in active if not is_robots_request(r)]
        if any(is_robots_request(r) for r in active):
            self.seen["robots_pending"] += 1
            self.seen["pages_waiting_for_robots"] += sum(
                robots.robots_state(r) is not RobotsState.KNOWN for r in pages
            )
        probing = {
            origin
            for origin, probe in memory.probes.items()
            if not probe.done() and not memory.proven.get(origin)
        }
        if probing:
            self.seen["probe_out"] += 1
            self.seen["pages_waiting_for_probe"] += sum(
                origin_of(r) in probing and r.meta.get("hosts_probe") != origin_of(r) for r in pages
            )

    def closed(self) -> None:
        if self.loop.running:
            self.loop.stop()
        self.path.write_text(json.dumps(self.seen), encoding="utf-8")


class SlowServer(LoopServer):
    """HTTP/1.1 on 127.0.0.1: robots.txt after ``robots_delay`` s, pages after ``page_delay`` s.

    ``/big/<n>`` is an HTML page of ``n`` bytes; ``/fail-once/<key>`` answers 500 the first
    time. ``arrivals`` lists the paths in the order their requests arrived.
    """

    def __init__(self, *, robots_delay: float = 0.0, page_delay: float = 0.0) -> None:
        super().__init__()
        self.robots_delay = robots_delay
        self.page_delay = page_delay
        self.arrivals: list[str] = []
        self.failed_once: set[str] = set()
        # (path, paths in flight when it arrived): which requests overlapped
        self.overlaps: list[tuple[str, list[str]]] = []
        self.in_flight: list[str] = []

    def _answer(self, path: str) -> tuple[int, bytes]:
        if path == "/robots.txt":
            return 200, b"User-agent: *\nDisallow: /private/\n"
        if path.startswith("/big/"):
            size = int(path.rsplit("/", 1)[1])
            filler = b"<p>" + b"Filler words of a very long page. " * 30 + b"</p>\n"
            head = b"<html><head><title>Big</title></head><body>"
            return 200, (head + filler * (size // len(filler) + 1))[:size]
        if path.startswith("/fail-once/") and path not in self.failed_once:
            self.failed_once.add(path)
            return 500, b"<html><body>try again</body></html>"
        if path.startswith(("/page/", "/fail-once/", "/private/")):
            return 200, page(path)
        # anything else is missing (the rot stage asks for a made-up path)
        return 404, b"<html><body>Not found</body></html>"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1")
                self.arrivals.append(path)
                self.overlaps.append((path, list(self.in_flight)))
                self.in_flight.append(path)
                delay = self.robots_delay if path == "/robots.txt" else self.page_delay
                try:
                    await asyncio.sleep(delay)
                finally:
                    self.in_flight.remove(path)
                status, body = self._answer(path)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def crawl(tmp_path: Path, urls: list[str], **settings: str) -> tuple[Any, dict[str, int]]:
    sources = tmp_path / "sources.txt"
    sources.write_text("".join(u + "\n" for u in urls), encoding="utf-8")
    sampled = tmp_path / "sampled.json"
    from crawler.settings import EXTENSIONS

    extensions = json.dumps({**EXTENSIONS, "tests.test_night_queue.DownloaderSampler": 900})
    result = run_crawl(
        sources,
        tmp_path / "out.jsonl",
        **{**SETTINGS, "SAMPLER_FILE": str(sampled), "EXTENSIONS": extensions, **settings},
    )
    assert result.exit_code == 0, result.log
    assert sorted(r["url"] for r in result.records) == sorted(urls)
    return result, json.loads(sampled.read_text(encoding="utf-8"))


def test_pages_waiting_for_robots_txt_stay_out_of_the_downloader(tmp_path: Path) -> None:
    """While a host's robots.txt downloads, its pages wait in the scheduler, not in a place."""
    with SlowServer(robots_delay=1.0) as server:
        urls = [server.url(f"/page/{i}") for i in range(8)] + [server.url("/private/x")]
        result, seen = crawl(tmp_path, urls)
    assert seen["robots_pending"] > 0  # the sampler saw the wait
    assert seen["pages_waiting_for_robots"] == 0
    by_url = result.by_url()
    assert by_url[server.url("/private/x")]["error"] == "robots"
    assert all(by_url[u]["status"] == "ok" for u in urls[:-1])
    assert server.arrivals[0] == "/robots.txt"
    assert server.arrivals.count("/robots.txt") == 1


def test_pages_waiting_for_their_hosts_probe_stay_out_of_the_downloader(tmp_path: Path) -> None:
    """Until a host's first page answers, its other pages are not handed to the downloader."""
    with SlowServer(page_delay=1.0) as server:
        urls = [server.url(f"/page/{i}") for i in range(8)]
        result, seen = crawl(tmp_path, urls)
    assert seen["probe_out"] > 0
    assert seen["pages_waiting_for_probe"] == 0
    assert "hosts/probe_waits" not in result.log  # nobody waited inside the middleware
    assert all(r["status"] == "ok" for r in result.records)


def test_a_body_beyond_the_extraction_cap_reaches_the_scraper_cut(tmp_path: Path) -> None:
    """A 3 MB page with a 256 KiB cap: the engine receives its head; the record its full size."""
    cap, size = 256 * 1024, 3_000_000
    with SlowServer() as server:
        urls = [server.url(f"/big/{size}"), server.url("/page/small")]
        result, seen = crawl(tmp_path, urls, EXTRACT_MAX_HTML_BYTES=str(cap))
    assert seen["largest_body"] <= cap
    big = result.by_url()[urls[0]]
    assert big["status"] == "ok"
    assert big["body_bytes"] == size
    assert big["title"] == "Big"
    assert result.by_url()[urls[1]]["body_bytes"] == len(page("/page/small"))


def test_a_retry_goes_before_its_hosts_queued_requests(tmp_path: Path) -> None:
    """One request at a time to the host: the failed page's retry is the next request sent."""
    with SlowServer() as server:
        urls = [server.url("/fail-once/a")] + [server.url(f"/page/{i}") for i in range(6)]
        result, _ = crawl(
            tmp_path,
            urls,
            CONCURRENT_REQUESTS_PER_DOMAIN="1",
            AUTOTHROTTLE_ENABLED="false",
        )
    pages = [p for p in server.arrivals if p != "/robots.txt"]
    first = pages.index("/fail-once/a")
    assert pages[first + 1] == "/fail-once/a", pages
    assert result.by_url()[urls[0]]["status"] == "ok"


def test_pages_waiting_out_their_hosts_delay_stay_out_of_the_downloader(tmp_path: Path) -> None:
    """A host's next request is handed over when its delay has passed, not queued in its slot.

    The slot still enforces the delay; the queue only hands requests over later. The rot
    stage's soft-404 probe, which reaches the downloader without the scheduler, waits for
    its turn (``HostAwarePriorityQueue.turn``) the same way, so no source waits behind it.
    """
    delay = 0.4
    with SlowServer() as server:
        urls = [server.url(f"/page/{i}") for i in range(6)]
        result, seen = crawl(
            tmp_path,
            urls,
            DOWNLOAD_DELAY=str(delay),
            AUTOTHROTTLE_ENABLED="false",
            RANDOMIZE_DOWNLOAD_DELAY="false",
        )
    assert all(r["status"] == "ok" for r in result.records)
    assert seen["samples"] > 0
    assert seen["waited_for_delay"] == 0
    assert seen["probes_in_slot"] == 0
    assert server.arrivals.count("/robots.txt") == 1
    # the soft-404 probe was sent (a made-up path)
    sources = {u.split(f":{server.port}", 1)[1] for u in urls}
    assert any(p not in sources and p != "/robots.txt" for p in server.arrivals)


NAMED = {"TWISTED_DNS_RESOLVER": "bench.nightdns.NightResolver", "ALLOW_PRIVATE_ADDRESSES": "true"}


def named_url(server: SlowServer, host: str, path: str) -> str:
    """``path`` on the server under the name ``<host>.night.test`` (its own downloader slot)."""
    return f"http://{host}.night.test:{server.port}{path}"


def test_a_host_with_most_work_per_place_gets_a_second_place(tmp_path: Path) -> None:
    """A host with seven slow pages left goes beside itself before hosts with one page left.

    Fewest requests in the downloader first would keep it at one place until the small
    hosts are done, and its pages would then be the end of the night.
    """
    with SlowServer(page_delay=0.3) as server:
        urls = [named_url(server, "s", f"/page/s-{i}") for i in range(8)]
        urls += [named_url(server, f"p{k}", f"/page/p{k}-{i}") for k in range(4) for i in range(2)]
        crawl(tmp_path, urls, CONCURRENT_REQUESTS="2", CONCURRENT_REQUESTS_PER_DOMAIN="2", **NAMED)
    sources = {u.split(f":{server.port}", 1)[1] for u in urls}
    pages = [(p, flying) for p, flying in server.overlaps if p in sources]
    last_small = max(i for i, (p, _) in enumerate(pages) if p.startswith("/page/p"))
    beside_itself = [
        i
        for i, (p, flying) in enumerate(pages)
        if p.startswith("/page/s-") and any(f.startswith("/page/s-") for f in flying)
    ]
    assert beside_itself, pages
    assert beside_itself[0] < last_small, pages


def test_a_soft_404_probe_waits_for_its_turn_outside_the_downloader(tmp_path: Path) -> None:
    """The rot stage's probe, asked within its host's delay, waits out of the downloader.

    It reaches the downloader without the scheduler; sent at once it would sit in its
    host's slot for the rest of the delay, holding one of the ``CONCURRENT_REQUESTS``
    places. It waits for its turn in the scheduler's queue instead, and still goes.
    """
    with SlowServer() as server:
        urls = [server.url(f"/page/{i}") for i in range(3)]
        result, seen = crawl(
            tmp_path,
            urls,
            DOWNLOAD_DELAY="1.5",
            AUTOTHROTTLE_ENABLED="false",
            RANDOMIZE_DOWNLOAD_DELAY="false",
        )
    assert all(r["status"] == "ok" for r in result.records)
    sources = {u.split(f":{server.port}", 1)[1] for u in urls}
    assert any(p not in sources and p != "/robots.txt" for p in server.arrivals)  # probed
    assert seen["probes_in_slot"] == 0
    assert seen["waited_for_delay"] == 0


def _pages_after(server: SlowServer, urls: list[str], path: str, prefix: str) -> int:
    """How many source pages starting with ``prefix`` arrived after ``path``."""
    sources = {u.split(f":{server.port}", 1)[1] for u in urls}
    pages = [p for p in server.arrivals if p in sources]
    return sum(1 for p in pages[pages.index(path) + 1 :] if p.startswith(prefix))


def test_a_host_read_late_is_contacted_in_a_first_contact_place(tmp_path: Path) -> None:
    """A lone host read late in the list is asked at once, not after the busy host's queue.

    Ranked by work alone, the lone host (one page) goes after the busy host's pages
    whose work per place is larger: when it hangs, its timeouts end the night. With one
    place kept for first contacts, its robots.txt and its page go at the next free
    places, while the busy host still has pages to come; without it (0), they do not.
    """
    urls = [f"/page/s-{i}" for i in range(30)]
    settings = dict(
        CONCURRENT_REQUESTS="2", CONCURRENT_REQUESTS_PER_DOMAIN="2", SOURCES_READAHEAD="6",
        **NAMED,
    )  # fmt: skip
    after: dict[str, int] = {}
    for places in ("1", "0"):
        with SlowServer(page_delay=0.2) as server:
            listed = [named_url(server, "s", p) for p in urls] + [
                named_url(server, "late", "/page/late")
            ]
            (tmp_path / places).mkdir()
            result, _ = crawl(
                tmp_path / places, listed, HOST_FIRST_CONTACT_PLACES=places, **settings
            )
            after[places] = _pages_after(server, listed, "/page/late", "/page/s-")
        assert all(r["status"] == "ok" for r in result.records)
    # read when the busy host had six pages queued: with the place, most of them follow
    assert after["1"] >= 3, after
    assert after["0"] < after["1"], after
