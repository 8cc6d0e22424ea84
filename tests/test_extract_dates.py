"""Publication dates: the shared tree, RDF statements, itemprop statements, local offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipelines.extract import extract, rules
from pipelines.extract.dates import (
    cjk_full_day,
    extract_dates,
    htmldate_published,
    local_day_for,
    rdf_dates,
    reconcile_published,
)
from pipelines.extract.markup import build_page

HTML = {"content-type": "text/html"}
FETCHED = date(2025, 1, 1)
PARAGRAPH = "Lorem ipsum dolor sit amet consectetur. " * 10


def article(head: str = "", body: str = "") -> str:
    paragraphs = f"<p>{PARAGRAPH}</p>" * 5
    return (
        f"<!doctype html><html lang='en'><head><title>Report</title>{head}</head>"
        f"<body><article><h1>Report</h1>{body}{paragraphs}</article></body></html>"
    )


# A trackback block as Movable Type-style blog engines write it, inside a comment.
RDF_COMMENT = (
    '<!-- <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Description '
    'rdf:about="https://blog.example/e/1" dc:title="Post" '
    'dc:date="2020-07-12T22:00:00+09:00" /></rdf:RDF> -->'
)


def test_rdf_dates_reads_attributes_and_elements() -> None:
    markup = (
        RDF_COMMENT + "<dcterms:issued>2019-03-04</dcterms:issued>"
        "<meta name='dc:date.x' content='1999-01-01'>"
    )
    assert rdf_dates(markup) == ["2020-07-12T22:00:00+09:00", "2019-03-04"]


def test_rdf_dates_reads_a_bounded_number_of_keys() -> None:
    markup = "".join(f'<x dc:date="2020-01-{day:02d}"/>' for day in range(1, 29))
    assert rdf_dates(markup) == [f"2020-01-{day:02d}" for day in range(1, 6)]


def test_comment_borne_rdf_date_found_without_a_second_parse() -> None:
    # The shared tree drops comments; the text's only date is an older event.
    html = article(body=RDF_COMMENT + "<p>Race results of 21 July 2015.</p>")
    page = build_page(html, "https://blog.example/e/1")
    assert page.tree is not None
    assert htmldate_published(page.tree, page.url, FETCHED) == date(2015, 7, 21)
    assert reconcile_published(page, page.tree, FETCHED, html=html) == (
        date(2020, 7, 12),
        "stated",
    )
    fetched_at = datetime(2025, 1, 1, tzinfo=UTC)
    result = extract(html.encode(), HTML, "https://blog.example/e/1", fetched_at=fetched_at)
    assert result.published_date == "2020-07-12"


def test_rdf_statement_switched_off_leaves_the_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(rules.RULES, "date_rdf_statement", False)
    html = article(body=RDF_COMMENT + "<p>Race results of 21 July 2015.</p>")
    page = build_page(html, "https://blog.example/e/1")
    assert reconcile_published(page, page.tree, FETCHED, html=html)[0] == date(2015, 7, 21)


@pytest.mark.parametrize("shared", [True, False])
def test_shared_tree_and_markup_agree_on_a_plain_page(
    monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    monkeypatch.setitem(rules.RULES, "date_shared_tree", shared)
    head = '<meta property="article:published_time" content="2021-05-06T10:00:00+02:00">'
    html = article(head, "<p>Posted 6 May 2021</p>")
    published, _ = extract_dates(
        build_page(html, "https://x.example/a"), html, datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert published == date(2021, 5, 6)


ITEMPROP_BODY = (
    '<p>Published <span itemprop="datePublished" content="2022-01-14">14 January</span></p>'
    "<p>Event on 21 January 2022 and 2 March 2022</p>"
)


def test_itemprop_statement_beats_an_unsupported_guess() -> None:
    html = article(body=ITEMPROP_BODY)
    page = build_page(html, "https://x.example/a")
    assert htmldate_published(page.tree, page.url, FETCHED) == date(2022, 1, 21)
    assert reconcile_published(page, page.tree, FETCHED, html=html) == (date(2022, 1, 14), "stated")


def test_itemprop_rule_switched_off_keeps_the_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(rules.RULES, "date_itemprop_over_guess", False)
    html = article(body=ITEMPROP_BODY)
    page = build_page(html, "https://x.example/a")
    assert reconcile_published(page, page.tree, FETCHED, html=html)[0] == date(2022, 1, 21)


UTC_AND_LOCAL = (
    '<meta property="article:published_time" content="2020-12-24T23:59:50+00:00">'
    '<script type="application/ld+json">{"@type": "NewsArticle", '
    '"datePublished": "2020-12-25T01:59:50+02:00"}</script>'
)


def test_utc_day_of_a_locally_stated_time_becomes_the_local_day() -> None:
    html = article(UTC_AND_LOCAL)
    page = build_page(html, "https://x.example/a")
    assert htmldate_published(page.tree, page.url, FETCHED) == date(2020, 12, 24)
    assert reconcile_published(page, page.tree, FETCHED, html=html) == (
        date(2020, 12, 25),
        "local-offset",
    )


def test_local_offset_needs_a_stated_offset() -> None:
    # UTC only: the local day is unknown, so the guess is not moved.
    utc_only = build_page(
        article('<meta property="article:published_time" content="2020-12-24T23:59:50Z">'),
        "https://x.example/a",
    )
    assert local_day_for(date(2020, 12, 24), utc_only) is None
    # The guess is itself a local day written with an offset: it stays.
    both = build_page(
        article(
            UTC_AND_LOCAL
            + '<meta property="og:published_time" content="2020-12-24T20:00:00-05:00">'
        ),
        "https://x.example/a",
    )
    assert local_day_for(date(2020, 12, 24), both) is None
    assert local_day_for(date(2020, 12, 24), build_page(article(UTC_AND_LOCAL), "u")) == date(
        2020, 12, 25
    )


def test_cjk_full_date_over_a_bare_year(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare 2017 (1 January) gives way to the 2019年4月4日 the page writes."""
    html = (
        "<html lang='ja'><head><title>SSD</title></head><body><header><p>Copyright 2017</p>"
        "</header><article><h1>新しいSSD</h1><div class='pubdate'>2019年4月4日</div>"
        "<p>" + "インテルは新しいSSDを発表しました。" * 20 + "</p></article></body></html>"
    )
    assert cjk_full_day("公開 2019年4月4日 更新", date(2026, 1, 1)) == date(2019, 4, 4)
    assert cjk_full_day("2024년 3월 5일", date(2026, 1, 1)) == date(2024, 3, 5)
    assert cjk_full_day("2019年13月4日 2030年1月2日", date(2026, 1, 1)) is None
    on = extract(html.encode(), {"content-type": "text/html"}, "https://example.jp/blog/ssd")
    monkeypatch.setitem(rules.RULES, "date_cjk_full_date", False)
    off = extract(html.encode(), {"content-type": "text/html"}, "https://example.jp/blog/ssd")
    assert on.published_date == "2019-04-04"
    assert off.published_date != "2019-04-04"
