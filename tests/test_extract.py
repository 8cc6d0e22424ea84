"""Tests of the pure extraction package on small saved pages (no network)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import pickle
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.extract import Extracted, extract, make_preview
from pipelines.extract.__main__ import main as cli_main
from pipelines.extract.dates import (
    _stated_days,
    htmldate_published,
    parse_date,
    reconcile_published,
    url_day,
    url_month,
)
from pipelines.extract.encoding import decode_body, detect_encoding
from pipelines.extract.markup import build_page
from pipelines.extract.metadata import clean_title, normalise_language
from pipelines.extract.pdf import parse_pdf_date
from pipelines.extract.sniff import classify
from pipelines.extract.text import LARGE_ELEMENTS, fast_main_text, is_large

PAGES = Path(__file__).parent / "extract_pages"
HTML = {"content-type": "text/html"}
FETCHED = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def run(name: str, url: str = "https://example.org/article", **kwargs: Any) -> Extracted:
    headers = kwargs.pop("headers", HTML)
    return extract(page(name), headers, url, fetched_at=kwargs.pop("fetched_at", FETCHED))


def make_pdf(title: str, lines: list[str]) -> bytes:
    """A minimal one-page PDF with Helvetica text, an /Info dictionary and /Lang."""
    ops = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td {ops} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R /Lang (en-GB) >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) /Author (Ada Byron; Charles Babbage)"
        " /CreationDate (D:20190704120000Z) /ModDate (D:20200102093000+01'00') >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


# --- interface ------------------------------------------------------------


def test_extracted_fields_and_types() -> None:
    names = [f.name for f in dataclasses.fields(Extracted)]
    assert names == [
        "content_type",
        "mime",
        "title",
        "published_date",
        "modified_date",
        "authors",
        "site_name",
        "language",
        "description",
        "text",
        "paywall",
        "paywall_reason",
        "identifiers",
    ]
    result = run("news_article.html")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.title = "changed"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(result)) == result
    assert isinstance(result.authors, tuple)


# --- HTML pages -----------------------------------------------------------

ARTICLES = [
    pytest.param(
        "news_article.html",
        {
            "title": "River towns plan shared flood barriers",
            "published_date": "2023-03-14",
            "modified_date": "2023-03-15",
            "authors": ("Priya Raman", "Tom Okafor"),
            "site_name": "The Riverside Courier",
            "language": "en",
            "description": "Three councils agree to pool money for removable barriers.",
            "paywall": False,
        },
        "Three neighbouring councils on the lower river have agreed to buy a shared stock",
        [
            "Accept all",
            "cookies",
            "Related stories",
            "Bridge repairs",
            "All rights reserved",
            "Sport",
        ],
        id="news-article",
    ),
    pytest.param(
        "blog_time_only.html",
        {
            "title": "Notes on sourdough hydration",
            "published_date": "2021-06-05",
            "modified_date": None,
            "authors": (),
            "language": None,
            "paywall": False,
        },
        "After a year of baking two loaves a week,",
        ["Archives", "Recipes", "home server"],
        id="time-element-only",
    ),
    pytest.param(
        "latin1_undeclared.html",
        {"title": "Une crème brûlée sans chalumeau", "published_date": None, "paywall": False},
        "La crème brûlée est un dessert simple",
        ["Accueil", "\ufffd"],
        id="latin1-undeclared",
    ),
    pytest.param(
        "meta_latin1_really_utf8.html",
        {"title": "Grüße aus München", "language": "de", "paywall": False},
        "Jürgen Müller schreibt seit zwanzig Jahren über die Brücken und Straßen",
        ["Ã", "\ufffd"],
        id="meta-latin1-bytes-utf8",
    ),
    pytest.param(
        "mentions_subscriptions.html",
        {
            "title": "Why everything became a subscription",
            "published_date": "2022-09-30",
            "authors": ("Lena Fischer",),
            "site_name": "Open Commons Review",
            "paywall": False,
            "paywall_reason": None,
        },
        "Software, music, cars' heated seats and even printer ink",
        ["free newsletter"],
        id="mentions-subscriptions",
    ),
]


@pytest.mark.parametrize(("name", "expected", "first_words", "absent"), ARTICLES)
def test_html_article(
    name: str, expected: dict[str, Any], first_words: str, absent: list[str]
) -> None:
    result = run(name)
    assert result.content_type == "html"
    assert result.mime == "text/html"
    for field, value in expected.items():
        assert getattr(result, field) == value, field
    assert result.text is not None
    preview, truncated = make_preview(result.text, 300)
    assert preview is not None and preview.startswith(first_words)
    assert truncated
    for junk in absent:
        assert junk not in result.text


def test_paragraphs_are_separated_by_blank_lines() -> None:
    text = run("news_article.html").text
    assert text is not None
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 5
    assert paragraphs[-1].startswith("The environment agency said")
    assert all(p == p.strip() and "  " not in p for p in paragraphs)


def test_paywalled_article() -> None:
    result = run("paywalled.html")
    assert result.paywall is True
    assert result.paywall_reason is not None and "isAccessibleForFree" in result.paywall_reason
    assert result.title == "Inside the bond market's quiet week"
    assert result.published_date == "2024-02-02"
    assert result.authors == ("Dana Whitfield",)
    assert result.text is not None and "yields barely moved" in result.text


PAYWALL_MARKUP = """<html><head><title>Budget talks stall</title></head><body>
<article><h1>Budget talks stall</h1>
<p>Negotiators left the building late on Tuesday without an agreement on next year's budget.</p>
<div class="article-body meteredContent"></div>
<div id="regwall"><p>Register to continue.</p></div>
</article></body></html>"""


def test_paywall_markup_with_teaser() -> None:
    result = extract(PAYWALL_MARKUP.encode(), HTML, "https://example.org/a", fetched_at=FETCHED)
    assert result.paywall is True
    assert result.paywall_reason is not None and "markup" in result.paywall_reason


def test_paywall_markup_ignored_on_full_article() -> None:
    # A long article in a page that carries an (unused) paywall container is readable.
    body = page("mentions_subscriptions.html").replace(
        b"<aside>", b'<div class="paywall"></div><aside>'
    )
    assert extract(body, HTML, "https://example.org/a", fetched_at=FETCHED).paywall is False


def test_not_free_statement_ignored_when_full_text_was_served() -> None:
    # Metered sites mark every article as not free, also when they serve it whole.
    more = b"".join(
        b"<p>Paragraph %d of the rest of the article: %s</p>" % (n, topic * 20)
        for n, topic in enumerate([b"prices rose. ", b"councils met. ", b"ships sailed. "])
    )
    body = (
        page("mentions_subscriptions.html")
        .replace(b'"isAccessibleForFree": true', b'"isAccessibleForFree": false')
        .replace(b"</article>", more + b"</article>")
    )
    assert b'"isAccessibleForFree": false' in body
    result = extract(body, HTML, "https://example.org/a", fetched_at=FETCHED)
    assert result.paywall is False and result.paywall_reason is None


# --- dates ----------------------------------------------------------------


def test_dates_never_after_fetch() -> None:
    result = run("news_article.html", fetched_at=datetime(2023, 3, 14, 18, 0, tzinfo=UTC))
    assert result.published_date == "2023-03-14"
    assert result.modified_date is None  # 2023-03-15 lies after the fetch
    early = run("news_article.html", fetched_at=datetime(2023, 3, 1, tzinfo=UTC))
    assert early.published_date is None or early.published_date <= "2023-03-01"
    assert early.modified_date is None


def test_guessed_fetch_day_is_not_a_publication_date() -> None:
    body = b"""<html><body><h1>Opening hours</h1><div class="widget">Today: 2024-05-01</div>
    <p>The library opens at nine and closes at six on weekdays, at one on Saturdays.</p>
    </body></html>"""
    fetched = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    url = "https://example.org/hours"
    assert extract(body, HTML, url, fetched_at=fetched).published_date is None
    later = datetime(2024, 6, 1, tzinfo=UTC)
    found = extract(body, HTML, url, fetched_at=later).published_date
    assert found == "2024-05-01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-03-14T09:30:00+01:00", date(2023, 3, 14)),
        ("2023-03-14", date(2023, 3, 14)),
        ("2023/3/4", date(2023, 3, 4)),
        ("20230314", date(2023, 3, 14)),
        ("Tue, 14 Mar 2023 09:30:00 GMT", date(2023, 3, 14)),
        ("March 14, 2023", date(2023, 3, 14)),
        ("14 March 2023 at 10:15", date(2023, 3, 14)),
        ("1678786200", date(2023, 3, 14)),
        ("2023", None),
        ("2023-02-30", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value: Any, expected: date | None) -> None:
    assert parse_date(value) == expected


# --- metadata helpers -----------------------------------------------------


@pytest.mark.parametrize(
    ("title", "site", "h1", "expected"),
    [
        ("Headline here | The Courier", "The Courier", None, "Headline here"),
        ("The Courier - Headline here", "The Courier", None, "Headline here"),
        ("Headline here \u2013 example.org", None, None, "Headline here"),
        ("Headline here | Examplenews", None, None, "Headline here"),
        ("Cats - Dogs - Site", None, "Cats - Dogs", "Cats - Dogs"),
        ("Brexit: what happens next", "The Courier", None, "Brexit: what happens next"),
        ("Plain headline", None, None, "Plain headline"),
    ],
)
def test_clean_title(title: str, site: str | None, h1: str | None, expected: str) -> None:
    assert clean_title(title, site, "https://www.examplenews.org/a", h1) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en-US", "en"),
        ("de_DE", "de"),
        ("FR", "fr"),
        ("en, de", "en"),
        ("und", None),
        ("english", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_language(value: str | None, expected: str | None) -> None:
    assert normalise_language(value) == expected


def test_double_escaped_metadata_is_unescaped() -> None:
    body = b"""<html><head><meta property="og:title" content="Coach: &amp;#8220;We won&amp;#8221;">
    </head><body><p>Short.</p></body></html>"""
    result = extract(body, HTML, "https://example.org/a", fetched_at=FETCHED)
    assert result.title == "Coach: \u201cWe won\u201d"


# --- encodings --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<p>crème</p>".encode("latin-1"), "text/html", "cp1252"),
        ("<p>crème</p>".encode(), "text/html", "utf-8"),
        ("<p>crème</p>".encode("latin-1"), "text/html; charset=ISO-8859-1", "cp1252"),
        # the header is trusted even when the bytes would also be valid UTF-8
        ("<p>crème</p>".encode(), "text/html; charset=windows-1252", "cp1252"),
        ('<meta charset="iso-8859-1"><p>crème</p>'.encode(), None, "utf-8"),
        ('<meta charset="iso-8859-1"><p>crème</p>'.encode("latin-1"), None, "cp1252"),
        ('<meta charset="utf-8"><p>crème</p>'.encode("latin-1"), None, "cp1252"),
        ('<meta charset="utf-8"><p>cr\u00e8me \xe9</p>'.encode()[:-6] + b"\xe9</p>", None, "utf-8"),
        (b"\xef\xbb\xbf<p>x</p>", "text/html; charset=latin-1", "utf-8"),
        ("<p>x</p>".encode("utf-16"), None, "utf-16-le"),
        (b'<meta charset="bogus-charset"><p>x</p>', None, "utf-8"),
        ('<meta charset="shift_jis"><p>日本</p>'.encode("shift_jis"), None, "cp932"),
    ],
)
def test_detect_encoding(body: bytes, content_type: str | None, expected: str) -> None:
    assert detect_encoding(body, content_type) == expected


def test_decode_body_strips_bom_and_survives_bad_codec() -> None:
    assert decode_body(b"\xef\xbb\xbf<p>x</p>", None) == "<p>x</p>"
    # stray windows-1252 bytes in a UTF-8 page are read as windows-1252
    mixed = "<p>caf\u00e9 ".encode() + b"S\xe1nchez\xa0\x93quoted\x94</p>"
    expected = "<p>caf\u00e9 S\u00e1nchez\u00a0\u201cquoted\u201d</p>"
    assert decode_body(mixed, "text/html; charset=utf-8") == expected
    assert decode_body(b"<p>\x81</p>", "text/html; charset=utf-8") == "<p>\ufffd</p>"


# --- other content types ----------------------------------------------------


def test_pdf() -> None:
    body = make_pdf("Analytical Engine Notes", ["Sketch of the engine.", "Second line here."])
    result = extract(
        body, {"content-type": "application/pdf"}, "https://example.org/n.pdf", fetched_at=FETCHED
    )
    assert result.content_type == "pdf"
    assert result.mime == "application/pdf"
    assert result.title == "Analytical Engine Notes"
    assert result.published_date == "2019-07-04"
    assert result.modified_date == "2020-01-02"
    assert result.authors == ("Ada Byron", "Charles Babbage")
    assert result.language == "en"
    assert result.text is not None and result.text.startswith("Sketch of the engine.")
    assert result.paywall is False


def test_pdf_sniffed_without_header_and_title_from_first_line() -> None:
    body = make_pdf("untitled", ["Quarterly report on river levels"])
    result = extract(body, {}, "https://example.org/download?id=3", fetched_at=FETCHED)
    assert result.content_type == "pdf"
    assert result.title == "Quarterly report on river levels"


@pytest.mark.parametrize(
    "body", [b"%PDF-1.7\n this is not really a pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4, b"%PDF"]
)
def test_broken_pdf(body: bytes) -> None:
    result = extract(body, {"content-type": "application/pdf"}, "https://example.org/x.pdf")
    assert result.content_type == "pdf"
    assert result.text is None


def test_plain_text() -> None:
    raw = "  First  paragraph\r\nstill first.\r\n\r\n\r\nSecond\tparagraph. \u00e9t\u00e9 \n"
    body = raw.encode()
    result = extract(body, {"content-type": "text/plain; charset=utf-8"}, "https://example.org/t")
    assert result.content_type == "text"
    assert result.mime == "text/plain"
    assert result.text == "First paragraph\nstill first.\n\nSecond paragraph. \u00e9t\u00e9"
    latin = extract("crème brûlée".encode("latin-1"), {"content-type": "text/plain"}, "u")
    assert latin.text == "crème brûlée"


def test_binary_junk_labelled_html() -> None:
    junk = random.Random(7).randbytes(20_000)
    result = extract(junk, HTML, "https://example.org/junk")
    assert result.content_type == "other"
    assert result.text is None and result.title is None
    assert result.mime == "text/html"


@pytest.mark.parametrize(
    ("body", "mime", "expected"),
    [
        (b"", "text/html", None),
        (b"  \n ", "text/html", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "other"),
        (b"PK\x03\x04\x14\x00", "application/zip", "other"),
        (b"ID3\x03\x00\x00\x00", "audio/mpeg", "other"),
        (b"<!DOCTYPE html><html><body>x</body></html>", None, "html"),
        (b"<html><body>x</body></html>", "application/octet-stream", "html"),
        (b"just words", None, "text"),
        (b'{"a": 1}', "application/json", "other"),
        (b"<p>x</p>", "application/xhtml+xml", "html"),
    ],
)
def test_classify(body: bytes, mime: str | None, expected: str | None) -> None:
    assert classify(body, mime) == expected


def test_empty_body() -> None:
    result = extract(b"", {"content-type": "text/html; charset=utf-8"}, "https://example.org/")
    assert result.content_type is None
    assert result.mime == "text/html"
    assert result.text is None and result.title is None and result.authors == ()


GARBAGE = [
    b"<html><body>\xff\xfe\xfd invalid \xc3\x28 utf-8</body></html>",
    b"<html>" + b"<div>" * 5000 + b"deep" + b"</div>" * 5000 + b"</html>",
    b"<html><body><p>nul\x00bytes\x01\x02 inside text</p></body></html>",
    b'<?xml version="1.0" encoding="iso-8859-1"?><html><body><p>x</p></body></html>',
    b"<html></html>",
    b'<html><head><script type="application/ld+json">{"@type": "Article", broken</script>'
    b'<script type="application/ld+json">[1, "x", null]</script></head><body></body></html>',
    b"<html><head><meta property='article:published_time' content='9999-99-99'></head></html>",
    b"<<<<>>>>&&&&;;;;</</</",
    b"\x1f\x8b\x08\x00garbled gzip",
]


@pytest.mark.parametrize("body", GARBAGE)
def test_garbage_never_raises(body: bytes) -> None:
    result = extract(body, HTML, "not a url")
    assert isinstance(result, Extracted)
    assert result.published_date is None or len(result.published_date) == 10


def test_pdf_date_parser() -> None:
    assert parse_pdf_date("D:20190704120000Z") == date(2019, 7, 4)
    assert parse_pdf_date("D:2019") is None
    assert parse_pdf_date("D:20191340") is None
    assert parse_pdf_date(None) is None


# --- preview ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (None, 10, (None, False)),
        ("", 10, (None, False)),
        ("short", 10, ("short", False)),
        ("exactly ten", 11, ("exactly ten", False)),
        ("hello world foo", 11, ("hello world", True)),
        ("hello world foo", 13, ("hello world", True)),
        ("hello world foo", 8, ("hello", True)),
        ("hello   world", 7, ("hello", True)),
        ("para one.\n\npara two", 11, ("para one.", True)),
        ("supercalifragilistic word", 5, ("super", True)),
        ("a b", 1, ("a", True)),
        ("word", 0, ("", True)),
    ],
)
def test_make_preview(text: str | None, limit: int, expected: tuple[str | None, bool]) -> None:
    assert make_preview(text, limit) == expected


# --- command line ------------------------------------------------------------


def test_cli_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "page.html.gz"
    saved.write_bytes(gzip.compress(page("news_article.html")))
    status = cli_main(
        [
            str(saved),
            "--url",
            "https://courier.example.org/news/x",
            "--content-type",
            "text/html; charset=utf-8",
            "--preview-chars",
            "40",
        ]
    )
    assert status == 0
    output = json.loads(capsys.readouterr().out)
    assert output["title"] == "River towns plan shared flood barriers"
    assert output["authors"] == ["Priya Raman", "Tom Okafor"]
    assert output["preview"] == "Three neighbouring councils on the lower"
    assert output["preview_truncated"] is True
    assert output["content_length"] == len(output["text"])
    assert output["content_sha256"] == hashlib.sha256(output["text"].encode()).hexdigest()


# --- dates: reconciling htmldate with the page's own statements ----------------


PARAGRAPH = (
    "The committee met on Tuesday to review the findings of the report, which "
    "covers three years of measurements taken along the river and its tributaries."
)


def article(head: str = "", body: str = "") -> str:
    paragraphs = "".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6))
    return (
        f"<!doctype html><html lang='en'><head><title>Report</title>{head}</head>"
        f"<body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article><h1>Report</h1>{body}{paragraphs}</article>"
        "<footer>Contact us</footer></body></html>"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://blog.example/2011/12/a-post/", (date(2011, 12, 1), date(2011, 12, 31))),
        ("https://blog.example/2024/02/3-questions/", (date(2024, 2, 1), date(2024, 2, 29))),
        ("https://blog.example/2011/12/03/a-post/", None),  # a full date, not a month
        ("https://news.example/item/2011/13/x", None),
        ("https://news.example/?d=/2011/12/", None),  # only the path counts
    ],
)
def test_url_month(url: str, expected: tuple[date, date] | None) -> None:
    assert url_month(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://blog.example/2017/7/12/a-post", date(2017, 7, 12)),
        ("https://news.example/2020-02-18-headline.html", date(2020, 2, 18)),
        ("https://blog.example/2023/10/3-questions/", None),  # "3-questions" is a slug
        ("https://blog.example/2023/02/30/", None),
    ],
)
def test_url_day(url: str, expected: date | None) -> None:
    assert url_day(url) == expected


def test_date_outside_the_url_month_is_searched_again_inside_it() -> None:
    html = article(body="<p class='meta'>Posted 3 December 2011</p><p>Copyright 2009</p>")
    page_ = build_page(html, "https://blog.example/2011/12/a-post/")
    day, rule = reconcile_published(page_, html, date(2025, 1, 1))
    assert day == date(2011, 12, 3)
    assert rule in {"htmldate", "url-month"}


def test_publisher_statement_wins_over_an_unsupported_guess() -> None:
    # JSON-LD and article:published_time state 31 October; the only other
    # date, in the text, is an older event date that htmldate would pick.
    head = (
        '<meta property="article:published_time" content="2023-10-31T08:47:16+00:00">'
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "2023-10-31T08:47:16+00:00", "headline": "Report"}</script>'
    )
    html = article(head, body="<p>The event took place on 3 October 2023 in Berlin.</p>")
    day, _ = reconcile_published(build_page(html, "https://x.example/a"), html, date(2025, 1, 1))
    assert day == date(2023, 10, 31)


def test_utc_timestamp_supports_the_next_local_day() -> None:
    # 23:01 UTC is already the next day in most of Europe and Asia: a guess of
    # that day is supported by the statement, not overruled by it.
    page_ = build_page(
        article('<meta property="article:published_time" content="2023-11-01T23:01:00Z">'),
        "https://x.example/a",
    )
    assert date(2023, 11, 2) in _stated_days(page_, date(2025, 1, 1))
    assert date(2023, 11, 3) not in _stated_days(page_, date(2025, 1, 1))


def test_htmldate_never_downloads_a_body_that_is_a_url() -> None:
    assert htmldate_published("http://169.254.169.254/latest", "", date(2025, 1, 1)) is None
    result = extract(b"http://127.0.0.1:9/should-not-be-fetched", HTML, "https://x.example/")
    assert result.published_date is None


# --- very large pages ------------------------------------------------------------


def big_page(size: int) -> bytes:
    """An article padded to ``size`` bytes with link-heavy markup and paragraphs."""
    rng = random.Random(5)
    words = [
        "river",
        "water",
        "survey",
        "report",
        "measured",
        "season",
        "level",
        "flow",
        "data",
        "station",
    ]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Huge report | Site</title>"
        "<meta property='article:published_time' content='2024-03-05T10:00:00+01:00'>"
        "</head><body><nav><a href='/'>Home</a></nav><article><h1>Huge report</h1>"
        f"<p>{PARAGRAPH}</p>"
    ]
    length = len(parts[0])
    i = 0
    while length < size:
        text = " ".join(rng.choice(words) for _ in range(60))
        chunk = (
            f"<p>{text}.</p>\n"
            if i % 3
            else f"<div class='row'><span>{text[:40]}</span> <a href='/l{i}'>link {i}</a></div>\n"
        )
        parts.append(chunk)
        length += len(chunk)
        i += 1
    parts.append("</article><footer>(c) 2024 Site</footer></body></html>")
    return "".join(parts).encode()


def test_five_megabyte_page_extracts() -> None:
    body = big_page(5 * 1024 * 1024)
    assert len(body) >= 5 * 1024 * 1024
    result = extract(body, HTML, "https://x.example/2024/03/huge", fetched_at=FETCHED)
    assert result.content_type == "html"
    assert result.title == "Huge report"
    assert result.published_date == "2024-03-05"
    assert result.text is not None and result.text.startswith(PARAGRAPH)
    assert "Home" not in result.text[:200] and "(c) 2024" not in result.text


def test_large_pages_take_the_linear_path() -> None:
    small = build_page(article(), "https://x.example/a")
    assert not is_large(small.tree)
    rows = "".join(f"<div><span>cell {i}</span></div>" for i in range(LARGE_ELEMENTS))
    large = build_page(article(body=rows), "https://x.example/a")
    assert is_large(large.tree)
    text = fast_main_text(large.tree)
    assert text is not None
    assert text.startswith("Report\n\ncell 0\n\ncell 1")
    assert "Home" not in text and "Contact us" not in text
    assert fast_main_text(None) is None


def test_fast_main_text_keeps_entities_and_paragraphs() -> None:
    page_ = build_page(
        "<html><body><main><p>Fish &amp; chips &lt;3</p><p>Second<br>line</p>"
        "<table><tr><td>a</td><td>b</td></tr></table><script>var x = 1;</script>"
        "<!-- hidden --></main></body></html>",
        "https://x.example/",
    )
    assert fast_main_text(page_.tree) == "Fish & chips <3\n\nSecond\n\nline\n\na b"


def _titled_page(head: str, h1: str) -> bytes:
    body = "<p>" + "An ordinary paragraph of article text for the extractor. " * 12 + "</p>"
    return (
        f"<html><head><meta charset='utf-8'>{head}</head>"
        f"<body><h1>{h1}</h1><article>{body}{body}</article></body></html>"
    ).encode()


HEADLINE = "Frontier labs agree on shared safety tests"


@pytest.mark.parametrize(
    ("head", "h1", "expected"),
    [
        # an SEO variant in JSON-LD loses to the headline the page states three times
        (
            '<script type="application/ld+json">{"@type": "NewsArticle", '
            '"headline": "AI safety deal: what to know"}</script>'
            f'<meta property="og:title" content="{HEADLINE}">'
            f"<title>{HEADLINE} | The Ledger</title>",
            HEADLINE,
            HEADLINE,
        ),
        # a section label in <h1> does not outvote the headline
        (
            f'<meta property="og:title" content="{HEADLINE}">'
            f"<title>{HEADLINE} - The Ledger</title>",
            "News",
            HEADLINE,
        ),
        # a longer form (with its subtitle) agrees with the short one; trust breaks the tie
        (
            f'<meta name="citation_title" content="{HEADLINE}: a survey of methods">'
            f"<title>{HEADLINE}</title>",
            "Contents",
            f"{HEADLINE}: a survey of methods",
        ),
        # nothing agrees: the most trusted source wins
        (
            '<meta name="citation_title" content="Scaling laws for reward model overoptimization">'
            '<meta property="og:title" content="Reward hacking, measured">'
            "<title>Lab notes</title>",
            "Research",
            "Scaling laws for reward model overoptimization",
        ),
    ],
)
def test_title_is_chosen_by_agreement(head: str, h1: str, expected: str) -> None:
    result = extract(
        _titled_page(head, h1), {"content-type": "text/html"}, "https://ledger.example/a"
    )
    assert result.title == expected


def test_recall_pass_is_skipped_only_when_it_cannot_change_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.extract import text as text_module
    from pipelines.extract.markup import build_page as parse

    paragraphs = "".join(
        f"<p>Paragraph {i} of the report describes test number {i} in its own words, "
        f"with findings {i * 3} and {i * 7} that the other paragraphs do not repeat.</p>"
        for i in range(12)
    )
    html = (
        f"<html><head><title>{HEADLINE}</title></head><body><nav>Home News</nav>"
        f"<article><h1>{HEADLINE}</h1>{paragraphs}</article></body></html>"
    )
    passes: list[bool] = []
    real = text_module._trafilatura_text

    def counting(
        html: str, url: str, *, precision: bool | None, thorough: bool = False
    ) -> str | None:
        passes.append(precision)
        return real(html, url, precision=precision, thorough=thorough)

    monkeypatch.setattr(text_module, "_trafilatura_text", counting)
    words = text_module.visible_words(parse(html, "https://ledger.example/a").tree)
    assert words is not None and words > 100
    skipped = text_module.html_main_text(html, "https://ledger.example/a", page_words=words)
    assert passes == [True]  # the article is nearly all of the page: one pass
    passes.clear()
    both = text_module.html_main_text(html, "https://ledger.example/a")
    assert passes == [True, False] and both == skipped
    passes.clear()
    text_module.html_main_text(html, "https://ledger.example/a", page_words=words * 3)
    assert passes == [True, False]  # most of the page is elsewhere: recall decides


def test_htmldate_reads_free_text_dates_through_the_limited_dateparser() -> None:
    """htmldate's fallback to dateparser goes through the parser limited to common languages."""
    import htmldate.extractors

    from pipelines.extract import dateparser_locales

    assert htmldate.extractors.get_external_parser is dateparser_locales.external_parser
    # htmldate's own entry point to dateparser, as its text search calls it
    parsed = htmldate.extractors._external_date("le 3 mars 2019")
    assert parsed is not None and parsed.date() == date(2019, 3, 3)
    assert dateparser_locales.external_parser.cache_info().currsize == 1
    assert htmldate.extractors._external_date("no date in this sentence") is None
    assert dateparser_locales.external_parser().languages == list(dateparser_locales.LANGUAGES)


def test_thorough_mode_adds_trafilatura_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default trafilatura runs in its fast mode; ``thorough`` adds its fallback comparison."""
    from pipelines.extract import text as text_module

    modes: list[bool] = []
    real = text_module.trafilatura.extract

    def recording(document: Any, **kwargs: Any) -> Any:
        modes.append(kwargs["fast"])
        return real(document, **kwargs)

    monkeypatch.setattr(text_module.trafilatura, "extract", recording)
    body = _titled_page(f"<title>{HEADLINE}</title>", HEADLINE)
    fast = extract(body, {"content-type": "text/html"}, "https://ledger.example/a")
    assert modes and all(modes)
    modes.clear()
    slow = extract(body, {"content-type": "text/html"}, "https://ledger.example/a", thorough=True)
    assert modes and not any(modes)
    assert fast.text and slow.text and "ordinary paragraph" in fast.text
