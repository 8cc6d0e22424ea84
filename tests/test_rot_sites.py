"""Loopback sites that rot the way the web does, and a fake Wayback CDX server.

Each :class:`Site` is its own origin (its own port on 127.0.0.1) and answers
like a kind of real site: articles with real 404s, soft 404s in a template
(English, German, and one without any not-found words), a site that sends
every unknown path home, a parked domain, a members area behind a sign-in
page, a page replaced between two nights, and a lively site that answers
every path with different real content. :class:`FakeArchive` speaks the CDX
JSON format (empty answers and 429s included) and replays captures.

The tests at the bottom check the sites themselves; the crawl tests are in
``test_rot_crawl.py``.
"""

from __future__ import annotations

import html
import json
import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.threadserver import ThreadedServer

Answer = tuple[int, dict[str, str], bytes]

_SUBJECTS = (
    "the city council",
    "a team of hydrologists",
    "the regional transit agency",
    "local beekeepers",
    "the university's robotics lab",
    "a coalition of farmers",
    "the harbour authority",
    "independent auditors",
    "the national weather service",
    "volunteer archivists",
    "the school district",
    "a startup making heat pumps",
    "marine biologists",
    "the public library",
    "wildfire researchers",
    "a group of nurses",
)
_VERBS = (
    "published",
    "questioned",
    "measured",
    "rebuilt",
    "documented",
    "funded",
    "tested",
    "delayed",
    "expanded",
    "mapped",
    "audited",
    "replaced",
)
_OBJECTS = (
    "the flood barriers along the river",
    "a survey of groundwater wells",
    "the night bus timetable",
    "pollinator corridors between parks",
    "a prototype for sorting recycling",
    "soil moisture across three valleys",
    "the ferry terminal's cranes",
    "procurement records from last year",
    "rainfall gauges in the hills",
    "thousands of fragile letters",
    "the lunch programme in rural schools",
    "cold-climate compressors",
    "eelgrass beds in the bay",
    "overdue book fines",
    "burn scars from satellite images",
    "staffing on night shifts",
)
_DETAILS = (
    "according to figures released on Tuesday",
    "after two years of complaints",
    "with money left over from an earlier grant",
    "despite objections from several residents",
    "in a report that runs to ninety pages",
    "using sensors that cost less than a bicycle",
    "while the budget debate dragged on",
    "as part of a pilot that may be extended",
    "before the first autumn storms arrived",
    "with help from students at the technical college",
)


def article_text(seed: str, paragraphs: int = 6) -> list[str]:
    """Paragraphs of plausible, distinct news prose, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(3, 5)):
            sentence = (
                f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
                f"{rng.choice(_DETAILS)}, and {rng.choice(_SUBJECTS)} "
                f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
            )
            sentences.append(sentence[0].upper() + sentence[1:])
        out.append(" ".join(sentences))
    return out


def page(
    site: str, title: str, paragraphs: list[str], *, lang: str = "en", extra_head: str = ""
) -> bytes:
    """An HTML page in a site's template (header, navigation, sidebar, footer)."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(title)} | {html.escape(site)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{extra_head}
</head><body>
<header><a class="logo" href="/">{html.escape(site)}</a>
<nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/about">About us</a>
<a href="/contact">Contact</a> <a href="/newsletter">Newsletter</a></nav></header>
<main><article><h1>{html.escape(title)}</h1>
{body}
</article></main>
<aside><h2>Most read</h2><ul><li><a href="/a">Budget talks continue</a></li>
<li><a href="/b">New bridge opens to cyclists</a></li>
<li><a href="/c">Library hours extended</a></li></ul></aside>
<footer><p>&copy; 2026 {html.escape(site)}. All rights reserved.</p>
<p><a href="/privacy">Privacy</a> &middot; <a href="/terms">Terms</a></p></footer>
</body></html>""".encode()


def ok(body: bytes, **headers: str) -> Answer:
    """A 200 HTML answer."""
    return 200, {"Content-Type": "text/html; charset=utf-8", **headers}, body


def redirect(location: str, status: int = 302) -> Answer:
    """A redirect."""
    return status, {"Location": location}, b""


def not_found(site: str) -> Answer:
    """A real 404."""
    return 404, {"Content-Type": "text/html; charset=utf-8"}, page(site, "Not found", ["Gone."])


Handler = Callable[["Site", str, dict[str, list[str]]], Answer]


class Site(ThreadedServer):
    """One origin on 127.0.0.1: a handler behind a threading HTTP server, with hit counts."""

    def __init__(self, name: str, handler: Handler, **data: Any) -> None:
        self.name = name
        self.handler = handler
        self.data = data
        self.night = 1
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with owner._lock:
                    owner.hits[self.path] += 1
                if parts.path == "/robots.txt":
                    status, headers, body = 200, {"Content-Type": "text/plain"}, b""
                else:
                    status, headers, body = owner.handler(owner, parts.path, parse_qs(parts.query))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(_Handler)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def requests_besides(self, paths: set[str]) -> int:
        """Requests for anything but ``paths`` and robots.txt (probes, mostly)."""
        with self._lock:
            return sum(n for p, n in self.hits.items() if p not in paths and p != "/robots.txt")


# --- the kinds of site -------------------------------------------------------------


def news_site(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
    """Articles under /news/<slug>; anything else is a real 404 (the home page aside)."""
    if path == "/":
        return ok(page(site.name, "Front page", article_text("front" + site.name, 2)))
    if path.startswith("/news/") and path.rstrip("/").rsplit("/", 1)[-1] in site.data["slugs"]:
        return ok(
            page(
                site.name,
                site.data["slugs"][path.rstrip("/").rsplit("/", 1)[-1]],
                article_text(path),
            )
        )
    return not_found(site.name)


def _template_site(not_found_page: Callable[[Site, str], bytes]) -> Handler:
    def handler(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
        slug = path.rstrip("/").rsplit("/", 1)[-1]
        if path == "/":
            return ok(page(site.name, "Welcome", article_text("home" + site.name, 2)))
        if slug in site.data["slugs"]:
            return ok(page(site.name, site.data["slugs"][slug], article_text(site.name + path)))
        return ok(not_found_page(site, path))

    return handler


def _english_404(site: Site, path: str) -> bytes:
    return page(
        site.name,
        "Page not found",
        [
            f"Sorry, the page {path} could not be found.",
            "It may have been moved or deleted. Try the search box or go back to the home page.",
        ],
    )


def _german_404(site: Site, path: str) -> bytes:
    return page(
        site.name,
        "Seite nicht gefunden",
        [
            "Leider existiert die von Ihnen aufgerufene Seite nicht (mehr).",
            "Bitte nutzen Sie die Suche oder kehren Sie zur Startseite zurück.",
        ],
        lang="de",
    )


def _silent_404(site: Site, path: str) -> bytes:
    # No "not found" anywhere: a generic listing the CMS shows for any unknown slug.
    return page(
        site.name,
        "Latest stories",
        [
            "Browse our coverage of transport, housing, climate and the city budget.",
            "New stories are added every weekday morning by our newsroom.",
            "Subscribe to the newsletter to get the week's best reporting in your inbox.",
        ],
    )


soft404_english = _template_site(_english_404)
soft404_german = _template_site(_german_404)
soft404_silent = _template_site(_silent_404)


def redirect_home_site(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
    """Known articles, and a 301 to the home page (in /en/) for everything else."""
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    if path == "/en/":
        return ok(page(site.name, "Home", article_text("home" + site.name, 3)))
    if path == "/":
        return redirect("/en/", 301)
    if slug in site.data["slugs"]:
        return ok(page(site.name, site.data["slugs"][slug], article_text(site.name + path)))
    return redirect("/en/", 301)


PARKING_PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title>
<script src="https://img1.wsimg.com/parking-lander/static/js/main.chunk.js"></script></head>
<body><div id="root"><h1>%s</h1><p>This domain may be for sale!</p>
<p><a href="https://www.afternic.com/forsale/%s">Buy this domain</a></p>
<p>Related searches: cheap flights, car insurance, online degrees</p></div></body></html>"""


def parked_site(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
    """Every path: the registrar's parking lander for the domain."""
    name = site.data.get("domain", b"old-research-blog.org")
    return ok(PARKING_PAGE % (name, name, name))


LOGIN_PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in | Members</title>
</head><body><form method="post" action="/login"><label>Email <input name="email"></label>
<label>Password <input type="password" name="password"></label><button>Sign in</button></form>
</body></html>"""


def members_site(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
    """Public articles, and /members/* redirected to a sign-in page."""
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    if path == "/login":
        return ok(LOGIN_PAGE)
    if path.startswith("/members/"):
        return redirect(f"/login?next={path}")
    if slug in site.data["slugs"]:
        return ok(page(site.name, site.data["slugs"][slug], article_text(site.name + path)))
    return not_found(site.name)


def drifting_site(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
    """/report/<slug>: one document on night 1; from night 2 on, other documents."""
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    if slug not in site.data["slugs"]:
        return not_found(site.name)
    title = site.data["slugs"][slug]
    if slug in site.data.get("replaced", ()) and site.night >= 2:
        # The same URL now carries another document under another headline.
        return ok(page(site.name, "Quarterly parking statistics", article_text("new" + path)))
    if slug in site.data.get("edited", ()) and site.night >= 2:
        # Edited in place: one paragraph added, the rest as it was.
        paragraphs = article_text(site.name + path)
        paragraphs.insert(2, "Update: the council confirmed the figures at Monday's meeting.")
        return ok(page(site.name, title, paragraphs))
    return ok(page(site.name, title, article_text(site.name + path)))


def lively_site(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
    """Every path answers 200 with its own real article (a wiki-like catch-all router)."""
    words = [w for w in path.replace("-", " ").replace("/", " ").split() if w]
    title = " ".join(words).title() or "Home"
    return ok(page(site.name, title, article_text(site.name + path, 5)))


# --- the archive -------------------------------------------------------------------

CDX_HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]


class FakeArchive(Site):
    """A Wayback-like archive: ``/cdx`` (CDX JSON) and ``/web/<ts>[id_]/<url>`` (replay).

    ``captures`` maps a URL to ``[(timestamp, status, html)]``; URLs listed in
    ``always_429`` are always refused with 429 (``Retry-After: 0``), those in
    ``once_429`` the first time they are asked for.
    """

    def __init__(
        self,
        captures: dict[str, list[tuple[str, str, bytes]]],
        *,
        always_429: set[str] | None = None,
        once_429: set[str] | None = None,
    ) -> None:
        super().__init__("archive", FakeArchive._answer)
        self.captures = captures
        self.always_429 = always_429 or set()
        self.once_429 = set(once_429 or ())
        self.queries: list[dict[str, list[str]]] = []

    @staticmethod
    def _answer(site: Site, path: str, query: dict[str, list[str]]) -> Answer:
        assert isinstance(site, FakeArchive)
        if path == "/cdx":
            return site._cdx(query)
        if path.startswith("/web/"):
            rest = path[len("/web/") :]
            stamp, _, original = rest.partition("/")
            for capture in site.captures.get(original, []):
                if stamp.removesuffix("id_") == capture[0]:
                    return ok(capture[2])
            return 404, {"Content-Type": "text/plain"}, b"not in the archive"
        return 404, {"Content-Type": "text/plain"}, b""

    def _cdx(self, query: dict[str, list[str]]) -> Answer:
        self.queries.append(query)
        url = query.get("url", [""])[0]
        if url in self.always_429:
            return 429, {"Retry-After": "0", "Content-Type": "text/plain"}, b"slow down"
        if url in self.once_429:
            self.once_429.discard(url)
            return 429, {"Retry-After": "0", "Content-Type": "text/plain"}, b"slow down"
        rows: list[list[str]] = []
        for stamp, status, _ in self.captures.get(url, []):
            if query.get("filter") == ["statuscode:200"] and status != "200":
                continue
            rows.append(["x)/", stamp, url, "text/html", status, "DIGEST", "1234"])
        body = json.dumps([CDX_HEADER, *rows]).encode() if rows else b"[]"
        return 200, {"Content-Type": "application/json"}, body


# --- checks of the sites themselves -----------------------------------------------


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.url, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, url, exc.read()


def test_sites_answer_as_described() -> None:
    slugs = {"kept": "A kept story"}
    with (
        Site("News", news_site, slugs=slugs) as news,
        Site("Blog", soft404_silent, slugs=slugs) as silent,
        Site("Home", redirect_home_site, slugs=slugs) as home,
        Site("Wiki", lively_site) as lively,
    ):
        assert _get(news.url("/news/kept"))[0] == 200
        assert _get(news.url("/news/gone"))[0] == 404
        assert _get(silent.url("/x/gone"))[0] == 200
        assert _get(silent.url("/x/gone"))[2] == _get(silent.url("/x/other"))[2]
        assert _get(home.url("/x/gone"))[1] == home.url("/en/")
        assert _get(lively.url("/a/one"))[2] != _get(lively.url("/a/two"))[2]
        assert news.hits["/news/kept"] == 1


def test_fake_archive_speaks_cdx_json() -> None:
    captures = {"http://gone.example/a": [("20200101000000", "200", b"<p>old</p>")]}
    with FakeArchive(captures, once_429={"http://gone.example/a"}) as archive:
        query = "/cdx?url=http://gone.example/a&output=json&filter=statuscode:200"
        assert _get(archive.url(query))[0] == 429
        status, _, body = _get(archive.url(query))
        assert status == 200
        rows = json.loads(body)
        assert rows[0] == CDX_HEADER and rows[1][1] == "20200101000000"
        assert json.loads(_get(archive.url("/cdx?url=http://none.example/&output=json"))[2]) == []
        replay = archive.url("/web/20200101000000id_/http://gone.example/a")
        assert _get(replay)[2] == b"<p>old</p>"
