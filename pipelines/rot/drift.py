"""Drift: is the page still the document that was cited?

``content_similarity`` compares the page's main text (its preview) with the
first version this project saw, through the bottom-k sketch the state keeps
of it (:func:`pipelines.rot.similarity.sketch`); ``title_similarity`` compares
the page's title with the title the sources list gives the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.rot.similarity import sketch_similarity, title_similarity

#: estimated Jaccard similarity of 5-word shingles below which the text is
#: another document. An edit in place (a correction, an added paragraph)
#: changes a few shingles per changed word: a 500-word preview with twenty
#: words changed keeps about 0.8, one paragraph added gave 0.97 on the test
#: pages. Another document shares only stock phrases: 0.10 between two test
#: pages built from the same phrase list, about 0 between unrelated texts.
#: 0.2 sits between the two with room for the sketch's estimation error
#: (about +-0.06). The title does not take part: sites keep a headline over
#: replaced text as often as they rename an unchanged one.
DRIFTED_BELOW = 0.2


@dataclass(frozen=True, slots=True)
class Drift:
    """The record's ``drift`` object."""

    title_similarity: float | None
    content_similarity: float | None
    baseline_at: str | None
    drifted: bool | None

    def as_record(self) -> dict[str, Any]:
        """The record's form (similarities rounded to 3 places)."""
        return {
            "title_similarity": _round(self.title_similarity),
            "content_similarity": _round(self.content_similarity),
            "baseline_at": self.baseline_at,
            "drifted": self.drifted,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def drift_of(
    *,
    entry_title: str | None,
    page_title: str | None,
    current: bytes | None,
    baseline: bytes | None,
    baseline_at: str | None,
) -> Drift | None:
    """The drift of a page, or None when there is nothing at all to compare.

    ``drifted`` is decided by the text against its baseline; the title alone
    never decides it (a sources list's title is often the wiki's own wording,
    or another language). With no baseline yet, the page becomes it: the
    caller stores ``current`` and the comparison says 1.0 against itself.
    """
    titles = title_similarity(entry_title, page_title)
    if current is not None and baseline is None:
        baseline, baseline_at = current, baseline_at
    content = sketch_similarity(current, baseline)
    if titles is None and content is None:
        return None
    drifted: bool | None = None
    if content is not None:
        drifted = content < DRIFTED_BELOW
    elif titles is not None:
        drifted = False
    return Drift(titles, content, baseline_at if content is not None else None, drifted)
