"""Authors, titles and dates on small synthetic pages, one markup pattern per row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pipelines.extract import extract, rules
from pipelines.extract.authors import clean_author, looks_like_person, split_authors
from pipelines.extract.markup import unwrap_jsonld
from pipelines.extract.metadata import agreement

FETCHED = datetime(2024, 6, 1, tzinfo=UTC)
BODY = (
    "<p>The council met on Tuesday to discuss the new bridge over the river, which has been "
    "planned for more than a decade and will connect the two halves of the old town.</p>"
    "<p>Engineers presented three designs; residents asked about noise during construction "
    "and about the trees along the northern bank, which the plan would have to remove.</p>"
    "<p>A decision is expected in the autumn, after a public consultation that opens next "
    "month and runs for six weeks in the library and online.</p>"
)


def page(head: str = "", header: str = "", body: str = BODY, title: str = "Bridge plan") -> bytes:
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"{head}</head><body><nav><a href='/'>Home</a></nav><main><article>{header}{body}"
        "</article></main><footer><p>Contact</p></footer></body></html>"
    )
    return html.encode("utf-8")


def run(html: bytes, url: str = "https://news.example.org/2024/05/bridge-plan") -> object:
    return extract(html, {"content-type": "text/html"}, url, fetched_at=FETCHED)


@pytest.fixture
def restore_rules() -> Iterator[None]:
    saved = dict(rules.RULES)
    yield
    rules.RULES.clear()
    rules.RULES.update(saved)


# --- authors ------------------------------------------------------------------------

AUTHOR_CASES = [
    # (label, head markup, markup before the article body, expected authors)
    (
        "rel=author link",
        "",
        "<h1>Bridge plan</h1><a rel='author' href='/a/jd'>Jane Doe</a>",
        ["Jane Doe"],
    ),
    (
        "itemprop author name",
        "",
        "<h1>Bridge plan</h1><span itemprop='author' itemscope><span itemprop='name'>"
        "Jane Doe</span></span>",
        ["Jane Doe"],
    ),
    (
        "byline class",
        "",
        "<h1>Bridge plan</h1><div class='byline'><a class='byline__name'>Jane Doe</a></div>",
        ["Jane Doe"],
    ),
    (
        "author-name class with a date glued on",
        "",
        "<h1>Bridge plan</h1><span class='author-name'>Jane Doe May 3, 2024</span>",
        ["Jane Doe"],
    ),
    ("By line after the headline", "", "<h1>Bridge plan</h1><p>By Jane Doe</p>", ["Jane Doe"]),
    (
        "Written by line with two people",
        "",
        "<h1>Bridge plan</h1><p>Written by Jane Doe and John Roe</p>",
        ["Jane Doe", "John Roe"],
    ),
    (
        "JSON-LD in CDATA",
        '<script type=\'application/ld+json\'>//<![CDATA[\n{"@context":"https://schema.org",'
        '"@type":"NewsArticle","headline":"Bridge plan","author":{"@type":"Person",'
        '"name":"Jane Doe"}}\n//]]></script>',
        "<h1>Bridge plan</h1>",
        ["Jane Doe"],
    ),
    (
        "JSON-LD @graph with an @id reference",
        '<script type=\'application/ld+json\'>{"@context":"https://schema.org","@graph":['
        '{"@type":"Article","headline":"Bridge plan","author":{"@id":"#p1"}},'
        '{"@type":"Person","@id":"#p1","name":"Jane Doe"}]}</script>',
        "<h1>Bridge plan</h1>",
        ["Jane Doe"],
    ),
    (
        "JSON-LD array of nested persons",
        '<script type=\'application/ld+json\'>[{"@type":"NewsArticle","author":['
        '{"@type":"Person","name":"Jane Doe"},{"@type":"Person","name":'
        '"John Roe"}]}]</script>',
        "<h1>Bridge plan</h1>",
        ["Jane Doe", "John Roe"],
    ),
    (
        "citation_author tags",
        "<meta name='citation_author' content='Doe, Jane'>"
        "<meta name='citation_author' content='Roe, John'>",
        "<h1>Bridge plan</h1>",
        ["Jane Doe", "John Roe"],
    ),
    (
        "author meta with a value attribute",
        "<meta name='author' value='Jane Doe'>",
        "<h1>Bridge plan</h1>",
        ["Jane Doe"],
    ),
    (
        "article:author as a profile URL is not a name",
        "<meta property='article:author' content='https://www.facebook.com/janedoe'>",
        "<h1>Bridge plan</h1><p>By Jane Doe</p>",
        ["Jane Doe"],
    ),
    (
        "e-mail address only",
        "<meta name='author' content='jane.doe@news.example.org'>",
        "<h1>Bridge plan</h1>",
        [],
    ),
    ("Staff is not a name", "<meta name='author' content='Staff'>", "<h1>Bridge plan</h1>", []),
    (
        "role after the name",
        "<meta name='author' content='Jane Doe, Senior Staff Writer'>",
        "<h1>Bridge plan</h1>",
        ["Jane Doe"],
    ),
]


@pytest.mark.parametrize(
    ("head", "header", "expected"),
    [case[1:] for case in AUTHOR_CASES],
    ids=[case[0] for case in AUTHOR_CASES],
)
def test_authors(head: str, header: str, expected: list[str]) -> None:
    assert list(run(page(head, header)).authors) == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Jane Doe", "Jane Doe"),
        ("Jane Doe <jane@example.org>", "Jane Doe"),
        ("jane@example.org", None),
        ("Staff", None),
        ("Jane Doe (jd)", "Jane Doe"),
        ("Howard RoeStaff Writer", "Howard Roe"),
        ("Jane Doe Dec 12", "Jane Doe"),
        ("Mike March", "Mike March"),
        ("Walter von Aachen", "Walter von Aachen"),
        ("Confreaks Confreaks", "Confreaks"),
        ("12:30 pm", None),
    ],
)
def test_clean_author(raw: str, expected: str | None) -> None:
    assert clean_author(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(Image: Getty Images)", None),
        ("Foto: dpa-Bildfunk", None),
        ("Photo by Jane Doe", None),
        ("Kommentare geschlossen", None),
        ("Comments are closed", None),
        ("Leave a comment", None),
        ("and more", None),
        # agencies credited as writers are authors
        ("dpa", "dpa"),
        ("AFP", "AFP"),
        ("Jane Doe", "Jane Doe"),
    ],
)
def test_credit_strings_are_no_authors(
    raw: str, expected: str | None, restore_rules: None
) -> None:
    assert clean_author(raw) == expected
    rules.RULES["authors_credit_strings"] = False
    assert clean_author(raw) == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("Jane Doe; John Roe", ["Jane Doe", "John Roe"]),
        ("Jane Doe, John Roe", ["Jane Doe", "John Roe"]),
        ("Doe, Jane", ["Jane Doe"]),
        ("Jane Doe (avec John Roe et Ann Poe)", ["Jane Doe", "John Roe", "Ann Poe"]),
        ("Kari Nordmann og Ola Nordmann", ["Kari Nordmann", "Ola Nordmann"]),
    ],
)
def test_split_authors(raw: str, expected: list[str]) -> None:
    names = [n for n in (clean_author(p) for p in split_authors(raw)) if n]
    assert names == expected


def test_organisation_only_when_no_person() -> None:
    head = (
        "<meta property='og:site_name' content='Example News'>"
        "<meta name='author' content='Example News'>"
    )
    header = "<h1>Bridge plan</h1><p>By Jane Doe</p>"
    assert list(run(page(head, header)).authors) == ["Jane Doe"]  # type: ignore[attr-defined]
    assert list(run(page(head, "<h1>Bridge plan</h1>")).authors) == ["Example News"]  # type: ignore[attr-defined]


def test_site_name_gives_way_only_to_a_person(restore_rules: None) -> None:
    head = (
        "<meta property='og:site_name' content='Example News'>"
        "<meta name='author' content='Example News'>"
    )
    # a desk or agency credit in the byline is no person: the site's name stays
    desk = "<h1>Bridge plan</h1><p>By Nachrichten Redaktion</p>"
    assert list(run(page(head, desk)).authors) == ["Example News"]  # type: ignore[attr-defined]
    person = "<h1>Bridge plan</h1><p>By Jane Doe</p>"
    rules.RULES["authors_person_over_site"] = False
    assert list(run(page(head, person)).authors) == ["Example News"]  # type: ignore[attr-defined]


def test_handle_gives_way_to_a_visible_byline() -> None:
    jsonld = (
        "<script type='application/ld+json'>{\"@type\": \"NewsArticle\", "
        "\"headline\": \"Bridge plan\", \"author\": {\"name\": \"CC7567\"}}</script>"
    )
    header = "<h1>Bridge plan</h1><div class='byline'><span class='author'>Jane Doe</span></div>"
    assert list(run(page(jsonld, header)).authors) == ["Jane Doe"]  # type: ignore[attr-defined]


def test_lowercase_handle_gives_way_to_a_visible_byline(restore_rules: None) -> None:
    head = "<meta name='author' content='janedoe'>"
    header = "<h1>Bridge plan</h1><div class='byline'><span class='author'>Jane Doe</span></div>"
    assert list(run(page(head, header)).authors) == ["Jane Doe"]  # type: ignore[attr-defined]
    # with no person named anywhere else, the handle is all the page says
    assert list(run(page(head, "<h1>Bridge plan</h1>")).authors) == ["janedoe"]  # type: ignore[attr-defined]
    rules.RULES["authors_lowercase_handle"] = False
    assert list(run(page(head, header)).authors) == ["janedoe"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("<ul><li><strong>Autorin/Autor</strong> Jane Doe</li></ul>", ["Jane Doe"]),
        ("<p><b>Author:</b> <a href='/x'>Jane Doe</a></p>", ["Jane Doe"]),
        # a role after a name is no label of the next one
        ("<p><strong>Ann Poe</strong>, <span>author</span><br><strong>Jane Doe</strong></p>", []),
        # a label followed by no person
        ("<ul><li><strong>Autor:</strong> Redaktion</li></ul>", []),
    ],
)
def test_labelled_author_field(field: str, expected: list[str], restore_rules: None) -> None:
    html = page("", "<h1>Bridge plan</h1>" + field)
    assert list(run(html).authors) == expected  # type: ignore[attr-defined]
    rules.RULES["authors_label_field"] = False
    assert list(run(html).authors) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "person"),
    [
        ("Jane Doe", True),
        ("Dr. Max Kolter", True),
        ("Walter von Aachen", True),
        ("Lê Phương", True),
        ("Bill MCCARTHY", True),
        ("牛镛", True),
        ("Jane", False),
        ("CC7567", False),
        ("MDR THÜRINGEN Stand", False),
        ("Alles über Lautsprecher", False),
        ("Teufel Editorial Team", False),
        ("Quelle sid", False),
        ("The Associated Press", False),
    ],
)
def test_looks_like_person(name: str, person: bool) -> None:
    assert looks_like_person(name) is person


def test_unwrap_jsonld() -> None:
    assert unwrap_jsonld('//<![CDATA[\n{"a": 1}\n//]]>').strip() == '{"a": 1}'
    assert unwrap_jsonld('<!-- {"a": 1} -->').strip() == '{"a": 1}'
    assert unwrap_jsonld('{"a": "]]"}') == '{"a": "]]"}'


# --- titles -------------------------------------------------------------------------

TITLE_CASES = [
    ("site name suffix", "Bridge plan approved | Example News", "", "Bridge plan approved"),
    ("site name prefix", "Example News - Bridge plan approved", "", "Bridge plan approved"),
    ("domain as suffix", "Bridge plan approved - news.example.org", "", "Bridge plan approved"),
]


@pytest.mark.parametrize(
    ("title", "head", "expected"),
    [case[1:] for case in TITLE_CASES],
    ids=[case[0] for case in TITLE_CASES],
)
def test_title_site_name_stripped(title: str, head: str, expected: str) -> None:
    head = head or "<meta property='og:site_name' content='Example News'>"
    result = run(page(head, "", title=title))
    assert result.title == expected  # type: ignore[attr-defined]


def test_site_name_holding_a_separator_is_cut_whole(restore_rules: None) -> None:
    # title_site_span is off (no dev title changed with it in the fifth round)
    head = "<meta property='og:site_name' content='Example News - Local Stories'>"
    html = page(head, "", title="Bridge plan approved | Example News - Local Stories")
    rules.RULES["title_site_span"] = True
    assert run(html).title == "Bridge plan approved"  # type: ignore[attr-defined]
    rules.RULES["title_site_span"] = False
    assert run(html).title == "Bridge plan approved | Example News - Local Stories"  # type: ignore[attr-defined]


def test_visible_headline_beats_seo_title() -> None:
    head = (
        "<meta property='og:site_name' content='Example News'>"
        "<meta property='og:title' content='Bridge plan: council approves river crossing "
        "after decade of debate'>"
    )
    header = "<h1>Council approves river crossing</h1>"
    result = run(page(head, header, title="Bridge plan news | Example News"))
    assert result.title == "Council approves river crossing"  # type: ignore[attr-defined]


def test_never_the_bare_site_name_when_a_headline_exists() -> None:
    head = "<meta property='og:site_name' content='Example News'>"
    header = "<h1>Example News</h1><h2>Bridge plan approved</h2>"
    result = run(page(head, header, title="Example News | Bridge plan approved"))
    assert result.title == "Bridge plan approved"  # type: ignore[attr-defined]


def test_agreement_is_a_share_of_the_headline() -> None:
    assert agreement("Council approves bridge", "Council approves bridge | News") == 1.0
    assert agreement("Weather", "Council approves bridge") < 0.3


# --- dates --------------------------------------------------------------------------


def test_last_updated_is_the_modification_date(restore_rules: None) -> None:
    # off by default: it changed no publication date in cross-validation (bench/README.md)
    rules.RULES["date_last_updated"] = True
    head = "<meta property='article:published_time' content='2024-03-02T10:00:00Z'>"
    header = "<h1>Bridge plan</h1><p class='updated'>Last updated: 2024-05-20</p>"
    result = run(page(head, header), url="https://news.example.org/bridge-plan")
    assert result.published_date == "2024-03-02"  # type: ignore[attr-defined]
    assert result.modified_date == "2024-05-20"  # type: ignore[attr-defined]


def test_last_updated_is_published_when_nothing_else_is_stated(restore_rules: None) -> None:
    rules.RULES["date_last_updated"] = True
    header = "<h1>Bridge plan</h1><p>Last updated: 2024-05-20</p>"
    result = run(page("", header), url="https://news.example.org/bridge-plan")
    assert result.published_date == "2024-05-20"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("<a href='/author/jane-doe/'>Jane Doe</a>", ["Jane Doe"]),
        ("<a href='/autoren/carola-poenisch/'>Carola Pönisch</a>", ["Carola Pönisch"]),
        ("<a href='https://www.example.org/authors.jane_doe.html'>Jane Doe</a>", ["Jane Doe"]),
        ("<a href='/author/fabian/'>Fabian</a>", ["Fabian"]),
        # the path must spell the name: a section, a topic or an account page does not
        ("<a href='/people/royals'>Royal Family</a>", []),
        ("<a href='/people/prince'>Prince</a>", []),
        ("<a href='/profile/details/'>My Account</a>", []),
        ("<a href='/author/john-roe/'>Jane Doe</a>", []),
        ("<a href='/2024/05/jane-doe'>Jane Doe</a>", []),
    ],
)
def test_profile_link_names_the_author(link: str, expected: list[str]) -> None:
    header = f"<h1>Bridge plan</h1><div class='meta'><span>Story:</span> {link}</div>"
    assert list(run(page("", header)).authors) == expected  # type: ignore[attr-defined]


def test_profile_links_of_one_byline_only() -> None:
    header = (
        "<h1>Bridge plan</h1><div class='meta'><p><a href='/author/jane-doe/'>Jane Doe</a> and "
        "<a href='/author/john-roe/'>John Roe</a></p></div>"
    )
    aside = "<aside><p><a href='/author/ann-poe/'>Ann Poe</a></p></aside>"
    result = run(page("", header, body=BODY + aside))
    assert list(result.authors) == ["Jane Doe", "John Roe"]  # type: ignore[attr-defined]


def test_copyright_holder_is_no_author(monkeypatch: pytest.MonkeyPatch) -> None:
    head = (
        "<meta name='author' content='Northwind Media Group'>"
        "<meta name='copyright' content='Copyright (c) Northwind Media Group 2024'>"
    )
    header = "<h1>Bridge plan</h1><p>By Jane Doe</p>"
    assert list(run(page(head, header)).authors) == ["Jane Doe"]  # type: ignore[attr-defined]
    # nobody else named: the publisher is what the page offers
    assert list(run(page(head, "<h1>Bridge plan</h1>")).authors) == ["Northwind Media Group"]  # type: ignore[attr-defined]
    monkeypatch.setitem(rules.RULES, "authors_copyright_holder", False)
    assert list(run(page(head, header)).authors) == ["Northwind Media Group"]  # type: ignore[attr-defined]


def test_site_judged_by_its_declared_address() -> None:
    """Served from a loopback mirror, the page's canonical address still names its site."""
    head = (
        "<link rel='canonical' href='https://www.northwind.example/2024/05/bridge-plan'>"
        "<meta name='author' content='northwind.example'>"
    )
    header = "<h1>Bridge plan</h1><p>By Jane Doe</p>"
    result = extract(
        page(head, header),
        {"content-type": "text/html"},
        "http://127.0.0.1:8080/2024/05/bridge-plan",
        fetched_at=FETCHED,
    )
    assert list(result.authors) == ["Jane Doe"]
