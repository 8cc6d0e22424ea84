"""A small fault-serving HTTP/1.1 server for end-to-end crawler tests.

Standard library only. The server binds to loopback on an OS-assigned port and
runs in a background daemon thread::

    from tests.pageserver import PageServer

    with PageServer() as srv:
        url = srv.url("/article/ai-safety")
        ...
        assert srv.hits("/article/ai-safety") == 1

Routes (GET; HEAD mirrors GET without a body):

``/article/<name>``          ``tests/site/<name>.html`` (ETag + Last-Modified), else 404
``/status/<code>``           that status with ``<h1>Status NNN</h1>`` (3xx has no Location;
                             204/304 have no body and no Content-Length, as HTTP requires)
``/redirect/<n>?to=<path>``  302 chain of n+1 hops ending at ``to``
``/redirect-loop``           302 to itself
``/redirect-301?to=<path>``  a single 301
``/flaky/<key>``             500 on the first request per key, then the default article
``/delay/<seconds>``         sleeps (at most 30 s) then serves a small page
``/pdf/<name>``              a small hand-built PDF
``/text``                    plain text
``/image.png``               a tiny PNG
``/empty``                   200 with an empty HTML body
``/binary-html``             2 KiB of deterministic random bytes labelled text/html
``/latin1``                  latin-1 HTML with no charset declared anywhere
``/robots.txt``              disallows ``/private/``
``/private/<anything>``      a normal page
``/drop``                    promises 10000 bytes, sends ~100, closes
``/gzip-corrupt``            ``Content-Encoding: gzip`` with an invalid body
``/big/<kb>``                exactly ``kb`` KiB of HTML filler
``/retry-after/<seconds>``   503 with ``Retry-After``
``/login-wall``              paywalled teaser page
``/meta-refresh?to=<path>``  a 64 KiB page whose head holds ``<meta http-equiv=refresh>`` to ``to``
anything else                404
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import random
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = [
    "ARTICLES",
    "BINARY_HTML",
    "DEFAULT_ARTICLE",
    "GZIP_CORRUPT_BODY",
    "LATIN1_HTML",
    "LOGIN_WALL_HTML",
    "MAX_DELAY",
    "PDF_BYTES",
    "PDF_SENTENCE",
    "PDF_TITLE",
    "PNG_BYTES",
    "ROBOTS_TXT",
    "SITE_DIR",
    "TEXT_BODY",
    "PageServer",
]

SITE_DIR = Path(__file__).resolve().parent / "site"

#: Article pages in ``tests/site`` in their documented order; the first is the default.
ARTICLES: tuple[str, ...] = (
    "ai-safety",
    "reef-paper",
    "gov-report",
    "blog-post",
    "de-stadtbaeume",
)
#: The article served by ``/flaky/<key>`` and the default target of redirects.
DEFAULT_ARTICLE = ARTICLES[0]

#: Upper bound for ``/delay/<seconds>``.
MAX_DELAY = 30.0
#: Upper bound for ``/big/<kb>``.
MAX_BIG_KB = 32 * 1024
#: Upper bound for the ``n`` of ``/redirect/<n>``.
MAX_REDIRECTS = 100
#: Bytes of body actually sent by ``/drop`` (its Content-Length says 10000).
DROP_SENT = 100
DROP_ANNOUNCED = 10_000

# --------------------------------------------------------------------------- fixed bodies

PDF_TITLE = "Red-Team Findings on Frontier Model Evaluations"
PDF_SENTENCE = "Red-team testing caught most dangerous capabilities before deployment."
PDF_CREATION_DATE = "D:20240115093000Z"


def _pdf_string(text: str) -> bytes:
    """Encode ``text`` as a PDF literal string, escaping the special characters."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def build_pdf(title: str, lines: list[str], creation_date: str) -> bytes:
    """Build a minimal, valid one-page PDF showing ``lines`` in Helvetica.

    The document has a catalog, a page tree with one page, a content stream,
    a standard Type1 font, an Info dictionary (``/Title``, ``/CreationDate``)
    and a classic cross-reference table with exact byte offsets.
    """
    content = bytearray(b"BT\n/F1 12 Tf\n72 720 Td\n16 TL\n")
    for i, line in enumerate(lines):
        content += (b"" if i == 0 else b"T*\n") + _pdf_string(line) + b" Tj\n"
    content += b"ET\n"

    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + bytes(content) + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title "
        + _pdf_string(title)
        + b" /Author (PageServer) /Producer (tests.pageserver) /CreationDate "
        + _pdf_string(creation_date)
        + b" >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (
        len(objects) + 1,
        len(objects),
    )
    out += b"startxref\n%d\n" % xref_at + b"%%EOF\n"
    return bytes(out)


PDF_BYTES = build_pdf(
    PDF_TITLE,
    [PDF_SENTENCE, "This PDF was generated by the crawler test server."],
    PDF_CREATION_DATE,
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data and CRC-32 over type + data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def build_png(width: int = 4, height: int = 4) -> bytes:
    """Build a small valid 8-bit RGB PNG with a simple colour gradient."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: None
        for x in range(width):
            rows += bytes((x * 60 % 256, y * 60 % 256, 128))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


PNG_BYTES = build_png()

TEXT_BODY = (
    "Notes on measuring things carefully\n"
    "\n"
    "Every measurement carries the fingerprints of the instrument that made it. "
    "A thermometer in the sun reports the sun as much as the air.\n"
    "\n"
    "Good records describe not only the values but also the conditions: where the "
    "sensor was, when it was moved and what was replaced.\n"
    "\n"
    "Comparing two independent instruments is the cheapest way to find out how much "
    "either of them can be trusted.\n"
)

BINARY_HTML = random.Random(20240229).randbytes(2048)

LATIN1_HTML = (
    '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<title>Dessert du jour</title>\n</head>\n'
    "<body>\n<h1>Dessert du jour</h1>\n"
    "<p>Ce soir, le chef propose une crème brûlée à la vanille de Madagascar.</p>\n"
    "<p>Elle est servie tiède, avec une tuile aux amandes et un café noir.</p>\n"
    "</body>\n</html>\n"
).encode("latin-1")

ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"

# Starts with a valid gzip header; the first "deflate" byte declares a reserved block type.
GZIP_CORRUPT_BODY = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"not really deflate data " * 20

LOGIN_WALL_HTML = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Inside the Fight Over Municipal Broadband Subsidies | The Harbour Tribune</title>
<meta property="og:title" content="Inside the Fight Over Municipal Broadband Subsidies">
<meta property="og:site_name" content="The Harbour Tribune">
<script type="application/ld+json">
{
  "@context": "https://schema.org",
  "@type": "NewsArticle",
  "headline": "Inside the Fight Over Municipal Broadband Subsidies",
  "datePublished": "2024-04-02T06:00:00Z",
  "author": [{"@type": "Person", "name": "Samuel Achterberg"}],
  "publisher": {"@type": "Organization", "name": "The Harbour Tribune"},
  "isAccessibleForFree": false,
  "hasPart": {
    "@type": "WebPageElement",
    "isAccessibleForFree": false,
    "cssSelector": ".paywall"
  }
}
</script>
</head>
<body>
<nav class="site-nav">
<a href="/">Home</a> <a href="/local">Local</a> <a href="/business">Business</a>
</nav>
<article>
<h1>Inside the Fight Over Municipal Broadband Subsidies</h1>
<p class="byline">By Samuel Achterberg</p>
<p class="teaser">Three towns on the coast voted to build their own fibre networks last year,
and the backlash from private providers has been swift.</p>
<div class="paywall">
<h2>Subscribe to keep reading</h2>
<p>This article is available to subscribers only. Log in or start a subscription
to read the full story.</p>
<form class="login-form" action="/login" method="post">
<label>Email <input type="email" name="email"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Log in</button>
</form>
<p><a class="subscribe" href="/subscribe">Subscribe for full access</a></p>
</div>
</article>
<footer><p>The Harbour Tribune</p></footer>
</body>
</html>
"""

HTML_UTF8 = "text/html; charset=utf-8"


def _simple_html(title: str, body_html: str) -> bytes:
    """Return a tiny UTF-8 HTML document."""
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{body_html}\n</body>\n</html>\n"
    ).encode()


_PRIVATE_HTML = _simple_html(
    "Staff Notes",
    "<h1>Staff Notes</h1>\n"
    "<p>This page is disallowed by robots.txt but is otherwise an ordinary page.</p>",
)


def _status_body(code: int) -> bytes:
    return _simple_html(f"Status {code}", f"<h1>Status {code}</h1>")


def build_big_page(kb: int) -> bytes:
    """Return an HTML page of exactly ``kb`` KiB (or a minimal page for ``kb == 0``)."""
    head = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>Large page ({kb} KB)</title>\n</head>\n<body>\n<h1>Large page</h1>\n"
    ).encode()
    tail = b"</body>\n</html>\n"
    target = kb * 1024
    body = bytearray(head)
    i = 0
    while True:
        i += 1
        para = (
            f"<p>Filler paragraph {i}. This text exists only to make the page large, so "
            "that size limits, truncation and streaming in the crawler can be checked "
            "against a body whose length is known in advance.</p>\n"
        ).encode()
        if len(body) + len(para) + len(tail) > target:
            break
        body += para
    body += b" " * max(0, target - len(body) - len(tail))
    body += tail
    return bytes(body)


# --------------------------------------------------------------------------- handler


class _Handler(BaseHTTPRequestHandler):
    """Request handler; routing is table-driven via ``_ROUTES``."""

    protocol_version = "HTTP/1.1"
    server_version = "PageServer/1.0"
    timeout = 15  # idle keep-alive connections are dropped after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def version_string(self) -> str:
        """Value of the Server header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    # -- response helpers ---------------------------------------------------------------

    def respond(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = HTML_UTF8,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a complete response with a correct Content-Length (no body for HEAD)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        no_body_status = status in (204, 304)
        if no_body_status:
            body = b""
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def not_found(self) -> None:
        """Send the standard 404 page."""
        self.respond(404, _status_body(404))

    def bad_request(self, reason: str) -> None:
        """Send a 400 page explaining ``reason``."""
        page = _simple_html("Status 400", f"<h1>Status 400</h1>\n<p>{html.escape(reason)}</p>")
        self.respond(400, page)

    def redirect(self, status: int, location: str) -> None:
        """Send a redirect with a tiny HTML body linking to ``location``."""
        link = html.escape(location)
        body = _simple_html("Redirect", f'<p>Moved to <a href="{link}">{link}</a></p>')
        self.respond(status, body, headers={"Location": location})

    # -- dispatch -----------------------------------------------------------------------

    def do_GET(self) -> None:
        """Route a GET request."""
        path, _, query_string = self.path.partition("?")
        path = path.partition("#")[0]
        self.server.owner._record_hit(path)
        query = {k: v[-1] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        for pattern, route in _ROUTES:
            match = pattern.fullmatch(path)
            if match is not None:
                route(self, match, query)
                return
        self.not_found()

    def do_HEAD(self) -> None:
        """Route a HEAD request exactly like GET; ``respond`` drops the body."""
        self.do_GET()


_Query = dict[str, str]
_Route = Callable[[_Handler, re.Match[str], _Query], None]


def _safe_target(h: _Handler, query: _Query) -> str | None:
    """Return the ``to`` parameter if it is a local path, else send 400 and return None."""
    to = query.get("to", f"/article/{DEFAULT_ARTICLE}")
    if not to.startswith("/") or to.startswith("//") or "\\" in to:
        h.bad_request("'to' must be a path on this server")
        return None
    return to


def _serve_article(h: _Handler, name: str) -> None:
    """Serve ``SITE_DIR/<name>.html`` with validators, or 404."""
    path = SITE_DIR / f"{name}.html"
    try:
        body = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError:
        h.not_found()
        return
    headers = {
        "Last-Modified": formatdate(mtime, usegmt=True),
        "ETag": '"' + hashlib.sha256(body).hexdigest() + '"',
    }
    h.respond(200, body, HTML_UTF8, headers)


def _route_article(h: _Handler, m: re.Match[str], q: _Query) -> None:
    _serve_article(h, m["name"])


def _route_status(h: _Handler, m: re.Match[str], q: _Query) -> None:
    code = int(m["code"])
    if not 200 <= code <= 599:
        h.bad_request("status code must be between 200 and 599")
        return
    h.respond(code, _status_body(code))


def _route_redirect(h: _Handler, m: re.Match[str], q: _Query) -> None:
    n = int(m["n"])
    to = _safe_target(h, q)
    if to is None:
        return
    if n > MAX_REDIRECTS:
        h.bad_request(f"at most {MAX_REDIRECTS} redirects")
    elif n == 0:
        h.redirect(302, to)
    else:
        h.redirect(302, f"/redirect/{n - 1}?to={quote(to, safe='/')}")


def _route_redirect_loop(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.redirect(302, "/redirect-loop")


def _route_redirect_301(h: _Handler, m: re.Match[str], q: _Query) -> None:
    to = _safe_target(h, q)
    if to is not None:
        h.redirect(301, to)


def _route_meta_refresh(h: _Handler, m: re.Match[str], q: _Query) -> None:
    to = _safe_target(h, q)
    if to is not None:
        tag = f'<meta http-equiv="refresh" content="0; url={html.escape(to)}">'.encode()
        h.respond(200, build_big_page(64).replace(b"<head>\n", b"<head>\n" + tag, 1))


def _route_flaky(h: _Handler, m: re.Match[str], q: _Query) -> None:
    if h.server.owner._flaky_attempt(m["key"]) == 1:
        h.respond(500, _status_body(500))
        return
    _serve_article(h, DEFAULT_ARTICLE)


def _route_delay(h: _Handler, m: re.Match[str], q: _Query) -> None:
    seconds = min(float(m["seconds"]), MAX_DELAY)
    deadline = time.monotonic() + seconds
    stopping = h.server.owner._stopping
    while not stopping.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        stopping.wait(min(remaining, 0.05))
    body = _simple_html("Delayed", f"<h1>Delayed</h1>\n<p>Waited {seconds:g} seconds.</p>")
    h.respond(200, body)


def _route_pdf(h: _Handler, m: re.Match[str], q: _Query) -> None:
    name = m["name"] if m["name"].endswith(".pdf") else m["name"] + ".pdf"
    h.respond(
        200,
        PDF_BYTES,
        "application/pdf",
        {"Content-Disposition": f'inline; filename="{name}"'},
    )


def _route_text(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, TEXT_BODY.encode(), "text/plain; charset=utf-8")


def _route_png(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, PNG_BYTES, "image/png")


def _route_empty(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, b"", "text/html")


def _route_binary_html(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, BINARY_HTML, "text/html")


def _route_latin1(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, LATIN1_HTML, "text/html")


def _route_robots(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, ROBOTS_TXT, "text/plain")


def _route_private(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, _PRIVATE_HTML)


def _route_drop(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.send_response(200)
    h.send_header("Content-Type", HTML_UTF8)
    h.send_header("Content-Length", str(DROP_ANNOUNCED))
    h.end_headers()
    h.close_connection = True
    if h.command != "HEAD":
        h.wfile.write((b"<!DOCTYPE html><html><body><p>" + b"x" * DROP_SENT)[:DROP_SENT])


def _route_gzip_corrupt(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, GZIP_CORRUPT_BODY, HTML_UTF8, {"Content-Encoding": "gzip"})


def _route_big(h: _Handler, m: re.Match[str], q: _Query) -> None:
    kb = int(m["kb"])
    if kb > MAX_BIG_KB:
        h.bad_request(f"at most {MAX_BIG_KB} KB")
        return
    h.respond(200, build_big_page(kb))


def _route_retry_after(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(503, _status_body(503), headers={"Retry-After": m["seconds"]})


def _route_login_wall(h: _Handler, m: re.Match[str], q: _Query) -> None:
    h.respond(200, LOGIN_WALL_HTML)


# -- faults for the hostile-web tests ----------------------------------------------------


def _gzip_bomb(megabytes: int) -> bytes:
    """gzip of ``megabytes`` MiB of zeros: about 1,000 times smaller than it inflates to."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    chunk = bytes(1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()


def _route_redirect_to(h: _Handler, m: re.Match[str], q: _Query) -> None:
    # Deliberately open: the crawler's address guard must refuse where this points.
    h.redirect(302, q.get("url", "/"))


def _route_busy(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """First request per key: ``status`` (429/503) with ``Retry-After: after``; then the article."""
    if h.server.owner._flaky_attempt("busy:" + m["key"]) == 1:
        status = int(q.get("status", "503"))
        h.respond(status, _status_body(status), headers={"Retry-After": q.get("after", "1")})
        return
    _serve_article(h, DEFAULT_ARTICLE)


def _route_echo(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """A small page whose text names the path it was asked for (URLs with spaces, non-ASCII)."""
    shown = html.escape(unquote(h.path))
    paragraph = f"<p>This page answers every path; it was asked for {shown}.</p>" * 3
    h.respond(200, _simple_html(f"Echo {shown}", f"<h1>Echo {shown}</h1>\n{paragraph}"))


def _route_lying_type(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """An HTML article labelled as an octet stream with a bogus charset."""
    body = (SITE_DIR / f"{DEFAULT_ARTICLE}.html").read_bytes()
    h.respond(200, body, "application/octet-stream; charset=no-such-charset")


def _route_invalid_utf8(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """Declared UTF-8, with bytes that are not."""
    text = "<p>Valid text first, then broken bytes: \xff\xfe and more valid text after.</p>"
    body = _simple_html("Invalid UTF-8", text * 3).replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe")
    h.respond(200, body, HTML_UTF8)


def _route_not_html(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """JSON labelled text/html."""
    h.respond(200, b'{"error": "this is not a web page", "items": [1, 2, 3]}', "text/html")


def _route_gzip_bomb(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """A small gzip body that inflates to ``mb`` megabytes of zeros."""
    h.respond(200, _gzip_bomb(int(m["mb"])), "text/html", {"Content-Encoding": "gzip"})


def _route_trickle(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """Announce 1,000 bytes, then send one byte every 0.5 s until stopped or done."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(1000):
        if h.server.owner._stopping.wait(0.5):
            return
        try:
            h.wfile.write(b" ")
            h.wfile.flush()
        except OSError:
            return


def _route_huge_header(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """A response with one 200 KB header line."""
    h.respond(200, _simple_html("Huge header", "<p>small body</p>"), HTML_UTF8,
              {"X-Padding": "x" * 200_000})


def _route_reset(h: _Handler, m: re.Match[str], q: _Query) -> None:
    """Send headers and part of the body, then reset the connection (RST, not FIN)."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "5000")
    h.end_headers()
    h.wfile.write(b"<html><body><p>partial")
    h.wfile.flush()
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.close_connection = True
    h.connection.close()


_ROUTES: list[tuple[re.Pattern[str], _Route]] = [
    (re.compile(r"/article/(?P<name>[A-Za-z0-9_-]+)"), _route_article),
    (re.compile(r"/status/(?P<code>\d{3})"), _route_status),
    (re.compile(r"/redirect/(?P<n>\d{1,6})"), _route_redirect),
    (re.compile(r"/redirect-loop"), _route_redirect_loop),
    (re.compile(r"/redirect-301"), _route_redirect_301),
    (re.compile(r"/meta-refresh"), _route_meta_refresh),
    (re.compile(r"/flaky/(?P<key>[^/]+)"), _route_flaky),
    (re.compile(r"/delay/(?P<seconds>\d{1,6}(?:\.\d{1,6})?)"), _route_delay),
    (re.compile(r"/pdf/(?P<name>[A-Za-z0-9_.-]+)"), _route_pdf),
    (re.compile(r"/text"), _route_text),
    (re.compile(r"/image\.png"), _route_png),
    (re.compile(r"/empty"), _route_empty),
    (re.compile(r"/binary-html"), _route_binary_html),
    (re.compile(r"/latin1"), _route_latin1),
    (re.compile(r"/robots\.txt"), _route_robots),
    (re.compile(r"/private/.*"), _route_private),
    (re.compile(r"/drop"), _route_drop),
    (re.compile(r"/gzip-corrupt"), _route_gzip_corrupt),
    (re.compile(r"/big/(?P<kb>\d{1,9})"), _route_big),
    (re.compile(r"/retry-after/(?P<seconds>\d{1,9})"), _route_retry_after),
    (re.compile(r"/login-wall"), _route_login_wall),
    (re.compile(r"/redirect-to"), _route_redirect_to),
    (re.compile(r"/busy/(?P<key>[^/]+)"), _route_busy),
    (re.compile(r"/echo/.*"), _route_echo),
    (re.compile(r"/lying-type"), _route_lying_type),
    (re.compile(r"/invalid-utf8"), _route_invalid_utf8),
    (re.compile(r"/not-html"), _route_not_html),
    (re.compile(r"/gzip-bomb/(?P<mb>\d{1,4})"), _route_gzip_bomb),
    (re.compile(r"/trickle"), _route_trickle),
    (re.compile(r"/huge-header"), _route_huge_header),
    (re.compile(r"/reset"), _route_reset),
]


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    """Threading server that tracks open connections so ``stop`` can close them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default of 5 stalls bursts of concurrent connects

    def __init__(self, address: tuple[str, int], owner: PageServer) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse-DNS lookup that HTTPServer.server_bind performs."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Register the connection and handle it in a tracked daemon thread.

        ``ThreadingMixIn`` does not keep daemon threads for joining, so this
        server keeps its own list and ``join_workers`` waits for them.
        """
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"PageServer-{self.server_port}-conn",
            daemon=self.daemon_threads,
        )
        with self._conns_lock:
            self._conns.add(request)
            self._workers = [t for t in self._workers if t.is_alive()]
            self._workers.append(worker)
        worker.start()

    def join_workers(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` seconds in total) for all handler threads to end."""
        deadline = time.monotonic() + timeout
        with self._conns_lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection, then shut it down and close it."""
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection so blocked handler threads return."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects; report anything else the usual way."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class PageServer:
    """Background HTTP test server on loopback; use as a context manager.

    ``PageServer(host="127.0.0.1", port=0)`` binds when started (``start()`` or
    ``with``), so ``port`` is the OS-assigned port only after that.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._flaky: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> PageServer:
        """Bind the socket and serve from a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("PageServer already started")
        self._stopping.clear()
        server = _Server((self._host, self._requested_port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"PageServer-{server.server_port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close all connections and the socket, and join all threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.join_workers()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host the server binds to."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the requested one, possibly 0, before ``start``)."""
        if self._server is None:
            return self._requested_port
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL for ``path`` on this server (a leading slash is added if missing)."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # -- bookkeeping -------------------------------------------------------------------

    def hits(self, path: str) -> int:
        """Requests received for exactly ``path`` (query ignored; a full URL is accepted)."""
        key = urlsplit(path).path if "://" in path else path.partition("?")[0]
        with self._lock:
            return self._hits[key]

    def all_hits(self) -> dict[str, int]:
        """A snapshot of the request counts for every path seen so far."""
        with self._lock:
            return dict(self._hits)

    def reset_hits(self) -> None:
        """Forget all request counts."""
        with self._lock:
            self._hits.clear()

    def reset_flaky(self) -> None:
        """Make every ``/flaky/<key>`` fail again on its next request."""
        with self._lock:
            self._flaky.clear()

    def _record_hit(self, path: str) -> None:
        with self._lock:
            self._hits[path] += 1

    def _flaky_attempt(self, key: str) -> int:
        with self._lock:
            self._flaky[key] += 1
            return self._flaky[key]
