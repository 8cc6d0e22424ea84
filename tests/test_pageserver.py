"""Tests for the fault-serving HTTP test server in ``tests/pageserver.py``."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path

import pypdf
import pytest

from tests.pageserver import (
    ARTICLES,
    BINARY_HTML,
    DEFAULT_ARTICLE,
    PDF_BYTES,
    PDF_SENTENCE,
    PDF_TITLE,
    PNG_BYTES,
    SITE_DIR,
    PageServer,
)

Response = tuple[int, http.client.HTTPMessage, bytes]


@pytest.fixture(scope="module")
def srv() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_counts(srv: PageServer) -> None:
    srv.reset_hits()


def fetch(
    srv: PageServer,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One request on a fresh connection; redirects are not followed."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    try:
        conn.request(method, path, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- lifecycle


def test_addresses(srv: PageServer) -> None:
    assert srv.host == "127.0.0.1"
    assert srv.port > 0
    assert srv.base_url == f"http://127.0.0.1:{srv.port}"
    assert srv.url("/article/ai-safety") == f"http://127.0.0.1:{srv.port}/article/ai-safety"
    assert srv.url("text") == srv.base_url + "/text"


def test_port_is_zero_until_started() -> None:
    server = PageServer(host="127.0.0.1", port=0)
    assert server.port == 0
    server.stop()  # stopping a server that never started is a no-op


def test_stop_closes_idle_keepalive_connections_and_threads() -> None:
    server = PageServer().start()
    port = server.port
    conn = http.client.HTTPConnection(server.host, port, timeout=5)
    try:
        conn.request("GET", "/text")
        conn.getresponse().read()  # connection stays open (keep-alive)
        server.stop()
    finally:
        conn.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(f"PageServer-{port}")]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_stop_interrupts_delay() -> None:
    server = PageServer().start()
    port = server.port
    conn = http.client.HTTPConnection(server.host, port, timeout=5)
    try:
        conn.request("GET", "/delay/30")
        time.sleep(0.1)
        server.stop()
        # the handler sleeping in /delay/30 was woken and ended with the server
        assert not [t for t in threading.enumerate() if t.name.startswith(f"PageServer-{port}")]
    finally:
        conn.close()


def test_keep_alive_reuses_one_connection(srv: PageServer) -> None:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    try:
        statuses = []
        sock = None
        for path in ["/article/ai-safety", "/status/404", "/empty", "/status/301", "/text"]:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            assert int(resp.headers["Content-Length"]) == len(body)
            statuses.append(resp.status)
            sock = sock or conn.sock
            assert conn.sock is sock  # not reconnected
        assert statuses == [200, 404, 200, 301, 200]
    finally:
        conn.close()


# --------------------------------------------------------------------------- hit counting


def test_hits_count_exact_path_ignoring_query(srv: PageServer) -> None:
    fetch(srv, "/status/404")
    fetch(srv, "/status/404?x=1")
    fetch(srv, "/status/404", method="HEAD")
    assert srv.hits("/status/404") == 3
    assert srv.hits("/status/404?y=2") == 3
    assert srv.hits(srv.url("/status/404")) == 3
    assert srv.hits("/status/40") == 0
    assert srv.all_hits() == {"/status/404": 3}
    srv.reset_hits()
    assert srv.hits("/status/404") == 0


def test_hits_are_thread_safe(srv: PageServer) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                fetch(srv, "/empty")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert srv.hits("/empty") == 40


# --------------------------------------------------------------------------- articles


def test_article_body_and_validators(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/article/ai-safety")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (SITE_DIR / "ai-safety.html").read_bytes()
    assert int(headers["Content-Length"]) == len(body)
    assert headers["ETag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
    assert parsedate_to_datetime(headers["Last-Modified"]).tzinfo is not None


@pytest.mark.parametrize("name", ARTICLES)
def test_site_pages_are_realistic(srv: PageServer, name: str) -> None:
    status, _, body = fetch(srv, f"/article/{name}")
    assert status == 200
    assert 3 * 1024 <= len(body) <= 8 * 1024
    html = body.decode("utf-8").lower()
    assert "<nav" in html and "<footer" in html
    assert "cookie" in html
    assert "related articles" in html or "verwandte artikel" in html


def test_default_article_is_first() -> None:
    assert DEFAULT_ARTICLE == ARTICLES[0] == "ai-safety"
    assert sorted(p.stem for p in SITE_DIR.glob("*.html")) == sorted(ARTICLES)


@pytest.mark.parametrize("path", ["/article/nope", "/article/", "/article/../pageserver"])
def test_missing_article_is_404(srv: PageServer, path: str) -> None:
    status, _, body = fetch(srv, path)
    assert status == 404
    assert b"<h1>Status 404</h1>" in body


def test_head_mirrors_get_without_body(srv: PageServer) -> None:
    _, get_headers, get_body = fetch(srv, "/article/reef-paper")
    status, headers, body = fetch(srv, "/article/reef-paper", method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) == len(get_body)
    assert headers["ETag"] == get_headers["ETag"]


def _readme_rows() -> dict[str, dict[str, str]]:
    text = (SITE_DIR / "README.md").read_text(encoding="utf-8")
    rows: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`/article/"):
            name = cells[0].strip("`").removeprefix("/article/")
            keys = ("title", "published", "authors", "first_sentence")
            rows[name] = dict(zip(keys, cells[1:], strict=True))
    return rows


def test_readme_expectations_match_pages() -> None:
    rows = _readme_rows()
    assert list(rows) == list(ARTICLES)
    for name, row in rows.items():
        html = (SITE_DIR / f"{name}.html").read_text(encoding="utf-8")
        text = re.sub(r"\s+", " ", html)
        assert row["title"] in text
        assert row["first_sentence"] in text
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["published"])
        for author in row["authors"].split("; "):
            assert author in text


# --------------------------------------------------------------------------- status codes


@pytest.mark.parametrize("code", [200, 301, 302, 304, 403, 404, 410, 429, 500, 503])
def test_status_codes(srv: PageServer, code: int) -> None:
    status, headers, body = fetch(srv, f"/status/{code}")
    assert status == code
    assert "Location" not in headers
    if code == 304:
        assert body == b""
    else:
        assert f"<h1>Status {code}</h1>".encode() in body
        assert int(headers["Content-Length"]) == len(body)


def test_status_out_of_range(srv: PageServer) -> None:
    assert fetch(srv, "/status/999")[0] == 400
    assert fetch(srv, "/status/abc")[0] == 404


# --------------------------------------------------------------------------- redirects


def test_redirect_chain_hops_until_target(srv: PageServer) -> None:
    path = "/redirect/3?to=/text"
    seen = []
    for _ in range(10):
        status, headers, _ = fetch(srv, path)
        if status != 302:
            break
        seen.append(path)
        path = headers["Location"]
    assert status == 200
    assert path == "/text"
    assert seen == [
        "/redirect/3?to=/text",
        "/redirect/2?to=/text",
        "/redirect/1?to=/text",
        "/redirect/0?to=/text",
    ]


def test_redirect_defaults_to_first_article(srv: PageServer) -> None:
    status, headers, _ = fetch(srv, "/redirect/0")
    assert status == 302
    assert headers["Location"] == f"/article/{DEFAULT_ARTICLE}"


def test_urllib_follows_redirect_chain(srv: PageServer) -> None:
    with urllib.request.urlopen(srv.url("/redirect/2?to=/article/gov-report"), timeout=5) as resp:
        assert resp.status == 200
        assert resp.geturl() == srv.url("/article/gov-report")
        assert resp.read() == (SITE_DIR / "gov-report.html").read_bytes()
    assert srv.hits("/redirect/2") == srv.hits("/redirect/1") == srv.hits("/redirect/0") == 1


def test_redirect_rejects_external_target(srv: PageServer) -> None:
    assert fetch(srv, "/redirect/1?to=http://example.com/")[0] == 400
    assert fetch(srv, "/redirect-301?to=//example.com/")[0] == 400


def test_redirect_loop(srv: PageServer) -> None:
    status, headers, _ = fetch(srv, "/redirect-loop")
    assert status == 302
    assert headers["Location"] == "/redirect-loop"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(srv.url("/redirect-loop"), timeout=5)
    info.value.close()
    assert srv.hits("/redirect-loop") >= 3


def test_redirect_301(srv: PageServer) -> None:
    status, headers, _ = fetch(srv, "/redirect-301?to=/article/blog-post")
    assert status == 301
    assert headers["Location"] == "/article/blog-post"


# --------------------------------------------------------------------------- faults


def test_flaky_fails_once_per_key(srv: PageServer) -> None:
    first = fetch(srv, "/flaky/alpha")
    second = fetch(srv, "/flaky/alpha")
    third = fetch(srv, "/flaky/alpha")
    other = fetch(srv, "/flaky/beta")
    assert first[0] == 500
    assert second[0] == third[0] == 200
    assert second[2] == (SITE_DIR / f"{DEFAULT_ARTICLE}.html").read_bytes()
    assert other[0] == 500
    assert srv.hits("/flaky/alpha") == 3
    srv.reset_flaky()
    assert fetch(srv, "/flaky/alpha")[0] == 500


def test_delay(srv: PageServer) -> None:
    started = time.monotonic()
    status, _, body = fetch(srv, "/delay/0.3")
    assert status == 200
    assert time.monotonic() - started >= 0.3  # the delay was served (no upper bound: load varies)
    assert b"Delayed" in body


def test_drop_sends_fewer_bytes_than_announced(srv: PageServer) -> None:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    try:
        conn.request("GET", "/drop")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.headers["Content-Length"] == "10000"
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert 0 < len(info.value.partial) < 10000
    finally:
        conn.close()

    # Raw socket: the server closes the connection after the short body.
    with socket.create_connection((srv.host, srv.port), timeout=5) as sock:
        sock.sendall(b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 10000" in head
    assert len(body) == 100


def test_gzip_corrupt(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/gzip-corrupt", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body) > 0
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(body)


def test_retry_after(srv: PageServer) -> None:
    for _ in range(2):
        status, headers, _ = fetch(srv, "/retry-after/7")
        assert status == 503
        assert headers["Retry-After"] == "7"
    assert srv.hits("/retry-after/7") == 2


def test_unknown_paths_are_404(srv: PageServer) -> None:
    for path in ["/", "/nothing-here", "/text/extra", "/big/abc"]:
        assert fetch(srv, path)[0] == 404


# --------------------------------------------------------------------------- content types


def test_pdf(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/pdf/report")
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert body == PDF_BYTES
    assert body.startswith(b"%PDF-1.")
    assert b"\nxref\n" in body and body.rstrip().endswith(b"%%EOF")
    startxref = int(body.rsplit(b"startxref", 1)[1].split()[0])
    assert body[startxref:].startswith(b"xref")
    reader = pypdf.PdfReader(io.BytesIO(body), strict=True)
    assert len(reader.pages) == 1
    assert reader.metadata is not None
    assert reader.metadata.title == PDF_TITLE
    assert reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.year == 2024
    assert PDF_SENTENCE in reader.pages[0].extract_text()


def test_text(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/text")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.decode("utf-8").count("\n\n") >= 2


def test_png(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/image.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body == PNG_BYTES
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    pos, kinds = 8, []
    while pos < len(body):
        (length,) = struct.unpack(">I", body[pos : pos + 4])
        kind, data = body[pos + 4 : pos + 8], body[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", body[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_empty(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/empty")
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Length"] == "0"
    assert body == b""


def test_binary_html(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/binary-html")
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert len(body) == 2048
    assert body == BINARY_HTML == fetch(srv, "/binary-html")[2]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_latin1_without_charset(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/latin1")
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert b"charset" not in body.lower()
    assert "crème brûlée" in body.decode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_robots_and_private(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/robots.txt")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert body == b"User-agent: *\nDisallow: /private/\n"
    status, _, body = fetch(srv, "/private/staff/notes")
    assert status == 200
    assert b"<h1>Staff Notes</h1>" in body


@pytest.mark.parametrize("kb", [0, 1, 64])
def test_big(srv: PageServer, kb: int) -> None:
    status, headers, body = fetch(srv, f"/big/{kb}")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    if kb:
        assert len(body) == kb * 1024
    assert body.rstrip().endswith(b"</html>")


def test_big_limit(srv: PageServer) -> None:
    assert fetch(srv, "/big/999999")[0] == 400


def test_login_wall(srv: PageServer) -> None:
    status, headers, body = fetch(srv, "/login-wall")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    html = body.decode("utf-8")
    assert '"isAccessibleForFree": false' in html
    assert '<div class="paywall">' in html
    assert 'type="password"' in html and "Subscribe" in html


def test_site_dir_location() -> None:
    assert Path(__file__).resolve().parent / "site" == SITE_DIR
