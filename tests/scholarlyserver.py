"""Test helpers for papers and videos: a PDF writer and a loopback server of canned routes.

``build_pdf`` writes a one- or two-page PDF with Helvetica text at the sizes
given (a title at 20 pt, authors at 12 pt, ...), and an Info dictionary that
may be broken on purpose. ``RouteServer`` serves a dict of path -> (status,
content type, body) on 127.0.0.1 and counts the requests per path (with the
query string), so tests can check what the crawl asked the fake APIs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.threadserver import ThreadedServer


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def build_pdf(
    pages: list[list[tuple[float, float, float, str]]],
    info: dict[str, str] | None = None,
) -> bytes:
    """A PDF whose pages show ``(size, x, y, text)`` runs in Helvetica; ``info`` as its Info."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for runs in pages:
        stream = b"".join(
            b"BT /F1 %.1f Tf %.1f %.1f Td %s Tj ET\n" % (size, x, y, _pdf_string(text))
            for size, x, y, text in runs
        )
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_id, font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info_id = None
    if info is not None:
        entries = b" ".join(
            b"/" + key.encode("ascii") + b" " + _pdf_string(value) for key, value in info.items()
        )
        info_id = add(b"<< " + entries + b" >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info_id is not None:
        trailer += b" /Info %d 0 R" % info_id
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


Route = tuple[int, str, bytes]
#: a route may be computed from the query (``parse_qs`` form)
Handler = Callable[[dict[str, list[str]]], Route]


class RouteServer(ThreadedServer):
    """Serve canned responses on 127.0.0.1; routes may be added while it runs."""

    def __init__(self) -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.requests: Counter[str] = Counter()
        self.headers: dict[str, dict[str, str]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                server.requests[target] += 1
                server.headers[target] = {k.lower(): v for k, v in self.headers.items()}
                route = server.routes.get(target) or server.routes.get(parts.path)
                if callable(route):
                    route = route(parse_qs(parts.query))
                status, kind, body = route or (404, "text/html", b"<h1>Not found</h1>")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


# --- registry answers, in the shapes their public documentation gives ---------------------

ATOM_NS = 'xmlns="http://www.w3.org/2005/Atom"'
ARXIV_NS = 'xmlns:arxiv="http://arxiv.org/schemas/atom"'


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def arxiv_entry(
    arxiv_id: str,
    title: str,
    authors: list[str],
    published: str,
    *,
    doi: str | None = None,
    journal_ref: str | None = None,
) -> str:
    """One ``<entry>`` of an arXiv API answer (arXiv API user manual, "Atom" section)."""
    author_xml = "".join(
        f"<author><name>{_xml(a)}</name><arxiv:affiliation>Somewhere</arxiv:affiliation></author>"
        for a in authors
    )
    extra = f"<arxiv:doi>{_xml(doi)}</arxiv:doi>" if doi else ""
    if journal_ref:
        extra += f"<arxiv:journal_ref>{_xml(journal_ref)}</arxiv:journal_ref>"
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}</id>"
        f"<updated>{published}</updated><published>{published}</published>"
        # titles wrap onto several lines in real answers
        f"<title>{_xml(title).replace(' ', chr(10) + '  ', 1)}</title>"
        f"<summary>  An abstract.\n</summary>{author_xml}{extra}"
        f'<link href="http://arxiv.org/abs/{arxiv_id}" rel="alternate" type="text/html"/>'
        f'<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}" rel="related"'
        ' type="application/pdf"/>'
        '<arxiv:primary_category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>'
        '<category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/></entry>'
    )


def arxiv_feed(*entries: str) -> bytes:
    """An arXiv API answer around ``entries`` (none: the id is unknown)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed {ATOM_NS} {ARXIV_NS}>'
        '<link href="http://arxiv.org/api/query?id_list=x" rel="self" type="application/atom+xml"/>'
        '<title type="html">ArXiv Query: id_list=x</title>'
        "<id>http://arxiv.org/api/x</id><updated>2024-01-05T00:00:00-05:00</updated>"
        '<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"{len(entries)}</opensearch:totalResults>" + "".join(entries) + "</feed>"
    ).encode()


def crossref_work(
    doi: str,
    title: str,
    authors: list[tuple[str, str]],
    published: list[int],
    *,
    container: str | None = None,
    issn: str | None = None,
) -> bytes:
    """A Crossref ``/works/{doi}`` answer (REST API documentation, "work" message)."""
    import json

    message: dict[str, Any] = {
        "DOI": doi,
        "type": "journal-article",
        "title": [title],
        "author": [
            {"given": given, "family": family, "sequence": "first" if i == 0 else "additional"}
            for i, (given, family) in enumerate(authors)
        ],
        "published-online": {"date-parts": [published]},
        "published-print": {"date-parts": [[published[0] + 1, 1]]},
        "issued": {"date-parts": [published]},
        "publisher": "Test Publisher",
        "URL": f"https://doi.org/{doi}",
    }
    if container:
        message["container-title"] = [container]
    if issn:
        message["ISSN"] = [issn]
    return json.dumps(
        {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": message}
    ).encode()


def watch_page(
    video_id: str,
    title: str,
    channel: str,
    upload_date: str,
    description: str,
    tracks: list[dict[str, str]],
) -> bytes:
    """A YouTube-like watch page embedding ``ytInitialPlayerResponse`` with its captions."""
    import json

    player: dict[str, Any] = {
        "responseContext": {"serviceTrackingParams": []},
        "playabilityStatus": {"status": "OK"},
        "videoDetails": {
            "videoId": video_id,
            "title": title,
            "lengthSeconds": "600",
            "author": channel,
            "channelId": "UC0000000000000000000000",
            "shortDescription": description,
            "viewCount": "1234",
        },
        "microformat": {
            "playerMicroformatRenderer": {
                "title": {"simpleText": title},
                "description": {"simpleText": description},
                "ownerChannelName": channel,
                "uploadDate": upload_date,
                "publishDate": upload_date,
            }
        },
    }
    if tracks:
        player["captions"] = {
            "playerCaptionsTracklistRenderer": {
                "captionTracks": [
                    {
                        "baseUrl": t["baseUrl"],
                        "name": {"simpleText": t["languageCode"]},
                        "vssId": "." + t["languageCode"],
                        "languageCode": t["languageCode"],
                        **({"kind": t["kind"]} if "kind" in t else {}),
                        "isTranslatable": True,
                    }
                    for t in tracks
                ]
            }
        }
    script = json.dumps(player)
    filler = "".join(f"<div class='x'>menu item {i}</div>" for i in range(200))
    return (
        "<!DOCTYPE html><html lang='en'><head><title>"
        f"{title} - YouTube</title><meta property='og:title' content='{title}'></head>"
        f"<body>{filler}<script>var ytInitialPlayerResponse = {script};"
        "var meta = document.createElement('meta');</script>"
        "<div id='player'>Enable JavaScript to watch this video.</div></body></html>"
    ).encode()


def timedtext(cues: list[tuple[float, float, str]]) -> bytes:
    """A timedtext caption track: ``<transcript><text start dur>`` (text escaped twice)."""
    body = "".join(
        f'<text start="{start}" dur="{dur}">{_xml(_xml(text))}</text>' for start, dur, text in cues
    )
    return f'<?xml version="1.0" encoding="utf-8" ?><transcript>{body}</transcript>'.encode()


def arxiv_api(entries: dict[str, str]) -> Handler:
    """An arXiv API fake: answers ``id_list=a,b`` with the entries of the ids it knows.

    ``entries`` maps ids (with or without version) to :func:`arxiv_entry` XML;
    an id asked with a version the fake does not know gets no entry, as arXiv
    answers for a version that does not exist.
    """

    def answer(query: dict[str, list[str]]) -> Route:
        asked = (query.get("id_list") or [""])[0].split(",")
        found = [entries[i] for i in asked if i in entries]
        return 200, "application/atom+xml; charset=utf-8", arxiv_feed(*found)

    return answer
