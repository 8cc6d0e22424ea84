"""Publication dates introduced by a visible label ("Published: …", "Erschienen am …")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipelines.extract import extract, rules
from pipelines.extract.dates import (
    htmldate_published,
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
