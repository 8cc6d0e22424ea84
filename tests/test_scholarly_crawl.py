"""Papers end to end: the real crawl against loopback arXiv, Crossref and publisher fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CrawlResult, run_crawl
from tests.scholarlyserver import (
    RouteServer,
    arxiv_api,
    arxiv_entry,
    build_pdf,
    crossref_work,
)

HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON = "application/json"
PDF = "application/pdf"

ARXIV_ID = "2401.01234v2"
ARXIV_TITLE = "Sparse Attention for Long Documents"
ARXIV_AUTHORS = ["Alice Smith", "Bo Chen", "Carla Diaz"]
NO_HTML_ID = "2402.05555"
NO_HTML_TITLE = "Tidal Models of Small Moons"
OLD_VERSION = "2303.07777v3"
REEF_DOI = "10.5555/reef.2021.01"
REEF_TITLE = "Coral Reefs Under Changing Oceans"
REEF_AUTHORS = [("Alice M.", "Smith"), ("Bob", "Jones")]
PDF_DOI = "10.5555/PDF.77"
PDF_DOI_TITLE = "Heat Flow in Layered Rock"
RENDERING_SENTENCE = "The rendering of this paper says sparse attention scales to long inputs."
PDF_SENTENCE = "Small moons raise tides on their planets that we model here."


def abs_page(arxiv_id: str, title: str, abstract: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head>"
        f"<title>[{arxiv_id}] {title}</title>"
        f"<meta name='citation_title' content='{title}'>"
        "<meta name='citation_author' content='Smith, Alice'>"
        "<meta name='citation_date' content='2024/01/20'>"
        f"<meta name='citation_arxiv_id' content='{arxiv_id}'>"
        f"</head><body><h1 class='title'>Title: {title}</h1>"
        f"<blockquote class='abstract'>Abstract: {abstract}</blockquote></body></html>"
    ).encode()


def rendering() -> bytes:
    paragraphs = "".join(f"<p class='ltx_p'>{RENDERING_SENTENCE} Part {i}.</p>" for i in range(30))
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{ARXIV_TITLE}</title></head><body>"
        f"<article class='ltx_document'><h1 class='ltx_title ltx_title_document'>{ARXIV_TITLE}</h1>"
        "<div class='ltx_authors'><span class='ltx_personname'>Alice Smith</span></div>"
        f"<section class='ltx_section'><h2>1 Introduction</h2>{paragraphs}</section>"
        "</article></body></html>"
    ).encode()


def landing_page() -> bytes:
    """A publisher landing page: the DOI in its meta, the publisher's name as its <title>."""
    return (
        "<!doctype html><html lang='en'><head><title>Journal of Reef Studies</title>"
        "<meta property='og:site_name' content='Journal of Reef Studies'>"
        f"<meta name='citation_doi' content='doi:{REEF_DOI.upper()}'>"
        "</head><body><main><p>"
        + "Reefs are changing as the water warms, and this article measures how. " * 20
        + "</p></main></body></html>"
    ).encode()


def blog_page() -> bytes:
    """A blog post that cites one paper: the DOI is found, the post keeps its own fields."""
    return (
        "<!doctype html><html lang='en'><head><title>What I learned about reefs this summer</title>"
        "<meta name='author' content='Dana Blogger'></head><body><article>"
        "<h1>What I learned about reefs this summer</h1><p>"
        + "I spent the summer snorkelling and reading about reefs. "
        * 20
        + f"</p><p>The best paper I read was <a href='https://doi.org/{REEF_DOI}'>this one</a>."
        "</p></article></body></html>"
    ).encode()


def paper_pdf(
    title_lines: list[str], authors: str, extra: list[str], info: dict[str, str]
) -> bytes:
    runs: list[tuple[float, float, float, str]] = []
    y = 700.0
    for line in title_lines:
        runs.append((18.0, 72.0, y, line))
        y -= 22
    runs.append((11.0, 72.0, y - 10, authors))
    y -= 40
    for line in extra:
        runs.append((10.0, 72.0, y, line))
        y -= 14
    return build_pdf([runs], info)


@pytest.fixture(scope="module")
def papers() -> Iterator[RouteServer]:
    with RouteServer() as server:
        r = server.routes
        r[f"/abs/{ARXIV_ID}"] = (200, HTML, abs_page(ARXIV_ID, ARXIV_TITLE, "Short abstract."))
        r[f"/html/{ARXIV_ID}"] = (200, HTML, rendering())
        # no HTML rendering: the text comes from the PDF
        r[f"/abs/{NO_HTML_ID}"] = (200, HTML, abs_page(NO_HTML_ID, NO_HTML_TITLE, "Moons."))
        r[f"/pdf/{NO_HTML_ID}"] = (
            200,
            PDF,
            paper_pdf([NO_HTML_TITLE], "Eve Moon", [PDF_SENTENCE], {}),
        )
        # a version the API does not list: asked again without it
        r[f"/abs/{OLD_VERSION}"] = (200, HTML, abs_page(OLD_VERSION, "Page Title", "x."))
        r["/api/query"] = arxiv_api(
            {
                ARXIV_ID: arxiv_entry(ARXIV_ID, ARXIV_TITLE, ARXIV_AUTHORS, "2024-01-03T18:00:00Z"),
                NO_HTML_ID: arxiv_entry(
                    NO_HTML_ID + "v1",
                    NO_HTML_TITLE,
                    ["Eve Moon"],
                    "2024-02-08T10:00:00Z",
                    doi="10.5555/Moons.1",
                    journal_ref="Icarus 400 (2024) 1-9",
                ),
                OLD_VERSION[:-2]: arxiv_entry(
                    OLD_VERSION[:-2] + "v4", "Registry Title", ["Ida Lee"], "2023-03-01"
                ),
            }
        )
        # a page stating both its arXiv id and its journal DOI is the preprint
        r["/mirror/moons"] = (
            200,
            HTML,
            abs_page(NO_HTML_ID, "Moons (mirror copy)", "Moons.").replace(
                b"<head>", b"<head><meta name='citation_doi' content='10.5555/moons.1'>"
            ),
        )
        r["/works/10.5555/moons.1"] = (
            200,
            JSON,
            crossref_work("10.5555/moons.1", "Published Moons", [("Eve", "Moon")], [2024, 6, 1]),
        )
        r["/journal/reef"] = (200, HTML, landing_page())
        r["/blog/reefs"] = (200, HTML, blog_page())
        r[f"/works/{REEF_DOI}"] = (
            200,
            JSON,
            crossref_work(
                REEF_DOI,
                REEF_TITLE,
                REEF_AUTHORS,
                [2021, 3, 3],
                container="Journal of Reef Studies",
                issn="1234-5678",
            ),
        )
        # a PDF with a placeholder Info title and its DOI on the first page
        r["/files/heat.pdf"] = (
            200,
            PDF,
            paper_pdf(
                ["Heat Flow in", "Layered Rock"],
                "Ann Stone and Raj Patel",
                [f"DOI: {PDF_DOI}", "Rock conducts heat unevenly across its layers."],
                {"Title": "Microsoft Word - heat_final.docx", "Author": "Administrator"},
            ),
        )
        r[f"/works/{PDF_DOI.lower()}"] = (
            200,
            JSON,
            crossref_work(
                PDF_DOI, PDF_DOI_TITLE, [("Ann", "Stone"), ("Raj", "Patel")], [2019, 11, 5]
            ),
        )
        # a PDF with no identifier and no usable metadata: its layout decides
        r["/files/untitled.pdf"] = (
            200,
            PDF,
            paper_pdf(
                ["Wind Patterns over", "Coastal Cities"],
                "Lena Gray, Omar Haddad",
                ["Published 12 June 2022", "Winds shift as cities grow along coasts."],
                {"Title": "untitled", "Producer": "Some Tool"},
            ),
        )
        # a DOI whose registry answer fails: the record keeps the page's fields
        r["/journal/broken"] = (
            200,
            HTML,
            landing_page()
            .replace(REEF_DOI.upper().encode(), b"10.5555/BROKEN")
            .replace(
                b"<head>", b"<head><meta name='citation_title' content='Broken Registry Paper'>"
            ),
        )
        r["/works/10.5555/broken"] = (500, JSON, b'{"status": "error"}')
        yield server


def crawl(tmp_path: Path, server: RouteServer, name: str, **settings: str) -> CrawlResult:
    paths = [
        f"/abs/{ARXIV_ID}",
        f"/abs/{NO_HTML_ID}",
        "/journal/reef",
        "/blog/reefs",
        "/files/heat.pdf",
        "/files/untitled.pdf",
        "/journal/broken",
        f"/abs/{OLD_VERSION}",
        "/mirror/moons",
    ]
    sources = tmp_path / "sources.txt"
    sources.write_text("".join(server.url(p) + "\n" for p in paths), encoding="utf-8")
    result = run_crawl(
        sources,
        tmp_path / "out" / f"{name}.jsonl",
        EXTRACT_WORKERS="0",
        ARXIV_HOSTS="127.0.0.1",
        ARXIV_HTML_URL=server.url("/html/"),
        # ar5iv renders arxiv.org's papers only: never asked for this server's
        ARXIV_HTML_FALLBACK_URL=server.url("/ar5iv/html/"),
        ARXIV_API_URL=server.url("/api/query"),
        CROSSREF_API_URL=server.url(""),
        CONTACT_URL="mailto:ops@example.org",
        DOWNLOAD_SLOTS="{}",  # the APIs' politeness delays only slow the test down
        RETRY_TIMES="0",
        **settings,
    )
    assert result.exit_code == 0, result.log[-3000:]
    return result


def record(result: CrawlResult, server: RouteServer, path: str) -> dict[str, Any]:
    return result.by_url()[server.url(path)]


def test_papers_get_identifiers_registry_metadata_and_full_text(
    tmp_path: Path, papers: RouteServer
) -> None:
    result = crawl(tmp_path, papers, "first")
    assert "ScholarlyPipeline failed" not in result.log and "MediaPipeline failed" not in result.log

    arxiv = record(result, papers, f"/abs/{ARXIV_ID}")
    assert arxiv["status"] == "ok"
    assert arxiv["identifiers"] == {"doi": None, "arxiv": ARXIV_ID, "pmid": None, "isbn": None}
    assert arxiv["title"] == ARXIV_TITLE
    assert arxiv["authors"] == ARXIV_AUTHORS
    assert arxiv["published_date"] == "2024-01-03"  # the first version's, not the page's
    assert arxiv["metadata_source"] == {
        "title": "arxiv",
        "authors": "arxiv",
        "published_date": "arxiv",
        "publication": "arxiv",
    }
    assert arxiv["publication"] == {"id": "arxiv", "name": "arXiv", "credibility": None}
    # the text is the paper's HTML rendering, not the abstract page
    assert RENDERING_SENTENCE in arxiv["preview"]
    assert "Short abstract" not in arxiv["preview"]

    moons = record(result, papers, f"/abs/{NO_HTML_ID}")
    assert moons["content_type"] == "pdf" and PDF_SENTENCE in moons["preview"]
    assert moons["identifiers"]["arxiv"] == NO_HTML_ID
    assert moons["identifiers"]["doi"] == "10.5555/moons.1"  # stated by arXiv
    assert (moons["title"], moons["authors"], moons["published_date"]) == (
        NO_HTML_TITLE,
        ["Eve Moon"],
        "2024-02-08",
    )

    reef = record(result, papers, "/journal/reef")
    assert reef["identifiers"]["doi"] == REEF_DOI
    assert reef["title"] == REEF_TITLE  # not the publisher's <title>
    assert reef["authors"] == ["Alice M. Smith", "Bob Jones"]
    assert reef["published_date"] == "2021-03-03"
    assert reef["publication"] == {
        "id": "issn:1234-5678",
        "name": "Journal of Reef Studies",
        "credibility": None,
    }
    assert reef["metadata_source"]["title"] == "crossref"
    assert reef["metadata_source"]["publication"] == "crossref"

    blog = record(result, papers, "/blog/reefs")
    assert blog["identifiers"]["doi"] == REEF_DOI
    assert blog["title"] == "What I learned about reefs this summer"
    assert blog["metadata_source"]["title"] == "page"
    assert blog["publication"] is None

    heat = record(result, papers, "/files/heat.pdf")
    assert heat["identifiers"]["doi"] == PDF_DOI.lower()
    assert heat["title"] == PDF_DOI_TITLE
    assert heat["authors"] == ["Ann Stone", "Raj Patel"]
    assert heat["published_date"] == "2019-11-05"
    assert heat["metadata_source"]["title"] == "crossref"

    untitled = record(result, papers, "/files/untitled.pdf")
    assert untitled["identifiers"] == {"doi": None, "arxiv": None, "pmid": None, "isbn": None}
    assert untitled["title"] == "Wind Patterns over Coastal Cities"
    assert untitled["authors"] == ["Lena Gray", "Omar Haddad"]
    assert untitled["published_date"] == "2022-06-12"
    assert untitled["metadata_source"] == {
        "title": "pdf",
        "authors": "pdf",
        "published_date": "pdf",
        "publication": None,
    }

    old = record(result, papers, f"/abs/{OLD_VERSION}")
    assert old["identifiers"]["arxiv"] == OLD_VERSION
    assert (old["title"], old["authors"], old["published_date"]) == (
        "Registry Title",
        ["Ida Lee"],
        "2023-03-01",
    )

    mirror = record(result, papers, "/mirror/moons")
    assert mirror["identifiers"]["arxiv"] == NO_HTML_ID
    assert mirror["identifiers"]["doi"] == "10.5555/moons.1"
    assert (mirror["title"], mirror["metadata_source"]["title"]) == (NO_HTML_TITLE, "arxiv")

    broken = record(result, papers, "/journal/broken")
    assert broken["status"] == "ok"  # a failed lookup never fails the record
    assert broken["identifiers"]["doi"] == "10.5555/broken"
    assert broken["title"] == "Broken Registry Paper"
    assert broken["metadata_source"]["title"] == "page"

    assert not [path for path in papers.requests if path.startswith("/ar5iv/")]

    # Crossref was asked with the contact address for its polite pool
    asked = [path for path in papers.requests if path.startswith(f"/works/{REEF_DOI}")]
    assert asked == [f"/works/{REEF_DOI}?mailto=ops@example.org"]

    # a second run answers from the state: no registry is asked again
    before = {path: count for path, count in papers.requests.items() if "/works/" in path}
    before_arxiv = sum(n for p, n in papers.requests.items() if p.startswith("/api/query"))
    again = crawl(tmp_path, papers, "second")
    assert record(again, papers, "/journal/reef")["title"] == REEF_TITLE
    assert record(again, papers, f"/abs/{ARXIV_ID}")["authors"] == ARXIV_AUTHORS
    after = {path: count for path, count in papers.requests.items() if "/works/" in path}
    # only the failed look-up (not kept) is asked again
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {"/works/10.5555/broken?mailto=ops@example.org"}
    assert sum(n for p, n in papers.requests.items() if p.startswith("/api/query")) == before_arxiv


def test_lookups_off(tmp_path: Path, papers: RouteServer) -> None:
    before = sum(n for p, n in papers.requests.items() if "/works/" in p or "/api/" in p)
    result = crawl(tmp_path, papers, "off", SCHOLARLY_LOOKUP="false")
    after = sum(n for p, n in papers.requests.items() if "/works/" in p or "/api/" in p)
    assert after == before
    reef = record(result, papers, "/journal/reef")
    assert reef["identifiers"]["doi"] == REEF_DOI
    assert reef["metadata_source"]["title"] in ("page", None)
    arxiv = record(result, papers, f"/abs/{ARXIV_ID}")
    # the rendering is still the text; its own title is the page's
    assert RENDERING_SENTENCE in arxiv["preview"]
    assert arxiv["title"] == ARXIV_TITLE and arxiv["metadata_source"]["title"] == "page"
