"""Title rules of pipelines/extract/metadata.py on small synthetic pages, each with its switch.

Every rule is checked on (the default) and off, so a test shows what the rule changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines.extract import extract, rules

PARAGRAPHS = (
    "<p>The council met on Tuesday to discuss the new bridge over the river, which has been "
    "planned for more than a decade and will connect the two halves of the old town.</p>"
    "<p>Engineers presented three designs; residents asked about noise during construction "
    "and about the trees along the northern bank, which the plan would have to remove.</p>"
)


def page(head: str, top: str = "", article: str = "") -> bytes:
    """A page with ``head`` in <head>, ``top`` before the article and ``article`` heading it."""
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{head}</head><body>"
        f"<div class='top'>{top}</div><div class='post'>{article}{PARAGRAPHS}</div>"
        "<footer><p>Contact</p></footer></body></html>"
    )
    return html.encode("utf-8")


def title_of(html: bytes, url: str = "https://blog.example.org/2024/05/bridge-plan/") -> str | None:
    return extract(html, {"content-type": "text/html"}, url).title


@pytest.fixture
def restore_rules() -> Iterator[None]:
    saved = dict(rules.RULES)
    yield
    rules.RULES.clear()
    rules.RULES.update(saved)


# --- title_h1_logo -------------------------------------------------------------------

LOGO_CASES = [
    (
        "h1 links to the home page",
        "<title>River Notes » Bridge plan approved after long debate</title>",
        "<h1><a href='https://blog.example.org/'>River Notes</a></h1>",
        "",
        "https://blog.example.org/2024/05/bridge-plan/",
        "Bridge plan approved after long debate",
    ),
    (
        "h1 links to a section above the page (relative index.html)",
        "<title>Town Diary | Bridge plan approved after long debate</title>",
        "<h1><a href='../index.html'>Town Diary</a></h1>",
        "",
        "https://blog.example.org/diary/2024/bridge.html",
        "Bridge plan approved after long debate",
    ),
    (
        "site root of a page addressed by query, name in the middle of the title",
        "<title>Bridge plan approved : Town Diary | Notes since 2005 | Volume 6</title>",
        "<h1 class='vcard'><a href='http://blog.example.org/'>Town Diary</a></h1>",
        "",
        "http://blog.example.org/?p=2895",
        "Bridge plan approved",
    ),
    (
        "h1 inside a logo container",
        "<title>Bridge plan approved after long debate :: Town Diary</title>"
        "<meta property='og:title' content='Bridge plan approved after long debate :: Town Diary'>",
        "<div class='header__logo'><h1>Town Diary</h1></div>",
        "",
        "https://blog.example.org/2024/05/bridge-plan/",
        "Bridge plan approved after long debate",
    ),
    (
        "h1 words all in og:site_name",
        "<title>Town bridge plan approved - Town Diary Weekly</title>"
        "<meta property='og:site_name' content='Town Diary Weekly'>"
        "<meta property='og:title' content='Town bridge plan approved'>",
        "<h1>Town Weekly</h1>",
        "",
        "https://blog.example.org/2024/05/bridge-plan/",
        "Town bridge plan approved",
    ),
]


@pytest.mark.parametrize(
    ("head", "top", "article", "url", "expected"),
    [case[1:] for case in LOGO_CASES],
    ids=[case[0] for case in LOGO_CASES],
)
def test_logo_h1_is_no_headline(
    head: str, top: str, article: str, url: str, expected: str, restore_rules: None
) -> None:
    html = page(head, top, article)
    assert title_of(html, url) == expected
    rules.RULES["title_h1_logo"] = False
    assert title_of(html, url) != expected


def test_headline_linking_to_itself_is_no_logo() -> None:
    url = "https://blog.example.org/2024/05/bridge-plan/"
    html = page(
        "<title>Bridge plan approved | Town Diary</title>",
        article=f"<h1><a href='{url}'>Bridge plan approved</a></h1>",
    )
    assert title_of(html, url) == "Bridge plan approved"


def test_logo_link_to_another_host_is_not_home() -> None:
    # a headline linking elsewhere (a partner site's root) is still the headline
    html = page(
        "<title>Town Diary | Bridge plan approved</title>",
        top="<h1><a href='https://other.example.net/'>Bridge plan approved</a></h1>",
    )
    assert title_of(html) == "Bridge plan approved"


# --- title_blog_archive ----------------------------------------------------------------


@pytest.mark.parametrize("segment", ["Blog Archive", "Blog Archiv"])
def test_wordpress_blog_archive_segment_is_cut(segment: str, restore_rules: None) -> None:
    html = page(f"<title>Town Diary » {segment} » Bridge plan approved</title>")
    url = "https://www.towndiary.org/2024/05/bridge-plan/"
    assert title_of(html, url) == "Bridge plan approved"
    rules.RULES["title_blog_archive"] = False
    assert title_of(html, url) == f"{segment} » Bridge plan approved"


# --- title_not_site_name ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "url"),
    [
        ("<title>River Notes</title>", "https://rivernotes.example/"),
        ("<title>Home</title>", "https://www.example.org/"),
        (
            "<meta property='og:site_name' content='RiverNotes :: bridges, ferries / fords'>"
            "<meta property='og:title' content='RiverNotes :: bridges, ferries / fords'>",
            "https://www.rivernotes.org/fords",
        ),
    ],
    ids=["bare domain", "home", "og:title is og:site_name"],
)
def test_site_name_gives_way_to_the_headline(head: str, url: str, restore_rules: None) -> None:
    html = page(head, article="<h1>Ferry timetable changes in June</h1>")
    assert title_of(html, url) == "Ferry timetable changes in June"
    rules.RULES["title_not_site_name"] = False
    assert title_of(html, url) != "Ferry timetable changes in June"


def test_title_equal_to_site_name_everywhere_is_kept(restore_rules: None) -> None:
    # the page's og:site_name is its headline: better than no title at all
    headline = "Five films to watch this winter"
    head = f"<title>{headline}</title><meta property='og:site_name' content='{headline}'>"
    html = page(head, article=f"<h1>{headline}</h1>")
    assert title_of(html) == headline
    rules.RULES["title_not_site_name"] = False
    assert title_of(html) is None


# --- title_og_inside_h1 ----------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "Premier League Liverpool lose at Everton",
        "Sport : Liverpool lose at Everton",
        "Liverpool lose at Everton in the rain",
    ],
    ids=["kicker", "kicker with colon", "tail"],
)
def test_og_title_inside_the_h1_wins(heading: str, restore_rules: None) -> None:
    head = (
        "<title>Liverpool lose at Everton | Sports Desk</title>"
        "<meta property='og:title' content='Liverpool lose at Everton'>"
        "<meta property='og:site_name' content='Sports Desk'>"
    )
    html = page(head, article=f"<h1>{heading}</h1>")
    assert title_of(html) == "Liverpool lose at Everton"
    rules.RULES["title_og_inside_h1"] = False
    assert title_of(html) == heading


def test_h1_longer_than_a_partial_word_match_keeps_the_h1() -> None:
    # "pool lose at Everton" matches inside a word, not as whole words of the heading
    head = "<meta property='og:title' content='pool lose at Everton'>"
    html = page(head, article="<h1>Liverpool lose at Everton</h1>")
    assert title_of(html) == "Liverpool lose at Everton"


# --- title_og_kicker ---------------------------------------------------------------------


def test_og_title_with_a_kicker_before_the_h1_wins(restore_rules: None) -> None:
    head = (
        "<title>After the vote: Council approves river crossing - Town Post</title>"
        "<meta property='og:title' content='After the vote: Council approves river crossing'>"
    )
    html = page(head, article="<h1>Council approves river crossing</h1>")
    assert title_of(html) == "After the vote: Council approves river crossing"
    rules.RULES["title_og_kicker"] = False
    assert title_of(html) == "Council approves river crossing"


@pytest.mark.parametrize(
    "og",
    [
        # a long sentence before the colon is a headline of its own, not a kicker
        "The council met for six hours on Tuesday night: Council approves river crossing",
        # the part after the colon is not the heading
        "After the vote: Council approves river crossing plan",
    ],
)
def test_og_title_without_a_kicker_keeps_the_h1(og: str) -> None:
    head = f"<meta property='og:title' content='{og}'>"
    html = page(head, article="<h1>Council approves river crossing</h1>")
    assert title_of(html) == "Council approves river crossing"


# --- title_og_heading --------------------------------------------------------------------


@pytest.mark.parametrize(
    "shown",
    [
        "<h2>Bridge plan: Town finally gets its river crossing after ten years</h2>",
        # behind a kicker in the same heading
        "<h2><span>Ten years of debate</span> Bridge plan: Town finally gets its river "
        "crossing after ten years</h2>",
    ],
)
def test_og_title_shown_in_another_heading_wins(shown: str, restore_rules: None) -> None:
    head = (
        "<title>Council approves river crossing | Town Post</title>"
        "<meta property='og:title' content='Bridge plan: Town finally gets its river crossing "
        "after ten years'>"
    )
    html = page(head, article=f"<h1>Council approves river crossing</h1>{shown}")
    assert title_of(html) == "Bridge plan: Town finally gets its river crossing after ten years"
    rules.RULES["title_og_heading"] = False
    assert title_of(html) == "Council approves river crossing"


def test_og_title_shown_nowhere_keeps_the_h1() -> None:
    head = (
        "<title>Council approves river crossing | Town Post</title>"
        "<meta property='og:title' content='Bridge plan: Town finally gets its river crossing'>"
    )
    # a heading that only shares words with og:title does not show it
    html = page(head, article="<h1>Council approves river crossing</h1><h2>The bridge plan</h2>")
    assert title_of(html) == "Council approves river crossing"


# --- title_h2_segment ----------------------------------------------------------------------


def test_h2_that_is_the_first_title_segment_wins(restore_rules: None) -> None:
    head = "<title>Council approves river crossing | Town | Jane Doe's notes</title>"
    top, article = "<h1>Hi, I'm Jane.</h1>", "<h2>Council approves river crossing</h2>"
    html = page(head, top=top, article=article)
    assert title_of(html) == "Council approves river crossing"
    rules.RULES["title_h2_segment"] = False
    assert title_of(html) == "Council approves river crossing | Town | Jane Doe's notes"


def test_h2_segment_gives_way_to_an_agreeing_h1() -> None:
    head = "<title>Council approves river crossing | Town</title>"
    # the <h1> is the headline; the <h2> merely opens the title
    html = page(head, article="<h1>Council approves river crossing</h1><h2>Council approves</h2>")
    assert title_of(html) == "Council approves river crossing"


def test_headline_linking_to_its_permalink_from_a_tracked_url_is_no_logo() -> None:
    url = "https://blog.example.org/2024/05/bridge-plan/?utm_source=feed"
    html = page(
        "<title>Town Diary | Bridge plan approved</title>",
        article="<h1><a href='/2024/05/bridge-plan/'>Bridge plan approved</a></h1>",
    )
    assert title_of(html, url) == "Bridge plan approved"


# --- title_heading_text ------------------------------------------------------------------


def test_kicker_element_is_a_word_of_its_own(restore_rules: None) -> None:
    head = "<meta property='og:title' content='Town Demo / Council approves river crossing'>"
    html = page(head, article="<h1><span>Town Demo</span>Council approves river crossing</h1>")
    assert title_of(html) == "Town Demo Council approves river crossing"
    rules.RULES["title_heading_text"] = False
    assert title_of(html) == "Town DemoCouncil approves river crossing"


def test_inline_style_in_a_heading_is_not_text(restore_rules: None) -> None:
    head = "<meta property='og:title' content='Council approves the river crossing plan'>"
    heading = "<h1><style>.k{color:red}</style>Council approves <em>river</em> crossing</h1>"
    html = page(head, article=heading)
    assert title_of(html) == "Council approves river crossing"
    rules.RULES["title_heading_text"] = False
    assert title_of(html) == ".k{color:red}Council approves river crossing"


def test_a_heading_longer_than_any_headline_is_refused() -> None:
    head = "<meta property='og:title' content='Council approves river crossing'>"
    huge = "<h1>" + "<span>Council approves river crossing</span> " * 5000 + "</h1>"
    assert title_of(page(head, article=huge)) == "Council approves river crossing"


# --- title_canonical_host ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "top"),
    [
        (
            "<link rel='canonical' href='https://towndiary.example/2024/05/bridge-plan/'>"
            "<title>Town Diary | Bridge plan approved after long debate</title>",
            "<h1><a href='https://towndiary.example/'>Town Diary</a></h1>",
        ),
        (
            "<meta property='og:url' content='https://rivernotes.example/fords'>"
            "<title>River Notes</title>",
            "<h1>Bridge plan approved after long debate</h1>",
        ),
    ],
    ids=["logo links to the declared host", "title is the declared domain"],
)
def test_site_judged_by_the_declared_address(head: str, top: str, restore_rules: None) -> None:
    # fetched from a mirror (here a loopback test server), the page still names its site
    url = "http://127.0.0.1:8080/2024/05/bridge-plan/"
    html = page(head, top)
    assert title_of(html, url) == "Bridge plan approved after long debate"
    rules.RULES["title_canonical_host"] = False
    assert title_of(html, url) != "Bridge plan approved after long debate"
