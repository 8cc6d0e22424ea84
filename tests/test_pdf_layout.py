"""PDFs without usable metadata: title, authors, date and identifiers from the first page."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.extract import extract
from pipelines.extract.pdf import date_in_text, extract_pdf, is_placeholder_title
from tests.scholarlyserver import build_pdf

TITLE_A = "Coral Reefs Under Changing Oceans"
BODY = [
    (10.0, 72.0, 540.0, "Abstract. We measure how warm water bleaches shallow reefs."),
    (10.0, 72.0, 526.0, "1 Introduction"),
    (10.0, 72.0, 512.0, "Reefs cover a small share of the ocean floor but hold many species."),
]


def paper(info: dict[str, str] | None, *, stamp: str | None = None) -> bytes:
    runs = [
        (9.0, 72.0, 760.0, "Journal of Reef Studies 12 (2021) 1-20"),
        (20.0, 72.0, 700.0, "Coral Reefs Under"),
        (20.0, 72.0, 676.0, "Changing Oceans"),
        (12.0, 72.0, 640.0, "Alice M. Smith1, Bob Jones2 and Chen Wei*"),
        (10.0, 72.0, 622.0, "1 University of Somewhere, 2 Reef Institute"),
        (10.0, 72.0, 604.0, "Published 3 March 2021"),
        *BODY,
    ]
    if stamp:
        runs.insert(0, (8.0, 72.0, 40.0, stamp))
    return build_pdf([runs, [(10.0, 72.0, 700.0, "Second page text about reefs.")]], info)


@pytest.mark.parametrize(
    "info",
    [
        None,
        {},
        {"Title": "Microsoft Word - draft3.docx", "Author": "Administrator"},
        {"Title": "untitled", "Author": "user"},
        {"Title": "reefs_final_v2.pdf"},
        {"Title": "Slide 1"},
        {"Title": "2021-03-03"},
        {"Title": "   ", "CreationDate": "D:20240101000000Z"},
    ],
)
def test_title_authors_and_date_from_the_first_page(info: dict[str, str] | None) -> None:
    fields = extract_pdf(paper(info))
    assert fields.title == TITLE_A
    assert fields.authors == ("Alice M. Smith", "Bob Jones", "Chen Wei")
    # the date the page states beats the file's creation date
    assert fields.published == date(2021, 3, 3)
    assert fields.text is not None and "Second page text" in fields.text


def test_usable_metadata_wins() -> None:
    fields = extract_pdf(paper({"Title": "Reefs in Warm Water", "Author": "A. Writer; B. Other"}))
    assert fields.title == "Reefs in Warm Water"
    assert fields.authors == ("A. Writer", "B. Other")


def test_no_layout_title_falls_back_to_the_first_line() -> None:
    runs = [(12.0, 72.0, 700.0 - 14 * i, f"Line number {i} of a plain memo") for i in range(6)]
    fields = extract_pdf(build_pdf([runs], {"Title": "Document1"}))
    assert fields.title == "Line number 0 of a plain memo"
    assert fields.authors == ()


def test_identifiers_from_the_first_page_and_info() -> None:
    stamped = extract_pdf(paper(None, stamp="arXiv:2103.01234v2 [q-bio.PE] 3 Mar 2021"))
    assert stamped.identifiers.arxiv == "2103.01234v2"
    # the margin stamp is not the title even though it is printed first
    assert stamped.title == TITLE_A
    subject = extract_pdf(
        paper({"Subject": "Journal of Reef Studies, 12 (2021) 1-20. doi:10.5555/REEF.2021.01"})
    )
    assert subject.identifiers.doi == "10.5555/reef.2021.01"
    explicit = extract_pdf(paper({"doi": "10.5555/Other"}))
    assert explicit.identifiers.doi == "10.5555/other"


def test_extract_carries_pdf_identifiers() -> None:
    result = extract(
        paper(None, stamp="arXiv:2103.01234 [q-bio.PE] 3 Mar 2021"),
        {"content-type": "application/pdf"},
        "https://example.org/reefs.pdf",
    )
    assert result.content_type == "pdf"
    assert result.title == TITLE_A
    assert result.identifiers.arxiv == "2103.01234"


def test_rotated_text_is_not_a_title() -> None:
    # A big rotated stamp (as arXiv prints up the margin) drawn with a rotation matrix.
    body = paper(None)
    rotated = body.replace(
        b"BT /F1 9.0 Tf 72.0 760.0 Td (Journal of Reef Studies 12 \\(2021\\) 1-20) Tj ET",
        b"BT /F1 30.0 Tf 0 1 -1 0 30 300 Tm (Rotated Stamp Text Here) Tj ET",
    )
    assert rotated != body
    # offsets changed: pypdf's non-strict reader rebuilds the cross-reference table
    assert extract_pdf(rotated).title == TITLE_A


@pytest.mark.parametrize(
    ("title", "placeholder"),
    [
        ("Microsoft Word - draft3.docx", True),
        ("Microsoft PowerPoint - talk", True),
        ("untitled", True),
        ("Untitled document", True),
        ("Slide 1", True),
        ("paper.tex", True),
        ("report.pdf", True),
        ("Document1", True),
        ("12345", True),
        ("", True),
        ("Coral Reefs Under Changing Oceans", False),
        ("Paper Title (use style: paper title)", True),
        ("Title IX and campus policy", False),
        ("A Report on Reports", False),
    ],
)
def test_placeholder_titles(title: str, placeholder: bool) -> None:
    assert is_placeholder_title(title) is placeholder


def test_dates_in_text() -> None:
    assert date_in_text("Received: January 5, 2020; more") == date(2020, 1, 5)
    assert date_in_text("on 2019-07-04 we") == date(2019, 7, 4)
    assert date_in_text("3 Sept. 2018") == date(2018, 9, 3)
    assert date_in_text("February 30, 2020") is None
    assert date_in_text("no date here") is None


def test_broken_pdfs_never_raise() -> None:
    for body in (b"%PDF-1.4\n", b"%PDF-1.4\n" + bytes(range(256)) * 8, b""):
        fields = extract_pdf(body)
        assert fields.title is None and fields.authors == ()


def test_a_big_masthead_word_is_not_the_title() -> None:
    runs = [
        (30.0, 72.0, 740.0, "NATURE"),
        (18.0, 72.0, 700.0, "Reef Fish Learn to Avoid Heat*"),
        (11.0, 72.0, 670.0, "Ana Pires and Tom Berg"),
        *BODY,
    ]
    fields = extract_pdf(build_pdf([runs], {}))
    assert fields.title == "Reef Fish Learn to Avoid Heat"
    assert fields.authors == ("Ana Pires", "Tom Berg")
    # a single big word and nothing else that stands out is still the title
    alone = extract_pdf(build_pdf([[(30.0, 72.0, 740.0, "Reefs"), *BODY]], {}))
    assert alone.title == "Reefs"


def test_a_hyphenated_title_line_is_joined() -> None:
    runs = [
        (20.0, 72.0, 700.0, "Thermal Tolerance of Hydro-"),
        (20.0, 72.0, 676.0, "corals in Shallow Seas"),
        *BODY,
    ]
    assert (
        extract_pdf(build_pdf([runs], {})).title
        == "Thermal Tolerance of Hydrocorals in Shallow Seas"
    )


def test_a_hyphenated_compound_keeps_its_hyphen() -> None:
    runs = [(20.0, 72.0, 700.0, "Large-"), (20.0, 72.0, 676.0, "Scale Reef Surveys"), *BODY]
    assert extract_pdf(build_pdf([runs], {})).title == "Large-Scale Reef Surveys"
