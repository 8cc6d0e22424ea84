"""Shell pages rendered in the system Chromium through the real crawl, with the guard holding.

The site is served from 127.0.0.3 and the crawl runs with the guard on and only
127.0.0.3/32 open (``ALLOWED_NETWORKS``): every connection of the browser goes
through the crawl's guarded proxy on 127.0.0.1, and a "blocked" server on
127.0.0.2 counts every request that reaches it (it must see none). Rendered
responses are checked by the address guard against the address the proxy
connected to (127.0.0.3), not against the proxy's own (127.0.0.1, refused).

Without Chromium or scrapy-playwright these tests skip, except under
``CI=true``, where they must run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.render.browser import find_browser
from tests.conftest import CrawlResult, run_crawl

HAVE_BROWSER = (
    importlib.util.find_spec("scrapy_playwright") is not None and find_browser(None) is not None
)
pytestmark = pytest.mark.skipif(
    not HAVE_BROWSER and os.environ.get("CI") != "true",
    reason="scrapy-playwright or the system Chromium is not installed",
)

SITE_HOST = "127.0.0.3"
BLOCKED_HOST = "127.0.0.2"

PARAGRAPHS = [
    "The river authority published its annual survey of the estuary on Tuesday, and the "
    "numbers show that oyster beds have recovered faster than anyone had forecast.",
    "Surveyors counted more than forty thousand young oysters per hectare on the northern "
    "banks, four times the figure recorded five years ago when the restoration began.",
    "The authority credits the recovery to cleaner outflow from the treatment works and to "
    "the shell recycling programme run by restaurants along the harbour front.",
    "Fishermen remain cautious: a single hot summer could undo the gains, they say, and the "
    "southern banks still show little sign of new growth after the dredging of 2019.",
]
API_PARAGRAPHS = [
    "Municipal libraries lent more electric bicycles than hardback novels last winter, "
    "according to figures the city council released under a freedom of information request.",
    "The lending scheme started with twelve bicycles at the central branch and now counts "
    "more than three hundred across nineteen branches in every district of the city.",
    "Librarians say the bicycles bring in readers too: one in five borrowers also took out "
    "a book on the same visit, and new library cards rose by a third in a year.",
]
STATIC_PARAGRAPHS = [
    f"Paragraph {i}: the regional rail operator will run hourly trains on the coastal line "
    "from May, after two years of work on the viaduct and the signalling near the port."
    for i in range(10)
]


def _page(title: str, body: str, head: str = "") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body>{body}</body></html>"
    ).encode()


def _inject(title: str, paragraphs: list[str], root: str = "#root", delay_ms: int = 0) -> str:
    """A script that builds the article the way a single-page app would, into ``root``."""
    build = (
        f"var root=document.querySelector({json.dumps(root)})||document.body;"
        f"document.title={json.dumps(title)};"
        "var a=document.createElement('article');var h=document.createElement('h1');"
        f"h.textContent={json.dumps(title)};a.appendChild(h);"
        f"{json.dumps(paragraphs)}.forEach(function(t){{var p=document.createElement('p');"
        "p.textContent=t;a.appendChild(p);});"
        "if(root!==document.body){root.innerHTML='';}root.appendChild(a);"
    )
    return f"setTimeout(function(){{{build}}},{delay_ms});"


# Shells in the shapes several frameworks ship: (markup, root the app mounts on).
FRAMEWORKS = {
    "react": ('<div id="root"></div>', "#root"),
    "vue": ('<div id="app" data-v-app></div>', "#app"),
    "angular": ('<app-root ng-version="17.3.0"></app-root>', "app-root"),
    "next": (
        '<div id="__next"></div><script id="__NEXT_DATA__" type="application/json">'
        '{"props":{"pageProps":{}},"page":"/"}</script>',
        "#__next",
    ),
    "nuxt": ('<div id="__nuxt"></div>', "#__nuxt"),
    "svelte": ("", "body"),
}


class _Site:
    """The test site's routes; ``hits`` counts requests by path (thread-safe)."""

    def __init__(self, blocked_port: int) -> None:
        self.blocked_port = blocked_port
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _late_delay(self) -> float:
        """For the first fetch of /spa/late: wait until the browser has fetched the other
        shell's script (its render is under way), then 4 s more, so that the browser has
        been idle for longer than the test's RENDER_IDLE_CLOSE when this shell arrives."""
        if self.hits["/spa/late"] > 1:
            return 0.0
        seen = self.hits["/spa/article.js"]  # other crawls of this module fetched it too
        deadline = time.monotonic() + 90
        while self.hits["/spa/article.js"] <= seen and time.monotonic() < deadline:
            time.sleep(0.1)
        return 4.0

    def route(self, path: str) -> tuple[int, str, bytes, float]:
        blocked = f"http://{BLOCKED_HOST}:{self.blocked_port}"
        shell = '<div id="root"><p class="loading">Loading…</p></div>'
        routes: dict[str, tuple[str, bytes]] = {
            "/spa/article": (
                "text/html",
                _page("Estuary", shell + '<script src="/spa/article.js"></script>'),
            ),
            "/spa/article.js": (
                "application/javascript",
                _inject("Oyster beds recover in the estuary", PARAGRAPHS).encode(),
            ),
            "/spa/api-page": (
                "text/html",
                _page(
                    "Library",
                    '<div id="app"></div><noscript>You need to enable JavaScript to run this '
                    'app.</noscript><script src="/spa/api-page.js"></script>',
                ),
            ),
            "/spa/api-page.js": (
                "application/javascript",
                (
                    b"fetch('/api/story.json').then(function(r){return r.json();})"
                    b".then(function(s){document.title=s.title;"
                    b"var a=document.createElement('article');"
                    b"var h=document.createElement('h1');h.textContent=s.title;a.appendChild(h);"
                    b"s.paragraphs.forEach(function(t){var p=document.createElement('p');"
                    b"p.textContent=t;a.appendChild(p);});"
                    b"document.getElementById('app').appendChild(a);});"
                ),
            ),
            "/api/story.json": (
                "application/json",
                json.dumps(
                    {"title": "Libraries lend e-bikes", "paragraphs": API_PARAGRAPHS}
                ).encode(),
            ),
            # a timer that fires after the network has fallen quiet starts a slow fetch:
            # the page is settled only once that fetch has filled it
            "/spa/timer-fetch": (
                "text/html",
                _page(
                    "Timer and fetch",
                    '<div id="app"></div><script>setTimeout(function(){'
                    "fetch('/api/slow-story.json').then(function(r){return r.json();})"
                    ".then(function(s){var a=document.createElement('article');"
                    "s.paragraphs.forEach(function(t){var p=document.createElement('p');"
                    "p.textContent=t;a.appendChild(p);});"
                    "document.getElementById('app').appendChild(a);});},1000);</script>",
                ),
            ),
            # a shell whose app cannot load: nothing is left that could fill it
            "/spa/broken": (
                "text/html",
                _page("Broken", '<div id="root"></div><script src="/spa/missing.js"></script>'),
            ),
            "/spa/blocked": (
                "text/html",
                _page(
                    "Leaky",
                    shell
                    + f'<script src="{blocked}/evil.js"></script>'
                    + '<script src="/spa/article.js"></script>'
                    + "<script>"
                    + f"fetch('{blocked}/xhr').catch(function(){{}});"
                    + "fetch('http://169.254.169.254/latest/meta-data/').catch(function(){});"
                    + f"try{{new WebSocket('ws://{BLOCKED_HOST}:{self.blocked_port}/ws')}}"
                    + "catch(e){}"
                    + f"var i=document.createElement('iframe');i.src='{blocked}/frame';"
                    + "document.body.appendChild(i);"
                    + "</script>",
                ),
            ),
            "/spa/redirect-to-blocked": (
                "text/html",
                _page(
                    "Away",
                    f"<div id=\"root\"></div><script>location.href='{blocked}/landing';</script>",
                ),
            ),
            "/spa/never-settles": (
                "text/html",
                _page(
                    "Busy",
                    shell
                    + '<script src="/spa/article.js"></script>'
                    + "<script>setInterval(function(){fetch('/tick?'+Date.now())},150);"
                    + "</script>",
                ),
            ),
            "/spa/never-loads": (
                "text/html",
                _page("Stuck", shell + '<script src="/slow.js"></script>'),
            ),
            "/static/article": (
                "text/html",
                _page(
                    "Coastal line",
                    "<article><h1>Trains return to the coastal line</h1>"
                    + "".join(f"<p>{p}</p>" for p in STATIC_PARAGRAPHS)
                    + '</article><script src="/static/app.js"></script>',
                ),
            ),
            "/static/app.js": ("application/javascript", b"console.log('hello');"),
        }
        for name, (markup, root) in FRAMEWORKS.items():
            routes[f"/fw/{name}"] = (
                "text/html",
                _page(name, markup + f'<script src="/fw/{name}.js" defer></script>'),
            )
            routes[f"/fw/{name}.js"] = (
                "application/javascript",
                _inject(f"{name.title()} app: oyster beds recover", PARAGRAPHS, root).encode(),
            )
        # an app that loads its chunk's style sheet first and mounts on the sheet's load
        # event (as CSS-extracting bundlers do), beside assets a text never needs
        routes["/spa/styled"] = (
            "text/html",
            _page(
                "Styled",
                '<div id="root"></div><img src="/spa/photo.png">'
                "<script>var l=document.createElement('link');l.rel='stylesheet';"
                "l.href='/spa/chunk.css';l.onload=function(){"
                + _inject("Mounted after its style sheet", PARAGRAPHS)
                + "};document.head.appendChild(l);</script>",
                head='<link rel="stylesheet" href="/spa/static.css">'
                '<link rel="prefetch" href="/spa/later.js"><link rel="icon" href="/spa/icon.png">',
            ),
        )
        routes["/spa/timer"] = (
            "text/html",
            _page(
                "Timer",
                '<div id="root"></div><script>'
                + _inject("Filled by a timer", API_PARAGRAPHS, delay_ms=1500)
                + "</script>",
            ),
        )
        if path == "/spa/late":  # the same shell, whose crawl fetch (the first) comes late
            return 200, "text/html", routes["/spa/article"][1], self._late_delay()
        if path == "/static/slow":  # an ordinary page that keeps the crawl from draining
            return 200, "text/html", routes["/static/article"][1], 6.0
        if path == "/slow.js":
            return 200, "application/javascript", b"", 8.0
        if path == "/api/slow-story.json":
            body = json.dumps({"title": "Slow", "paragraphs": API_PARAGRAPHS}).encode()
            return 200, "application/json", body, 1.2
        if path.startswith("/tick"):
            return 200, "text/plain", b"tick", 0.0
        if path in routes:
            kind, body = routes[path]
            return 200, kind, body, 0.0
        return 404, "text/plain", b"not found", 0.0


def _serve(host: str, site: _Site | None, hits: Counter[str], lock: threading.Lock) -> Any:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0] if not self.path.startswith("/tick") else "/tick"
            with lock:
                hits[path] += 1
            if site is None:
                status, kind, body, delay = 200, "text/plain", b"secret", 0.0
            else:
                status, kind, body, delay = site.route(self.path)
            if delay:
                time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, _Site, Counter[str]]]:
    yield from serve_site()


def serve_site() -> Iterator[tuple[str, _Site, Counter[str]]]:
    """The test site on 127.0.0.3 and the "blocked" server on 127.0.0.2, until closed."""
    blocked_hits: Counter[str] = Counter()
    blocked = _serve(BLOCKED_HOST, None, blocked_hits, threading.Lock())
    site = _Site(blocked.server_address[1])
    server = _serve(SITE_HOST, site, site.hits, site.lock)
    try:
        yield f"http://{SITE_HOST}:{server.server_address[1]}", site, blocked_hits
    finally:
        for each in (server, blocked):
            each.shutdown()
            each.server_close()


PATHS = [
    *(f"/fw/{name}" for name in FRAMEWORKS),
    "/spa/timer",
    "/spa/timer-fetch",
    "/spa/broken",
    "/spa/styled",
    "/spa/article",
    "/spa/api-page",
    "/spa/blocked",
    "/spa/redirect-to-blocked",
    "/spa/never-settles",
    "/spa/never-loads",
    "/static/article",
]
GUARD = {
    "ALLOW_PRIVATE_ADDRESSES": "false",
    "ALLOWED_NETWORKS": f"{SITE_HOST}/32",
    "FULL_TEXT": "true",
    "RENDER_TIMEOUT": "4",
    "ROBOTSTXT_OBEY": "false",
}


def _stats(log: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in re.findall(r"'(render/[^']+)': (\d+)", log):
        found[key] = int(value)
    return found


@pytest.fixture(scope="module")
def crawl(
    servers: tuple[str, _Site, Counter[str]], tmp_path_factory: pytest.TempPathFactory
) -> CrawlResult:
    base, _site, _blocked = servers
    tmp = tmp_path_factory.mktemp("render")
    sources = tmp / "sources.txt"
    sources.write_text("".join(f"{base}{p}\n" for p in PATHS), encoding="utf-8")
    return run_crawl(sources, tmp / "out.jsonl", timeout=240, **GUARD)


def _record(crawl: CrawlResult, base: str, path: str) -> dict[str, Any]:
    return crawl.by_url()[f"{base}{path}"]


def test_every_source_has_exactly_one_record(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    base = servers[0]
    assert crawl.exit_code == 0, crawl.log[-3000:]
    assert sorted(r["url"] for r in crawl.records) == sorted(f"{base}{p}" for p in PATHS)


def test_script_injected_article_is_rendered_and_extracted(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    record = _record(crawl, servers[0], "/spa/article")
    assert record["status"] == "ok"
    assert record["rendered"] is True
    assert record["title"] == "Oyster beds recover in the estuary"
    for paragraph in PARAGRAPHS:
        assert paragraph in record["text"]
    assert "Loading" not in record["text"]


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_framework_shells_are_rendered(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]], name: str
) -> None:
    record = _record(crawl, servers[0], f"/fw/{name}")
    assert record["rendered"] is True
    assert record["title"] == f"{name.title()} app: oyster beds recover"
    for paragraph in PARAGRAPHS:
        assert paragraph in record["text"]


def test_text_filled_by_a_timer_after_the_network_is_quiet(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    record = _record(crawl, servers[0], "/spa/timer")
    assert record["rendered"] is True
    for paragraph in API_PARAGRAPHS:
        assert paragraph in record["text"]


def test_a_request_started_by_a_late_timer_is_waited_for(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    """The text is quiet and no timer is left while the timer's fetch is on the wire: the
    request in flight keeps the page from counting as settled."""
    base, site, _blocked = servers
    record = _record(crawl, base, "/spa/timer-fetch")
    assert record["rendered"] is True
    assert site.hits["/api/slow-story.json"] >= 1
    for paragraph in API_PARAGRAPHS:
        assert paragraph in record["text"]


def test_a_shell_with_nothing_pending_settles_without_the_long_wait(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    """An empty page with no request in flight and no short timer to fire is taken once
    its text has been quiet for SETTLE_QUIET_MS, not SETTLE_MAX_QUIET_MS."""
    record = _record(crawl, servers[0], "/spa/broken")
    assert record["rendered"] is True
    stats = _stats(crawl.log)
    assert stats.get("render/settled/nothing_pending", 0) >= 1
    # the timer pages wait: each has text by the time it settles
    assert stats.get("render/settled/text", 0) >= 2


def test_what_a_text_never_needs_is_not_fetched(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    """Style sheets are answered empty (an app waiting for one still mounts); images,
    prefetches and icons are not loaded at all: none of them reaches the server."""
    base, site, _blocked = servers
    record = _record(crawl, base, "/spa/styled")
    assert record["rendered"] is True
    for paragraph in PARAGRAPHS:
        assert paragraph in record["text"]
    assert site.hits["/spa/styled"] >= 1
    for asset in ("/spa/static.css", "/spa/chunk.css", "/spa/photo.png", "/spa/later.js"):
        assert site.hits[asset] == 0, asset
    assert site.hits["/spa/icon.png"] == 0


def test_text_fetched_from_an_api_is_rendered(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    base, site, _ = servers
    record = _record(crawl, base, "/spa/api-page")
    assert record["rendered"] is True
    assert record["title"] == "Libraries lend e-bikes"
    for paragraph in API_PARAGRAPHS:
        assert paragraph in record["text"]
    assert site.hits["/api/story.json"] == 1


def test_blocked_addresses_are_never_reached(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    base, _site, blocked_hits = servers
    assert sum(blocked_hits.values()) == 0, blocked_hits
    record = _record(crawl, base, "/spa/blocked")
    # the page's own script still ran: only the blocked connections failed
    assert record["rendered"] is True
    assert PARAGRAPHS[0] in record["text"]
    assert _stats(crawl.log).get("render/proxy_refused", 0) >= 1


def test_a_page_sent_to_a_blocked_address_keeps_its_plain_html(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    record = _record(crawl, servers[0], "/spa/redirect-to-blocked")
    assert record["status"] == "ok"
    assert record["rendered"] is False
    assert "refused" not in (record["text"] or "")
    assert _stats(crawl.log).get("render/failed/blocked_address", 0) >= 1


def test_a_page_that_never_settles_is_taken_at_the_deadline(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    record = _record(crawl, servers[0], "/spa/never-settles")
    assert record["status"] == "ok"
    assert record["rendered"] is True
    assert PARAGRAPHS[1] in record["text"]
    assert _stats(crawl.log).get("render/unsettled", 0) >= 1


def test_a_page_that_never_loads_keeps_its_plain_html(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    record = _record(crawl, servers[0], "/spa/never-loads")
    assert record["status"] == "ok"
    assert record["rendered"] is False
    assert _stats(crawl.log).get("render/failed/timeout", 0) >= 1


def test_an_ordinary_page_is_not_rendered(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    base, site, _ = servers
    record = _record(crawl, base, "/static/article")
    assert record["status"] == "ok"
    assert record["rendered"] is False
    assert STATIC_PARAGRAPHS[3] in record["text"]
    # the browser never opened it: its script was never downloaded
    assert site.hits["/static/app.js"] == 0
    assert site.hits["/static/article"] == 1


def test_body_bytes_are_the_servers(
    crawl: CrawlResult, servers: tuple[str, _Site, Counter[str]]
) -> None:
    base, site, _ = servers
    record = _record(crawl, base, "/spa/article")
    assert record["body_bytes"] == len(site.route("/spa/article")[2])


def test_browser_memory_is_reported_and_bounded(crawl: CrawlResult) -> None:
    stats = _stats(crawl.log)
    assert stats.get("render/rendered", 0) >= 4
    assert 0 < stats["render/browser_peak_mb"] <= 1024


def test_memory_ceiling_restarts_the_browser(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    base = servers[0]
    sources = tmp_path / "sources.txt"
    paths = ["/spa/article", "/spa/api-page", "/static/article"]
    sources.write_text("".join(f"{base}{p}\n" for p in paths), encoding="utf-8")
    result = run_crawl(
        sources, tmp_path / "out.jsonl", timeout=240, **{**GUARD, "RENDER_MAX_MEMORY_MB": "40"}
    )
    assert result.exit_code == 0, result.log[-3000:]
    assert len(result.records) == 3
    assert _stats(result.log).get("render/browser_restarts", 0) >= 1


def test_without_a_browser_shells_are_recorded_plain(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    base = servers[0]
    sources = tmp_path / "sources.txt"
    sources.write_text(f"{base}/spa/article\n{base}/static/article\n", encoding="utf-8")
    result = run_crawl(
        sources,
        tmp_path / "out.jsonl",
        **{**GUARD, "RENDER_BROWSER_PATH": str(tmp_path / "no-such-browser")},
    )
    assert result.exit_code == 0, result.log[-3000:]
    warnings = [line for line in result.log.splitlines() if "Rendering is off" in line]
    assert len(warnings) == 1
    records = result.by_url()
    assert records[f"{base}/spa/article"]["rendered"] is False
    assert records[f"{base}/spa/article"]["status"] == "ok"
    assert records[f"{base}/static/article"]["rendered"] is False
    assert _stats(result.log).get("render/unavailable") == 1


def _night(base: str, directory: Path, name: str, paths: list[str], **settings: str) -> Any:
    sources = directory / f"{name}.txt"
    sources.write_text("".join(f"{base}{p}\n" for p in paths), encoding="utf-8")
    result = run_crawl(sources, directory / f"{name}.jsonl", timeout=240, **{**GUARD, **settings})
    assert result.exit_code == 0, result.log[-3000:]
    return result


def test_a_host_of_shells_is_remembered_the_next_night(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    base = servers[0]
    first = _night(base, tmp_path, "night1", ["/fw/react", "/spa/article", "/static/article"])
    assert [r["rendered"] for r in sorted(first.records, key=lambda r: r["url"])] == [
        True,
        True,
        False,
    ]
    # The host shipped mostly shells: tonight its ordinary page is rendered too.
    second = _night(base, tmp_path, "night2", ["/static/article"])
    assert second.records[0]["rendered"] is True
    assert STATIC_PARAGRAPHS[3] in second.records[0]["text"]
    assert _stats(second.log).get("render/wanted/remembered") == 1
    # RENDER_NEVER_HOSTS wins over both the memory and the detector.
    third = _night(
        base, tmp_path, "night3", ["/static/article", "/spa/article"], RENDER_NEVER_HOSTS=SITE_HOST
    )
    assert [r["rendered"] for r in third.records] == [False, False]


def test_render_hosts_forces_rendering(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    result = _night(servers[0], tmp_path, "forced", ["/static/article"], RENDER_HOSTS=SITE_HOST)
    assert result.records[0]["rendered"] is True
    assert _stats(result.log).get("render/wanted/forced") == 1


def test_render_enabled_off_changes_nothing(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    result = _night(servers[0], tmp_path, "off", ["/spa/article"], RENDER_ENABLED="false")
    assert result.records[0]["rendered"] is False
    assert "Rendering is off" not in result.log
    assert "scrapy_playwright" not in result.log


def test_a_browser_that_cannot_start_is_given_up_and_nothing_is_lost(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    broken.chmod(0o755)
    paths = [f"/fw/{name}" for name in FRAMEWORKS]
    result = _night(
        servers[0],
        tmp_path,
        "broken",
        paths,
        RENDER_BROWSER_PATH=str(broken),
        RENDER_CONCURRENCY="1",
    )
    assert len(result.records) == len(paths)
    assert all(r["status"] == "ok" and r["rendered"] is False for r in result.records)
    stats = _stats(result.log)
    assert stats["render/failed/browser"] == 3
    assert stats["render/failed/unavailable"] == len(paths) - 3
    assert result.log.count("rendering is off for the rest of this run") == 1


def test_a_night_without_shells_starts_no_browser(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    result = _night(servers[0], tmp_path, "plain", ["/static/article"])
    assert "Rendering pages that need JavaScript" in result.log  # rendering was on
    assert result.records[0]["rendered"] is False
    # neither the Playwright driver nor the browser was started
    assert "Starting download handler" not in result.log
    assert "playwright/browser_count" not in result.log


def test_an_idle_browser_is_closed_and_started_again_for_the_next_shell(
    servers: tuple[str, _Site, Counter[str]], tmp_path: Path
) -> None:
    """RENDER_IDLE_CLOSE: between two shells far apart the browser and its driver go away."""
    base = servers[0]
    sources = tmp_path / "sources.txt"
    sources.write_text(f"{base}/spa/article\n{base}/spa/late\n", encoding="utf-8")
    result = run_crawl(
        sources,
        tmp_path / "out.jsonl",
        timeout=180,
        RENDER_IDLE_CLOSE="1",
        RENDER_BATCH="false",  # each shell on arrival: a batch would hold the first one
        **GUARD,
    )
    assert result.exit_code == 0, result.log[-3000:]
    for path in ("/spa/article", "/spa/late"):
        record = _record(result, base, path)
        assert record["rendered"] is True, path
        assert PARAGRAPHS[0] in record["text"]
    stats = _stats(result.log)
    assert stats["render/browser_idle_closes"] >= 1, result.log[-6000:]
    assert stats["render/rendered"] == 2
    launches = re.search(r"'playwright/browser_count': (\d+)", result.log)
    assert launches is not None and int(launches.group(1)) == 2
