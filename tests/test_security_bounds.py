"""Bounds on what a hostile server or page can make the crawl hold."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.extract.job import ContentResult, ExtractJob, content_fields
from tests.conftest import run_crawl
from tests.pageserver import PageServer

FLOOD_LINES = 100_000


class HeaderFlood:
    """A server on 127.0.0.1 answering every connection with 100k header lines of 1 KB."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.completed = 0  # connections that got every line
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._flood, args=(conn,), daemon=True).start()

    def _flood(self, conn: socket.socket) -> None:
        self.connections += 1
        line = b"X-Flood: " + b"a" * 1000 + b"\r\n"
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
            for _ in range(FLOOD_LINES):
                conn.sendall(line)
            self.completed += 1
            conn.sendall(b"\r\n<html><title>never</title></html>")
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> HeaderFlood:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.fixture
def flood() -> Iterator[HeaderFlood]:
    with HeaderFlood() as server:
        yield server


def test_a_header_flood_ends_as_one_too_large_record(
    flood: HeaderFlood, page_server: PageServer, tmp_path: Path
) -> None:
    listing = tmp_path / "sources.txt"
    ok_url = page_server.url("/article/blog-post")
    flood_url = f"http://127.0.0.1:{flood.port}/headers"
    listing.write_text(f"{flood_url}\n{ok_url}\n", encoding="utf-8")
    result = run_crawl(
        listing,
        tmp_path / "out.jsonl",
        DOWNLOAD_TIMEOUT="60",
        ROBOTSTXT_OBEY="false",
        LOCK_FILE=str(tmp_path / "run.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        STATE_URI=str(tmp_path / "state.sqlite"),
        MAX_ERROR_SHARE="1",
        EXTRACT_WORKERS="0",
        PROGRESS="off",
    )
    assert result.exit_code == 0, result.log[-3000:]
    records = result.by_url()
    assert len(result.records) == 2
    assert (records[flood_url]["status"], records[flood_url]["error"]) == ("error", "too_large")
    assert "DOWNLOAD_MAX_HEADER_BYTES" in records[flood_url]["error_detail"]
    assert records[ok_url]["status"] == "ok"
    # the crawler hung up: no connection was read to the end of its headers
    assert flood.connections >= 1 and flood.completed == 0


HOG_MARKER = "/hog"


def hog_on_marker(job: ExtractJob) -> ContentResult:
    """EXTRACT_FUNCTION for the memory-cap test: asks for 2 GB on the marked page."""
    if job.url.endswith(HOG_MARKER):
        hog = bytearray(2 * 1024**3)
        hog[-1] = 1
    return content_fields(job)


def test_a_page_past_the_worker_memory_cap_is_one_record_and_the_crawl_goes_on(
    page_server: PageServer, tmp_path: Path
) -> None:
    urls = [page_server.url(f"/article/{name}") for name in ("blog-post", "ai-safety")]
    hog_url = page_server.url("/echo" + HOG_MARKER)
    listing = tmp_path / "sources.txt"
    # the hog first: the page after it is extracted by the replacement worker
    listing.write_text("\n".join([hog_url, *urls]) + "\n", encoding="utf-8")
    result = run_crawl(
        listing,
        tmp_path / "out.jsonl",
        EXTRACT_WORKERS="1",
        EXTRACT_FUNCTION="tests.test_security_bounds.hog_on_marker",
        EXTRACT_WORKER_MAX_MEMORY_MB="512",
        CONCURRENT_REQUESTS="1",
        LOCK_FILE=str(tmp_path / "run.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        STATE_URI=str(tmp_path / "state.sqlite"),
        MAX_ERROR_SHARE="1",
        PROGRESS="off",
    )
    assert result.exit_code == 0, result.log[-3000:]
    records = result.by_url()
    assert len(result.records) == 3
    hog = records[hog_url]
    assert (hog["status"], hog["error"]) == ("error", "internal"), hog
    assert "512 MB" in hog["error_detail"]
    assert all(records[u]["status"] == "ok" for u in urls)
    assert result.log.count("passed its memory cap; replacing it") == 1
