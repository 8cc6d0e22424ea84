"""Identifiers in URLs, page metadata, JSON-LD and text: found and normalised."""

from __future__ import annotations

import pytest

from pipelines.extract.identifiers import (
    Identifiers,
    arxiv_from_url,
    from_page,
    from_text,
    from_url,
    normalise_arxiv,
    normalise_doi,
    normalise_isbn,
    normalise_pmid,
)
from pipelines.extract.markup import build_page


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("10.1038/NATURE12373", "10.1038/nature12373"),
        ("https://doi.org/10.1038/nature12373", "10.1038/nature12373"),
        ("http://dx.doi.org/10.1000/xyz123.", "10.1000/xyz123"),
        ("doi:10.1126/science.169.3946.635", "10.1126/science.169.3946.635"),
        ("DOI: 10.1371/journal.pone.0123456;", "10.1371/journal.pone.0123456"),
        ("https://doi.org/10.1002%2Fanie.201915678", "10.1002/anie.201915678"),
        # a bracket that belongs to the DOI stays, one closing the sentence goes
        ("(see 10.1002/(SICI)1097-4636(199905)45:2<71::AID-JBM1>3.0.CO;2-A)", None),
        ("10.1002/(SICI)1097-4636(199905)45", "10.1002/(sici)1097-4636(199905)45"),
        ("(doi:10.5555/12345678)", "10.5555/12345678"),
        ("not a doi", None),
        ("10.12/too-short-registrant", None),
        (None, None),
    ],
)
def test_normalise_doi(raw: str | None, doi: str | None) -> None:
    if doi is None and raw and "SICI" in raw:
        # angle brackets end a DOI in running text: only the part before them is kept
        assert normalise_doi(raw) == "10.1002/(sici)1097-4636(199905)45:2"
        return
    assert normalise_doi(raw) == doi


@pytest.mark.parametrize(
    ("raw", "arxiv"),
    [
        ("2401.01234", "2401.01234"),
        ("arXiv:2401.01234v2", "2401.01234v2"),
        ("https://arxiv.org/abs/1706.03762v5", "1706.03762v5"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v1", "math.GT/0309136v1"),
        ("1234.5", None),
        ("https://example.org/abs/2401.01234", None),
    ],
)
def test_normalise_arxiv(raw: str, arxiv: str | None) -> None:
    assert normalise_arxiv(raw) == arxiv


def test_normalise_isbn_checksums() -> None:
    # ISBN-13 of "The Feynman Lectures" style test vector; ISBN-10 converted to ISBN-13
    assert normalise_isbn("978-0-306-40615-7") == "9780306406157"
    assert normalise_isbn("ISBN 0-306-40615-2") == "9780306406157"
    assert normalise_isbn("urn:isbn:9780306406157") == "9780306406157"
    assert normalise_isbn("978-0-306-40615-8") is None  # wrong check digit
    assert normalise_isbn("0-306-40615-3") is None
    assert normalise_isbn("080442957X") == "9780804429573"
    assert normalise_isbn("12345") is None


def test_normalise_pmid() -> None:
    assert normalise_pmid("PMID: 31452104") == "31452104"
    assert normalise_pmid(31452104) == "31452104"
    assert normalise_pmid("0012") == "12"
    assert normalise_pmid("12a") is None
    assert normalise_pmid("") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://doi.org/10.1038/Nature12373", Identifiers(doi="10.1038/nature12373")),
        (
            "https://onlinelibrary.wiley.com/doi/full/10.1002/anie.201915678",
            Identifiers(doi="10.1002/anie.201915678"),
        ),
        (
            "https://www.tandfonline.com/doi/abs/10.1080/14786435.2020.1234567?src=recsys",
            Identifiers(doi="10.1080/14786435.2020.1234567"),
        ),
        (
            "https://link.springer.com/content/pdf/10.1007/s00134-020-06294-x.pdf",
            Identifiers(doi="10.1007/s00134-020-06294-x"),
        ),
        (
            "https://www.biorxiv.org/content/10.1101/2020.03.01.123456v2.full.pdf",
            Identifiers(doi="10.1101/2020.03.01.123456"),
        ),
        (
            "https://journals.plos.org/plosone/article?id=10.1371/journal.pone.0123456",
            Identifiers(doi="10.1371/journal.pone.0123456"),
        ),
        ("https://arxiv.org/abs/2401.01234", Identifiers(arxiv="2401.01234")),
        ("https://arxiv.org/pdf/2401.01234v3.pdf", Identifiers(arxiv="2401.01234v3")),
        ("https://arxiv.org/html/2401.01234v1/", Identifiers(arxiv="2401.01234v1")),
        ("https://export.arxiv.org/abs/hep-th/9901001", Identifiers(arxiv="hep-th/9901001")),
        ("https://pubmed.ncbi.nlm.nih.gov/31452104/", Identifiers(pmid="31452104")),
        ("https://www.ncbi.nlm.nih.gov/pubmed/31452104", Identifiers(pmid="31452104")),
        ("https://europepmc.org/article/MED/31452104", Identifiers(pmid="31452104")),
        ("https://example.org/abs/2401.01234", Identifiers()),
        ("https://example.org/blog/10-things", Identifiers()),
        ("not a url", Identifiers()),
    ],
)
def test_from_url(url: str, expected: Identifiers) -> None:
    assert from_url(url) == expected


def test_arxiv_hosts_are_a_parameter() -> None:
    assert arxiv_from_url("http://127.0.0.1:8000/abs/2401.01234v2", ["127.0.0.1"]) == (
        "abs",
        "2401.01234v2",
    )
    assert arxiv_from_url("http://127.0.0.1:8000/abs/2401.01234v2") is None


def _page(head: str, body: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def test_from_page_meta_and_jsonld() -> None:
    page = build_page(
        _page(
            '<meta name="citation_doi" content="doi:10.1234/ABC.5">'
            '<meta name="citation_arxiv_id" content="2301.00001">'
            '<meta name="citation_pmid" content="123456">'
            '<meta name="DC.identifier" content="urn:isbn:9780306406157">'
        ),
        "https://example.org/paper",
    )
    assert from_page(page) == Identifiers(
        doi="10.1234/abc.5", arxiv="2301.00001", pmid="123456", isbn="9780306406157"
    )
    jsonld = build_page(
        _page(
            '<script type="application/ld+json">{"@context": "https://schema.org",'
            ' "@type": "ScholarlyArticle", "name": "x",'
            ' "identifier": {"@type": "PropertyValue", "propertyID": "DOI",'
            ' "value": "10.5555/XYZ"},'
            ' "sameAs": "https://arxiv.org/abs/2302.00002v2",'
            ' "citation": [{"@type": "ScholarlyArticle", "identifier": "10.9999/other"}]}'
            "</script>"
        ),
        "https://example.org/paper",
    )
    assert from_page(jsonld) == Identifiers(doi="10.5555/xyz", arxiv="2302.00002v2")
    book = build_page(
        _page(
            '<script type="application/ld+json">{"@type": "Book", "name": "B",'
            ' "isbn": "0-306-40615-2"}</script>'
        ),
        "https://example.org/book",
    )
    assert from_page(book).isbn == "9780306406157"


def test_links_count_only_when_they_name_one_work() -> None:
    one = build_page(
        _page("", '<p>Read it at <a href="https://doi.org/10.1000/one">the journal</a>.</p>'),
        "https://example.org/a",
    )
    assert from_page(one).doi == "10.1000/one"
    many = build_page(
        _page(
            "",
            '<a href="https://doi.org/10.1000/one">1</a> <a href="https://doi.org/10.1000/two">2</a>',
        ),
        "https://example.org/b",
    )
    assert from_page(many).doi is None
    # the page's own metadata beats a link to another work
    own = build_page(
        _page(
            '<meta name="citation_doi" content="10.1000/own">',
            '<a href="https://doi.org/10.1000/cited">cited</a>',
        ),
        "https://example.org/c",
    )
    assert from_page(own).doi == "10.1000/own"


def test_from_text() -> None:
    stamp = "arXiv:2401.01234v2 [cs.CL] 3 Jan 2024\nSome Title\nDOI: 10.1145/3000000.3000001"
    assert from_text(stamp) == Identifiers(doi="10.1145/3000000.3000001", arxiv="2401.01234v2")
    assert from_text("PMID: 31452104 ISBN 978-0-306-40615-7").pmid == "31452104"
    assert from_text("ISBN 978-0-306-40615-7").isbn == "9780306406157"
    refs = "[1] doi:10.1000/a. [2] doi:10.1000/b. [3] arXiv:2101.00001 [4] arXiv:2101.00002"
    assert from_text(refs) == Identifiers()
    assert from_text("arXiv:2101.00001 and later arXiv:2101.00001v3").arxiv == "2101.00001v3"


def test_merge_prefers_the_first() -> None:
    url = Identifiers(doi="10.1000/a")
    page = Identifiers(doi="10.1000/b", arxiv="2101.00001")
    assert url.merge(page) == Identifiers(doi="10.1000/a", arxiv="2101.00001")
    assert Identifiers.from_dict(
        {"doi": "https://doi.org/10.1000/A", "isbn": "bad"}
    ) == Identifiers(doi="10.1000/a")
    assert not Identifiers()


def test_identifiers_stated_anywhere_in_the_document() -> None:
    page = build_page(
        _page(
            "<title>A landing page</title>",
            "<header>Journal of Tests · DOI: 10.5555/Header.1 · PMID: 998877</header>"
            "<main><p>Body text.</p></main>"
            "<aside><a href='https://arxiv.org/abs/2305.11111v2'>Preprint</a></aside>",
        ),
        "https://example.org/landing",
    )
    # main text passed without the header: the document's text still names them
    assert from_page(page, "Body text.") == Identifiers(
        doi="10.5555/header.1", arxiv="2305.11111v2", pmid="998877"
    )
    two_preprints = build_page(
        _page(
            "",
            "<a href='https://arxiv.org/abs/2305.11111'>a</a>"
            "<a href='https://arxiv.org/pdf/2305.22222'>b</a>",
        ),
        "https://example.org/list",
    )
    assert from_page(two_preprints).arxiv is None


def test_stated_kinds_travel_with_the_record() -> None:
    page = build_page(
        _page(
            '<meta name="citation_doi" content="10.1000/own">',
            "<p>See arXiv:2101.00001 for the preprint.</p>",
        ),
        "https://example.org/c",
    )
    found = from_page(page, "See arXiv:2101.00001 for the preprint.")
    assert found == Identifiers(doi="10.1000/own", arxiv="2101.00001")
    assert found.stated == ("doi",)  # the arXiv id is only mentioned
    record = found.with_stated()
    assert record["_stated"] == ["doi"]
    assert Identifiers.from_dict(record).stated == ("doi",)
    # the URL's identifiers win and count as stated; the page's stated kinds stay
    merged = from_url("https://arxiv.org/abs/2101.00002").as_stated().merge(found)
    assert (merged.arxiv, merged.stated) == ("2101.00002", ("arxiv", "doi"))


def test_jsonld_links_to_registries() -> None:
    page = build_page(
        _page(
            '<script type="application/ld+json">{"@type": "MedicalScholarlyArticle",'
            ' "headline": "x", "sameAs": ["https://pubmed.ncbi.nlm.nih.gov/31452104/",'
            ' "https://example.org/elsewhere"]}</script>'
        ),
        "https://example.org/med",
    )
    assert from_page(page) == Identifiers(pmid="31452104")
    assert from_page(page).stated == ("pmid",)


def test_arxiv_dois_name_arxiv_papers() -> None:
    from pipelines.extract.identifiers import arxiv_of_doi

    doi = from_url("https://doi.org/10.48550/arXiv.2401.01234").doi
    assert doi == "10.48550/arxiv.2401.01234"
    assert arxiv_of_doi(doi) == "2401.01234"
    assert arxiv_of_doi("10.1038/nature12373") is None
    assert arxiv_of_doi(None) is None
