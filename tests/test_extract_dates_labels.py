"""Publication dates introduced by a visible label ("Published: …", "Erschienen am …")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipelines.extract import extract, rules
from pipelines.extract.dates import (
    htmldate_published,
    parse_date,
    published_label_day,
    reconcile_published,
    visible_text,
)
from pipelines.extract.markup import build_page

HTML = {"content-type": "text/html"}
FETCHED = date(2025, 1, 1)
PARAGRAPH = "Lorem ipsum dolor sit amet consectetur. " * 10


def article(head: str = "", body: str = "", tail: str = "") -> str:
    paragraphs = f"<p>{PARAGRAPH}</p>" * 5
    return (
        f"<!doctype html><html lang='en'><head><title>Report</title>{head}</head>"
        f"<body><article><h1>Report</h1>{body}{paragraphs}</article>{tail}</body></html>"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Published: 3 March 2019 | News", date(2019, 3, 3)),
        ("Posted on March 3, 2019 at 10:00", date(2019, 3, 3)),
        ("Written: 2023-11-07 15:03:30 / Updated: 2023-11-07", date(2023, 11, 7)),
        ("Erschienen am \x1f\n  26. Jan 2022\x1f27.01.2022 Tagung", date(2022, 1, 26)),
        ("Datum 28.04.2023 Autor", date(2023, 4, 28)),
        ("Veröffentlicht am Di., 25.01.2022 - 14:45", date(2022, 1, 25)),
        ("Publié le 12 février 2020", date(2020, 2, 12)),
        ("Erstellt am: 01.11.2023", date(2023, 11, 1)),
    ],
)
def test_label_introduces_the_date(text: str, expected: date) -> None:
    assert published_label_day(f"Menu Home {text} more words", FETCHED) == expected


@pytest.mark.parametrize(
    "text",
    [
        # the label is part of another word or a sentence, or another field follows it
        "datePublished 2019-03-03",
        "Your e-mail will not be published. 3 March 2019",
        "Anmeldedatum 26.10.13",
        "Aktuelles Datum und Uhrzeit: 11/02/20, 07:22 pm",
        "Published by Example Press, all rights reserved",
        # no date at all, or one after the fetch day
        "Published: recently",
        "Published: 3 March 2031",
    ],
)
def test_label_without_its_own_date_gives_nothing(text: str) -> None:
    assert published_label_day(f"Menu {text} end", FETCHED) is None


def test_first_label_in_the_text_wins() -> None:
    text = "Posted 4 May 2020 ... Published: 3 March 2019"
    assert published_label_day(text, FETCHED) == date(2020, 5, 4)


def test_visible_text_leaves_out_scripts_styles_and_comments() -> None:
    html = article(
        body=(
            "<script>/* 728x90, Erstellt am 07.05.09 */</script><style>p{}</style>"
            "<!-- Published: 2001-01-01 --><p>Seen</p>"
        )
    )
    text = visible_text(build_page(html, "https://x.example/a").tree)
    assert "Seen" in text and "Report" in text
    assert "Erstellt" not in text and "2001" not in text and "p{}" not in text


# The article's own date is stated only by its label; the text also names later
# events, which htmldate's oldest-date search does not prefer, and an older one
# in a sidebar list.
LABELLED = (
    "<p class='meta'><span>Erschienen am</span> <time>26. Jan 2022</time></p>"
    "<p>Die Tagung vom 27.01.2022 und vom 3. Februar 2022.</p>"
)


def test_label_beats_an_unsupported_guess() -> None:
    html = article(
        '<meta property="og:updated_time" content="2022-01-27T18:34:20+01:00">', LABELLED
    )
    page = build_page(html, "https://x.example/a")
    assert htmldate_published(page.tree, page.url, FETCHED) == date(2022, 1, 27)
    assert reconcile_published(page, page.tree, FETCHED, html=html) == (
        date(2022, 1, 26),
        "label",
    )
    fetched_at = datetime(2025, 1, 1, tzinfo=UTC)
    result = extract(html.encode(), HTML, "https://x.example/a", fetched_at=fetched_at)
    assert result.published_date == "2022-01-26"


def test_label_rule_switched_off_keeps_the_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(rules.RULES, "date_published_label", False)
    html = article(
        '<meta property="og:updated_time" content="2022-01-27T18:34:20+01:00">', LABELLED
    )
    page = build_page(html, "https://x.example/a")
    assert reconcile_published(page, page.tree, FETCHED, html=html)[0] == date(2022, 1, 27)


def test_supported_guess_is_not_moved_by_a_label() -> None:
    # The publication meta tag supports the guess: a label elsewhere does not win.
    html = article(
        '<meta property="article:published_time" content="2022-01-27T10:00:00+01:00">',
        "<p>Posted on 3 March 2019</p><p>Event on 27 January 2022</p>",
    )
    page = build_page(html, "https://x.example/a")
    assert reconcile_published(page, page.tree, FETCHED, html=html)[0] == date(2022, 1, 27)


# --- the URL's date, offsets and numeric dates (other rules of the same round) ---


def test_magazine_issue_date_in_the_url_gives_way_to_the_stated_day() -> None:
    head = '<meta property="article:published_time" content="2016-11-28T00:00:00.000Z">'
    url = "https://mag.example/magazine/2016/12/05/lessons"
    page = build_page(article(head), url)
    assert htmldate_published(page.tree, page.url, FETCHED) == date(2016, 12, 5)
    assert reconcile_published(page, page.tree, FETCHED, html=article(head)) == (
        date(2016, 11, 28),
        "url-issue",
    )


@pytest.mark.parametrize(
    ("stated", "url"),
    [
        # a day off is a UTC timestamp's day, not an issue date
        ("2016-12-04T23:00:00Z", "https://x.example/2016/12/05/a"),
        # a statement after the URL's date: republished or updated
        ("2017-02-01T10:00:00Z", "https://x.example/2016/12/05/a"),
        # more than two months before: not an issue's lead time
        ("2016-06-01T10:00:00Z", "https://x.example/2016/12/05/a"),
    ],
)
def test_url_issue_needs_a_statement_shortly_before_the_url_date(stated: str, url: str) -> None:
    head = f'<meta property="article:published_time" content="{stated}">'
    page = build_page(article(head), url)
    assert reconcile_published(page, page.tree, FETCHED, html=article(head))[1] != "url-issue"


def test_month_issue_url_and_a_numeric_meta_date() -> None:
    head = '<meta property="article:published_time" content="12-15-2016">'
    page = build_page(article(head), "https://mag.example/magazine/2017/01/toys/")
    assert reconcile_published(page, page.tree, FETCHED, html=article(head)) == (
        date(2016, 12, 15),
        "url-issue",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12-15-2016", date(2016, 12, 15)),
        ("15-12-2016", date(2016, 12, 15)),
        ("05-04-2021", None),  # 5 April or 4 May
        ("31-02-2021", None),
    ],
)
def test_numeric_dates_are_read_only_when_unambiguous(value: str, expected: date | None) -> None:
    assert parse_date(value) == expected


def test_numeric_rule_switched_off_reads_no_hyphenated_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(rules.RULES, "date_numeric_unambiguous", False)
    assert parse_date("12-15-2016") is None


REPUBLISHED = (
    '<script type="application/ld+json">{"@type": "BlogPosting", '
    '"datePublished": "2024-04-25T08:18:00+02:00"}</script>'
)


def test_url_month_does_not_move_a_stated_guess() -> None:
    url = "https://blog.example/2018/04/post.html"
    body = "<p>Aus dem Archiv: 3. April 2018</p>"
    page = build_page(article(REPUBLISHED, body), url)
    assert htmldate_published(page.tree, url, FETCHED) == date(2024, 4, 25)
    assert reconcile_published(page, page.tree, FETCHED, html=article(REPUBLISHED, body))[
        0
    ] == date(2024, 4, 25)


def test_url_month_stated_switched_off_searches_the_month(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(rules.RULES, "date_url_month_stated", False)
    url = "https://blog.example/2018/04/post.html"
    body = "<p>Aus dem Archiv: 3. April 2018</p>"
    page = build_page(article(REPUBLISHED, body), url)
    assert reconcile_published(page, page.tree, FETCHED, html=article(REPUBLISHED, body)) == (
        date(2018, 4, 3),
        "url-month",
    )


EVENING = (
    '<meta name="date" content="2026-05-18">'
    '<script type="application/ld+json">{"@type": "NewsArticle", '
    '"datePublished": "2026-05-17T19:30:02+02:00"}</script>'
)


def test_offset_stamped_day_beats_a_bare_neighbouring_date() -> None:
    page = build_page(article(EVENING), "https://x.example/artikel/1.html")
    fetched = date(2026, 12, 1)
    assert htmldate_published(page.tree, page.url, fetched) == date(2026, 5, 18)
    assert reconcile_published(page, page.tree, fetched, html=article(EVENING)) == (
        date(2026, 5, 17),
        "offset-day",
    )


def test_offset_day_leaves_a_guess_another_timestamp_names() -> None:
    # Two items, one in UTC naming the guess: the offset stamp belongs to another item.
    head = (
        '<meta property="article:published_time" content="2021-09-19T14:00:49+00:00">'
        '<script type="application/ld+json">[{"@type": "Article", '
        '"datePublished": "2021-09-19T14:00:49Z"}, {"@type": "Article", '
        '"datePublished": "2021-09-20T09:45:26-07:00"}]</script>'
    )
    page = build_page(article(head), "https://x.example/a")
    assert reconcile_published(page, page.tree, FETCHED, html=article(head))[0] == date(2021, 9, 19)


def test_offset_day_leaves_a_guess_the_url_states() -> None:
    # The permalink names the guess: a statement of the day like a timestamp.
    head = '<meta property="article:published_time" content="2016-12-23T16:42:59-05:00">'
    url = "https://x.example/press/2016/12/24/weekly-address"
    page = build_page(article(head), url)
    assert htmldate_published(page.tree, url, FETCHED) == date(2016, 12, 24)
    assert reconcile_published(page, page.tree, FETCHED, html=article(head)) == (
        date(2016, 12, 24),
        "htmldate",
    )
