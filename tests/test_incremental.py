"""Incremental re-crawls against a loopback server whose pages change between runs."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from crawler.incremental.store import read_all
from schemas import read_records
from tests.conftest import PROJECT_ROOT, crawl_command, run_crawl


def article(title: str, words: str) -> bytes:
    body = " ".join([words] * 40)
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body>"
        f"<article><h1>{title}</h1><p>{body}</p><p>{body}</p></article></body></html>"
    ).encode()


@dataclass
class Page:
    status: int = 200
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0


@dataclass
class ChangingSite:
    """Pages that the test edits between runs; counts requests and body bytes sent."""

    pages: dict[str, Page] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    conditional: dict[str, list[str]] = field(default_factory=dict)
    body_bytes: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(site: ChangingSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path
            if path == "/robots.txt":
                self._send(404, b"", {})
                return
            site.hits[path] = site.hits.get(path, 0) + 1
            page = site.pages.get(path) or Page(status=404, body=b"not here")
            time.sleep(page.delay)
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if inm or ims:
                site.conditional.setdefault(path, []).append(inm or ims or "")
            headers = {"Content-Type": "text/html; charset=utf-8"}
            if page.etag:
                headers["ETag"] = page.etag
            if page.last_modified:
                headers["Last-Modified"] = page.last_modified
            if page.status == 200 and (
                (inm and page.etag and inm == page.etag)
                or (not inm and ims and page.last_modified == ims)
            ):
                self._send(304, b"", headers)
                return
            site.body_bytes[path] = site.body_bytes.get(path, 0) + len(page.body)
            self._send(page.status, page.body, headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    state = ChangingSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


LM = "Wed, 21 Oct 2026 07:28:00 GMT"


def test_second_and_third_runs_are_incremental(tmp_path: Path, site: ChangingSite) -> None:
    site.pages = {
        "/etag": Page(body=article("Etag page", "alpha beta"), etag='"e1"'),
        "/lastmod": Page(body=article("Lastmod page", "gamma delta"), last_modified=LM),
        "/plain": Page(body=article("Plain page", "epsilon zeta")),
        "/edited": Page(body=article("Edited page", "eta theta"), etag='"v1"'),
        "/gone": Page(body=article("Gone page", "iota kappa"), etag='"g1"'),
    }
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(site.url(p) for p in site.pages) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    first = run_crawl(listing, out / "night1.jsonl")
    assert first.exit_code == 0, first.log[-3000:]
    assert {r["status"] for r in first.records} == {"ok"}
    assert all(r["changed"] is True for r in first.records)
    state1 = read_all(out / "state.sqlite")
    assert len(state1) == 5
    pointer = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert pointer["output"] == "night1.jsonl" and pointer["records"] == 5

    # Night 2: one page edited, one gone, the rest as they were.
    site.pages["/edited"] = Page(body=article("Edited page v2", "new words here"), etag='"v2"')
    site.pages["/gone"] = Page(status=404, body=b"gone")
    before = dict(site.body_bytes)
    second = run_crawl(listing, out / "night2.jsonl")
    assert second.exit_code == 0, second.log[-3000:]
    assert len(second.records) == 5
    by = second.by_url()
    old = first.by_url()
    for path in ("/etag", "/lastmod"):
        record = by[site.url(path)]
        assert record["changed"] is False and record["status"] == "ok"
        assert record["title"] == old[site.url(path)]["title"]
        assert record["content_sha256"] == old[site.url(path)]["content_sha256"]
        assert record["fetched_at"] >= old[site.url(path)]["fetched_at"]
        assert site.conditional[path], f"{path} was not asked conditionally"
        assert site.body_bytes[path] == before[path], f"{path} sent its body again"
    assert by[site.url("/plain")]["changed"] is False  # same hash, no validators
    assert by[site.url("/edited")]["changed"] is True
    assert by[site.url("/edited")]["title"] == "Edited page v2"
    gone = by[site.url("/gone")]
    assert gone["status"] == "dead" and gone["changed"] is True
    state2 = read_all(out / "state.sqlite")
    assert state2[site.url("/gone")].first_seen == state1[site.url("/gone")].first_seen
    assert state2[site.url("/gone")].status == "dead"
    assert state2[site.url("/edited")].last_changed >= state1[site.url("/edited")].last_changed
    assert second.manifest["changed"] == 2
    assert "Night summary: exit 0" in second.log and "changed 2, unchanged 3" in second.log
    assert [r.url for r in read_records(out)] == [r["url"] for r in second.records]

    # Night 3 with REFETCH_AFTER_DAYS: fresh pages are carried without a request.
    hits = dict(site.hits)
    third = run_crawl(listing, out / "night3.jsonl", REFETCH_AFTER_DAYS="1")
    assert third.exit_code == 0, third.log[-3000:]
    assert len(third.records) == 5
    for path in ("/etag", "/lastmod", "/plain", "/edited"):
        assert site.hits[path] == hits[path], f"{path} was requested"
        assert third.by_url()[site.url(path)]["changed"] is False
    assert third.by_url()[site.url("/edited")]["title"] == "Edited page v2"
    assert site.hits["/gone"] == hits["/gone"] + 1  # dead pages are always asked again
    assert third.by_url()[site.url("/gone")]["status"] == "dead"


def test_unhealthy_run_moves_neither_pointer_nor_state(tmp_path: Path, site: ChangingSite) -> None:
    site.pages = {"/a": Page(body=article("A page", "one two")), "/b": Page(status=500)}
    listing = tmp_path / "list.txt"
    listing.write_text(f"{site.url('/a')}\n{site.url('/b')}\n", encoding="utf-8")
    out = tmp_path / "out"
    first = run_crawl(listing, out / "n1.jsonl")
    assert first.exit_code == 0, first.log[-3000:]
    state_bytes = (out / "state.sqlite").read_bytes()
    pointer = (out / "latest.json").read_text(encoding="utf-8")

    # A run killed mid-crawl leaves the state and the pointer as they were.
    site.pages["/a"] = Page(body=article("A page", "one two"), delay=30)
    log = tmp_path / "killed.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            crawl_command(listing, out / "killed.jsonl"),
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while site.hits.get("/a", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert site.hits.get("/a", 0) == 2, log.read_text(encoding="utf-8")[-2000:]
    assert (out / "state.sqlite").read_bytes() == state_bytes
    assert (out / "latest.json").read_text(encoding="utf-8") == pointer
    assert not (out / "killed.jsonl").exists()

    site.pages["/a"] = Page(status=503)
    second = run_crawl(listing, out / "n2.jsonl", MAX_ERROR_SHARE="0.5")
    assert second.exit_code == 5, second.log[-3000:]
    assert second.manifest["healthy"] is False
    assert len(second.records) == 2  # published for inspection
    assert (out / "latest.json").read_text(encoding="utf-8") == pointer
    assert (out / "state.sqlite").read_bytes() == state_bytes
    # neither the killed run's working state nor its part file is left behind
    assert not [p for p in out.iterdir() if p.name.endswith((".part", ".work"))]


def test_second_run_exits_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    listing = tmp_path / "list.txt"
    listing.write_text("http://127.0.0.1:9/never\n", encoding="utf-8")
    with (out / ".run.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_crawl(listing, out / "n.jsonl")
    assert result.exit_code == 6, result.log[-2000:]
    assert "another run holds" in result.log
    assert not (out / "n.jsonl").exists()


def test_empty_list_is_unhealthy(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing tonight\n", encoding="utf-8")
    result = run_crawl(listing, tmp_path / "out" / "n.jsonl")
    assert result.exit_code == 5, result.log[-2000:]
    assert "no records" in result.log
