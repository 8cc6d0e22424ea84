"""The pure rules of reference rot (pipelines/rot), table-driven, and the state's rot tables."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.incremental.store import OriginProbe, RotState, StateStore, read_all, read_rot
from pipelines.extract import extract, make_preview
from pipelines.rot import cdx
from pipelines.rot.deadness import Failures, dead_confirmed, next_failures
from pipelines.rot.drift import drift_of
from pipelines.rot.parking import PARKING_MARKUP
from pipelines.rot.probe import (
    PageView,
    identified_document,
    origin_of,
    probe_url,
    resembles_probe,
)
from pipelines.rot.signals import (
    _PARKING_TEXT,
    _PARKING_WORDS,
    MARKUP_HEAD_BYTES,
    PARKING_TEXT_CHARS,
    is_landing_path,
    login_evidence,
    markup_signals,
    not_found_wording,
    parking_host,
    parking_wording,
    visible_text_head,
)
from pipelines.rot.similarity import sketch, sketch_similarity, text_similarity, title_similarity
from tests.test_rot_sites import article_text

TESTS = Path(__file__).parent

# --- not-found wording ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Page not found | Daily Ledger", "Sorry, we looked everywhere."),
        ("404", None),
        ("Error 404 - Example", "Back to the home page."),
        ("Example", "Oops! The page you are looking for does not exist."),
        ("Example", "The requested URL was not found on this server."),
        ("Seite nicht gefunden \u2013 Stadtanzeiger", "Zur Startseite"),
        ("Stadtanzeiger", "Leider wurde die Seite nicht gefunden."),
        ("Page introuvable", "Retour à l'accueil"),
        ("Le Monde des Jardins", "Désolé, cette page n\u2019existe pas."),
        ("Página no encontrada", None),
        ("El Diario", "Lo sentimos, la página no existe."),
        ("Pagina non trovata", None),
        ("Página não encontrada \u2013 Folha", None),
        ("Pagina niet gevonden", None),
        ("Страница не найдена", None),
        ("ページが見つかりません", None),
        ("页面不存在", None),
        ("Nie znaleziono strony", None),
        ("Gazeta", "Strona nie istnieje."),
    ],
)
def test_not_found_pages_say_so(title: str, text: str | None) -> None:
    assert not_found_wording(title, text, len(text or "")) is not None


@pytest.mark.parametrize(
    ("title", "text", "chars"),
    [
        # long articles whose words happen to match
        ("Missing plane still not found, say investigators", "Search teams returned.", 2500),
        ("Why the gene was not found in mice", "The study found no trace.", 800),
        ("Flight 404 lands safely after storm over the Atlantic ocean near Ireland", "x", 500),
        ("Urban trees cool cities", "A page of careful measurements.", 4000),
        ("El dinero no existe: ensayo", "Un ensayo largo " * 200, 3200),
    ],
)
def test_articles_are_not_not_found_pages(title: str, text: str, chars: int) -> None:
    assert not_found_wording(title, text, chars) is None


def _extracted(path: Path) -> tuple[str | None, str | None, int]:
    result = extract(path.read_bytes(), {"content-type": "text/html"}, "https://example.org/a/b")
    preview, _ = make_preview(result.text, 3000)
    return result.title, preview, len(result.text or "")


@pytest.mark.parametrize(
    "path",
    sorted((TESTS / "site").glob("*.html")) + sorted((TESTS / "extract_pages").glob("*.html")),
    ids=lambda p: p.name,
)
def test_real_pages_show_no_rot(path: Path) -> None:
    title, preview, chars = _extracted(path)
    assert not_found_wording(title, preview, chars) is None
    assert parking_wording(title, preview) is None
    signals = markup_signals(path.read_bytes())
    assert signals.parking_marker is None and signals.parking_phrase is None


# --- parking, landing and sign-in pages -----------------------------------------------


def test_parking_signals() -> None:
    lander = (
        b"<html><head><title>old-blog.org</title>"
        b'<script src="https://img1.wsimg.com/parking-lander/static/js/main.js"></script>'
        b"</head><body><p>This domain may be for sale!</p></body></html>"
    )
    signals = markup_signals(lander)
    assert signals.parking_marker == "img1.wsimg.com/parking-lander"
    assert signals.parking_phrase == "this domain may be for sale"
    assert parking_wording("Buy this domain", None) == "buy this domain"
    assert parking_wording(None, "Dieser Text: Diese Domain steht zum Verkauf.") is not None
    assert parking_wording(None, "Ce nom de domaine est à vendre") is not None
    assert parking_wording("How domain auctions work", "Prices rose in 2024.") is None
    assert parking_host(["http://example.org/a", "https://www.sedoparking.com/x"]) == (
        "www.sedoparking.com"
    )
    assert parking_host(["https://example.org/sedo.com"]) is None


# One phrase for each alternative of the parking pattern, in its order: each
# must match, and only through a word of _PARKING_WORDS (the pre-check).
PARKING_PHRASES = [
    "this domain might be for sale",
    "make an offer on this domain",
    "domain name is for sale",
    "this domain has been registered",
    "parked free, courtesy of",
    "the domain parking service",
    "domain available for purchase",
    "enquire about this domain",
    "this webpage is parked",
    "the owner has not yet uploaded their website",
    "this domain name has expired",
    "the domain example.org may be for sale",
    "old-blog.co.uk is available for sale",
    "example.com may be for purchase",
    "diese domain kann erworben werden",
    "acheter ce nom de domaine",
    "este dominio está en venta",
    "questo dominio è in vendita",
    "compre este domínio",
    "deze domeinnaam is te koop",
    "купить этот домен",
    "このドメインは販売中",
    "该域名正在出售",
    "domena na sprzedaż",
]


@pytest.mark.parametrize("phrase", PARKING_PHRASES)
def test_parking_phrases_pass_the_word_check(phrase: str) -> None:
    assert _PARKING_TEXT.search(phrase) is not None
    assert any(word in phrase for word in _PARKING_WORDS)
    assert parking_wording(None, f"Welcome. {phrase.upper()} today.") is not None


def test_parking_pattern_alternatives_each_need_a_word() -> None:
    # Striking each word out of every phrase that carries it must stop the
    # match: an alternative that could match without any of the words would
    # be skipped by the pre-check.
    for phrase in PARKING_PHRASES:
        stripped = phrase
        for word in _PARKING_WORDS:
            stripped = stripped.replace(word, "x" * len(word))
        assert _PARKING_TEXT.search(stripped) is None, phrase


@pytest.mark.parametrize("marker", PARKING_MARKUP, ids=lambda m: m.decode())
def test_every_parking_marker_is_found_in_its_order(marker: bytes) -> None:
    later = PARKING_MARKUP[PARKING_MARKUP.index(marker) :]
    body = b"<p>x</p>" * 5000 + b"<script src='//" + marker.upper() + b"/a.js'></script>"
    assert markup_signals(body).parking_marker == marker.decode()
    # with every later marker ahead of it in the page, the list's order decides
    ahead = b"".join(b"<img src='//" + m + b"'>" for m in reversed(later))
    assert markup_signals(ahead + body).parking_marker == marker.decode()
    assert markup_signals(b"<p>" * 10 + marker[:-1] + b"</p>").parking_marker is None


def _whole_head_phrase(body: bytes) -> str | None:
    """markup_signals' phrase as it was computed before: the text of the whole head."""
    head = body[:MARKUP_HEAD_BYTES]
    tags = re.compile(rb"<[^<>]{0,4096}>")
    visible = re.sub(r"\s+", " ", tags.sub(b" ", head).decode("utf-8", "replace"))
    found = _PARKING_TEXT.search(unicodedata.normalize("NFKC", visible[:4000]).casefold())
    return found.group(0) if found else None


def _hostile_markup(rng: random.Random, size: int) -> bytes:
    # Pieces that make a window's cut hard: tags of every length (some over the
    # tag bound, some unclosed), stray brackets, multi-byte characters (and
    # broken ones), runs of every kind of whitespace, and parking words.
    pieces = [
        b"<p>", b"</div>", b"<a href='x'>", b"<", b">", b"<<", b">>", b" ", b"\n\t ",
        b"\xc2\xa0", b"\xe3\x80\x80", "é".encode(), "ドメイン".encode(), b"\xe3\x83",
        b"\xff", b"word ", b"this domain is for sale ", b"<script>var a = 1 > 0;</script>",
        b"<!-- c -->", b"<" + b"x" * 5000 + b">", b"<" + b"y" * 4095 + b">",
    ]  # fmt: skip
    out = bytearray()
    while len(out) < size:
        out += rng.choice(pieces)
    return bytes(out)


def test_visible_text_head_is_a_prefix_of_the_whole_text() -> None:
    rng = random.Random(19)
    tags = re.compile(rb"<[^<>]{0,4096}>")
    for case in range(60):
        body = _hostile_markup(rng, rng.choice([100, 20_000, 70_000, 300_000]))
        head = body[:MARKUP_HEAD_BYTES]
        whole = re.sub(r"\s+", " ", tags.sub(b" ", head).decode("utf-8", "replace"))
        chars = rng.choice([1, 50, PARKING_TEXT_CHARS, 30_000])
        part = visible_text_head(head, chars)
        assert whole.startswith(part), case
        assert len(part) >= min(chars, len(whole)), case


def test_markup_phrase_is_the_whole_head_phrase() -> None:
    rng = random.Random(7)
    bodies = [_hostile_markup(rng, rng.choice([3_000, 40_000, 400_000])) for _ in range(40)]
    # the phrase past the first window, after markup without text
    bodies.append(b"<i>" * 20_000 + b"<b>this domain is for sale</b>")
    bodies += [b"<i>" * 20_000 + b"word " * n + b"buy this domain" for n in (700, 900)]
    bodies += [p.read_bytes() for p in sorted((TESTS / "extract_pages").glob("*.html"))]
    for body in bodies:
        assert markup_signals(body).parking_phrase == _whole_head_phrase(body)


@pytest.mark.parametrize(
    ("url", "landing"),
    [
        ("https://a.example/", True),
        ("https://a.example", True),
        ("https://a.example/index.html", True),
        ("https://a.example/en/", True),
        ("https://a.example/pt-br/", True),
        ("https://a.example/home", True),
        ("https://a.example/de/startseite", True),
        ("https://a.example/news/2020/story", False),
        ("https://a.example/?p=123", False),
        ("https://a.example/about-us", False),
    ],
)
def test_landing_paths(url: str, landing: bool) -> None:
    assert is_landing_path(url) is landing


def test_login_evidence() -> None:
    assert login_evidence("https://a.example/login?next=/x", None, False, 0)
    assert login_evidence("https://a.example/users/sign_in", None, False, 0)
    assert login_evidence("https://a.example/wp-login.php?redirect_to=x", None, False, 0)
    assert login_evidence("https://a.example/gate", "Anmelden \u2013 Zeitung", False, 0)
    assert login_evidence("https://a.example/gate", "Welcome", True, 200)
    # a password box in the header of a long article is not a sign-in page
    assert login_evidence("https://a.example/story", "A story", True, 5000) is None
    assert login_evidence("https://a.example/authors/jane", "Jane Doe", False, 900) is None


# --- similarity, sketches, drift -------------------------------------------------------


def test_sketch_bytes_are_stable() -> None:
    # Sketches are kept in the state from night to night: a change of their
    # bytes would make every page look drifted. Vectors from the first version.
    cited = sketch(" ".join(article_text("cited")))
    assert cited is not None and len(cited) == 256
    assert cited[:16].hex() == "004660ba00c47ca101e3e92e01f76073"
    assert cited[-8:].hex() == "2ae86def2aebf468"
    short = sketch("Ein kurzer Text über Verläufe, 東京の天気 and more words")
    assert short is not None
    assert short.hex() == (
        "1169e0772f97d799469adfe5a80ca20fcc8ad1e3f3f85b66fad1325dfd796507fdac84a7"
    )


def test_similarity_measures() -> None:
    a = " ".join(article_text("one"))
    b = " ".join(article_text("two"))
    edited = article_text("one")
    edited.insert(1, "Update: the figures were confirmed on Monday by the council.")
    assert text_similarity(a, a) == 1.0
    assert text_similarity(a, b) is not None and text_similarity(a, b) < 0.2  # type: ignore[operator]
    assert text_similarity(None, "") is None
    estimate = sketch_similarity(sketch(a), sketch(" ".join(edited)))
    assert estimate is not None and estimate > 0.8
    different = sketch_similarity(sketch(a), sketch(b))
    assert different is not None and different < 0.2
    assert sketch("") is None and sketch_similarity(None, sketch(a)) is None
    assert len(sketch(a) or b"") <= 256
    assert title_similarity("Urban trees cool cities", "Urban trees cool cities | Planet") == 1.0
    low = title_similarity("Urban trees cool cities", "Quarterly parking statistics")
    assert low is not None and low < 0.3
    assert title_similarity(None, "x") is None
    # scripts without spaces between words compare character by character
    cjk = title_similarity("城市树木降温", "城市树木降温 - 新闻")
    assert cjk == 1.0


def test_drift_rules() -> None:
    first = sketch(" ".join(article_text("cited")))
    other = sketch(" ".join(article_text("replacement")))
    at = "2026-01-01T02:00:00Z"
    same = drift_of(entry_title="T", page_title="T", current=first, baseline=first, baseline_at=at)
    assert same is not None and same.drifted is False and same.content_similarity == 1.0
    moved = drift_of(
        entry_title="Cited", page_title="Other", current=other, baseline=first, baseline_at=at
    )
    assert moved is not None and moved.drifted is True and moved.baseline_at == at
    # first sight: the page is its own baseline
    new = drift_of(entry_title=None, page_title="x", current=first, baseline=None, baseline_at=at)
    assert new is not None and new.as_record()["content_similarity"] == 1.0
    assert (
        drift_of(entry_title=None, page_title=None, current=None, baseline=None, baseline_at=at)
        is None
    )
    titled = drift_of(entry_title="A", page_title="A", current=None, baseline=first, baseline_at=at)
    assert titled is not None and titled.drifted is False and titled.content_similarity is None


# --- probes ---------------------------------------------------------------------------


def test_probe_urls_keep_depth_and_shape() -> None:
    rng = random.Random(7)
    url = probe_url("https://a.example/news/2020/story-123", rng)
    assert url is not None and url.startswith("https://a.example/news/2020/")
    last = url.rsplit("/", 1)[-1]
    assert last != "story-123" and last[5] == "-" and last[-6:].isalpha()
    ident = probe_url("https://a.example/node/12345", rng)
    assert (
        ident is not None
        and ident.rsplit("/", 1)[-1].isdigit()
        and len(ident) == len("https://a.example/node/12345") + 6
    )
    html = probe_url("https://a.example/a/b/page.html", rng)
    assert html is not None and html.startswith("https://a.example/a/b/") and html.endswith(".html")
    # the query stays: a page that ignores it (?ref=...) must not be asked for itself
    query = probe_url("https://a.example/story?ref=feed", rng)
    assert query is not None and query.endswith("?ref=feed")
    assert not query.startswith("https://a.example/story?")
    assert probe_url("https://a.example/x/", rng) != "https://a.example/x/"
    assert origin_of("HTTPS://A.example/x") == "https://a.example:443"
    assert origin_of("http://a.example:8080/x") == "http://a.example:8080"
    assert origin_of("mailto:x@y") is None


def test_probe_resemblance() -> None:
    not_found = PageView(
        "https://a.example/p/zzqx-19",
        "https://a.example/p/zzqx-19",
        200,
        "Latest stories | Metro",
        "Browse our coverage of transport, housing and climate.",
    )
    source = PageView(
        "https://a.example/p/gone-1",
        "https://a.example/p/gone-1",
        200,
        "Latest stories | Metro",
        "Browse our coverage of transport, housing and climate.",
    )
    assert resembles_probe(source, not_found)
    article = PageView(
        "https://a.example/p/kept",
        "https://a.example/p/kept",
        200,
        "Kept story | Metro",
        " ".join(article_text("kept")),
    )
    assert resembles_probe(article, not_found) is None
    # a real 404 for the probe: nothing to compare
    real = PageView(not_found.requested_url, not_found.final_url, 404, "Not found", None)
    assert resembles_probe(source, real) is None
    # both redirected to the same error page
    moved = PageView("https://a.example/p/x", "https://a.example/error", 200, None, None)
    probe = PageView("https://a.example/p/qq", "https://a.example/error", 200, None, None)
    assert resembles_probe(moved, probe)
    # a site that repeats the random path makes its pages from paths: no verdict
    echo_src = PageView(
        "https://a.example/p/missing-post",
        "https://a.example/p/missing-post",
        200,
        "missing post | Metro",
        "No story called missing post here.",
    )
    echo_probe = PageView(
        "https://a.example/p/qzvx-abcdef",
        "https://a.example/p/qzvx-abcdef",
        200,
        "qzvx abcdef | Metro",
        "No story called qzvx abcdef here.",
    )
    assert resembles_probe(echo_src, echo_probe) is None
    # ... unless its answer says "not found": a not-found template that repeats the request
    sidebar = " ".join(article_text("popular"))
    echo_404 = PageView(
        "https://a.example/p/missing-post",
        "https://a.example/p/missing-post",
        200,
        "Not found: missing post | Metro",
        f"Sorry, missing post was not found. {sidebar}",
    )
    echo_404_probe = PageView(
        "https://a.example/p/qzvx-abcdef",
        "https://a.example/p/qzvx-abcdef",
        200,
        "Not found: qzvx abcdef | Metro",
        f"Sorry, qzvx abcdef was not found. {sidebar}",
    )
    assert resembles_probe(echo_404, echo_404_probe)
    # a page made of its path ("Waited 0.1 seconds") is not a template
    made = PageView(
        "http://a/delay/0.1?n=5", "http://a/delay/0.1?n=5", 200, "Delayed", "Waited 0.1 seconds."
    )
    made_probe = PageView(
        "http://a/delay/7.3482913?n=5",
        "http://a/delay/7.3482913?n=5",
        200,
        "Delayed",
        "Waited 7.3482913 seconds.",
    )
    assert resembles_probe(made, made_probe) is None
    # remembered probes read back
    assert PageView.from_json(json.loads(json.dumps(not_found.as_json()))) == not_found
    assert PageView.from_json({"requested_url": 3}) is None


def test_identified_documents_are_never_compared_with_the_probe() -> None:
    assert identified_document(
        published_date="2024-02-14", authors=["P. Raman"], entry_title=None, page_title="x"
    )
    assert identified_document(
        published_date=None,
        authors=[],
        entry_title="Urban trees cool cities",
        page_title="Urban trees cool cities | Planet",
    )
    assert not identified_document(
        published_date="2024-02-14", authors=[], entry_title=None, page_title="Latest stories"
    )


# --- dead means dead ------------------------------------------------------------------


def test_failures_in_a_row_and_confirmation() -> None:
    nights = ["2026-01-05T02:00:00Z", "2026-01-06T02:00:00Z", "2026-01-07T02:00:00Z"]
    failures = Failures(None, 0)
    confirmed = []
    for night in nights:
        failures = next_failures(failures, "dead", "http_404", night)
        confirmed.append(dead_confirmed(failures, "dead", night, after_failures=3, after_days=3))
    assert confirmed == [False, False, True]
    assert failures == Failures(nights[0], 3)
    # three failures in one day are not three days
    same_day = Failures("2026-01-05T02:00:00Z", 3)
    assert not dead_confirmed(
        same_day, "dead", "2026-01-05T09:00:00Z", after_failures=3, after_days=3
    )
    # an error night counts, a refusal neither counts nor breaks the run, ok resets
    assert (
        next_failures(Failures(nights[0], 1), "error", "timeout", nights[1]).failures_in_a_row == 2
    )
    assert next_failures(Failures(nights[0], 1), "error", "robots", nights[1]) == Failures(
        nights[0], 1
    )
    assert next_failures(Failures(nights[0], 2), "ok", None, nights[2]) == Failures(None, 0)
    # only a dead source is confirmed dead
    assert not dead_confirmed(
        Failures(nights[0], 5), "error", nights[2], after_failures=3, after_days=3
    )


# --- CDX --------------------------------------------------------------------------------

HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]


def _answer(*rows: list[str]) -> bytes:
    return json.dumps([HEADER, *rows]).encode()


def test_cdx_answers() -> None:
    row = ["org,x)/a", "20200102030405", "http://x.org/a", "text/html", "200", "D", "9"]
    assert cdx.parse_answer(b"[]", "2021") is None
    assert cdx.parse_answer(b"", "2021") is None
    assert cdx.parse_answer(_answer(), "2021") is None
    capture = cdx.parse_answer(_answer(row), "2021")
    assert capture is not None and capture.captured_at == "2020-01-02T03:04:05Z"
    later = [*row[:1], "20230101000000", *row[2:]]
    redirect = [*row[:1], "20210101000000", *row[2:4], "301", *row[5:]]
    closest = cdx.parse_answer(_answer(row, later, redirect), "20220901")
    assert closest is not None and closest.timestamp == "20230101000000"
    with pytest.raises(ValueError):
        cdx.parse_answer(b"<html>rate limited</html>", "2021")
    with pytest.raises(ValueError):
        cdx.parse_answer(b'{"error": 1}', "2021")
    query = cdx.query_url("https://web.archive.org/cdx/search/cdx", "http://x.org/a?b=1", "2021")
    assert "output=json" in query and "filter=statuscode%3A200" in query and "closest=2021" in query
    assert "url=http%3A%2F%2Fx.org%2Fa%3Fb%3D1" in query
    assert cdx.replay_url("https://web.archive.org/web/", "20200102030405", "http://x.org/a") == (
        "https://web.archive.org/web/20200102030405/http://x.org/a"
    )
    assert (
        cdx.original_bytes_url("https://w/web/", "1", "http://x") == "https://w/web/1id_/http://x"
    )
    assert cdx.to_timestamp(datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20200102030405"


# --- the state ----------------------------------------------------------------------------


def test_old_state_files_open_and_rot_rows_round_trip(tmp_path: Path) -> None:
    old = tmp_path / "state.sqlite"
    # A state written before the rot tables existed (the sources table only).
    with sqlite3.connect(old) as db:
        db.execute(
            "CREATE TABLE sources (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, "
            "content_sha256 TEXT, first_seen TEXT NOT NULL, last_changed TEXT NOT NULL, "
            "checked_at TEXT, status TEXT NOT NULL, record BLOB)"
        )
        db.execute(
            "INSERT INTO sources VALUES "
            "('http://a/x', NULL, NULL, NULL, 't', 't', NULL, 'ok', NULL)"
        )
    store = StateStore(old, tmp_path / "next.sqlite")
    assert store.get("http://a/x") is not None
    assert store.get_rot("http://a/x") is None and store.get_origin("http://a:80") is None
    row = RotState(
        "http://a/x", "2026-01-01T02:00:00Z", 2, sketch("some words here"), "t", None, "t"
    )
    store.put_rot(row)
    store.put_origin(OriginProbe("http://a:80", "2026-01-01T02:00:00Z", {"requested_url": "u"}))
    path = store.finish()
    rows, origins = read_rot(path)
    assert rows == {"http://a/x": row}
    assert origins["http://a:80"].probe == {"requested_url": "u"}
    assert read_all(path) == {}  # the sources table is the incremental stage's to fill
