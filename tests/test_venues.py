"""Venue matching by domain, from a publications list in the wiki's format."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.venues import VenueIndex

PUBLICATIONS = """\
# Publications
- id: nature
  domains: [nature.com]
  name: Nature
  type: academic_journal
  credibility: 5
- id: nature-news
  domains: [nature.com/articles]
  name: Nature News
  credibility: 4
- id: arxiv
  domains: [arxiv.org]
  name: arXiv
  credibility: 3
- id: gov-uk
  domains: [www.gov.uk]
  name: GOV.UK
  credibility: 4
- name: an entry without an id is skipped
  domains: [skip.example]
"""


@pytest.fixture
def index(tmp_path: Path) -> VenueIndex:
    path = tmp_path / "publications.yaml"
    path.write_text(PUBLICATIONS, encoding="utf-8")
    return VenueIndex.load(path)


@pytest.mark.parametrize(
    ("url", "venue"),
    [
        ("https://www.nature.com/subjects/ai", "nature"),
        ("https://www.nature.com/articles/d41586-024-03214-7", "nature-news"),
        ("https://export.arxiv.org/abs/2401.00001", "arxiv"),
        ("https://arxiv.org/abs/2401.00001", "arxiv"),
        ("https://www.gov.uk/government/publications/x", "gov-uk"),
        ("https://notarxiv.org/abs/1", None),
        ("https://skip.example/", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_match(index: VenueIndex, url: str | None, venue: str | None) -> None:
    found = index.match(url)
    assert (found.id if found else None) == venue


def test_record_shape_and_lookup_by_id(index: VenueIndex) -> None:
    assert len(index) == 4
    venue = index.by_id("arxiv")
    assert venue is not None
    assert venue.as_record() == {"id": "arxiv", "name": "arXiv", "credibility": 3}
    assert index.by_id("missing") is None


def test_the_bundled_example_publications_match_the_example_sources() -> None:
    examples = Path(__file__).resolve().parent.parent / "crawler" / "examples"
    index = VenueIndex.load(examples / "publications.yaml")
    matched = {
        url: (venue.id if (venue := index.match(url)) else None)
        for url in (
            "https://arxiv.org/abs/1706.03762",
            "https://www.rfc-editor.org/rfc/rfc9309.html",
            "https://en.wikipedia.org/wiki/Web_crawler",
            "https://example.com",
        )
    }
    assert matched == {
        "https://arxiv.org/abs/1706.03762": "arxiv",
        "https://www.rfc-editor.org/rfc/rfc9309.html": "rfc-editor",
        "https://en.wikipedia.org/wiki/Web_crawler": "wikipedia",
        "https://example.com": None,
    }
