"""Scoring shared by the evaluation commands (see the corpus README, "How scores are computed").

Body: shingle matching as in the article-extraction-benchmark (4-token shingles
of ``\\w+`` tokens, per-page tp/fp/fn normalised to sum 1; precision averaged
over pages with a non-empty prediction, recall over all pages). Date: exact
``YYYY-MM-DD`` matches; accuracy = correct/pages, precision = correct/given,
recall = correct/(correct+missing); "within" also accepts a prediction that is
at most the row's ``date_tolerance_days`` away.

The metadata fields follow ``corpus-meta/README.md`` ("Scoring"): title exact
after NFKC, casefold and non-word runs collapsed to one space (against
``title`` or any of ``title_alts``), fuzzy when difflib's ratio is >= 0.9;
authors as the per-page F1 of normalised single-name sets, averaged over pages
with author truth; snippets as trafilatura's evaluation counts them (a ``with``
snippet found is a true positive, one not found a false negative, a
``without`` snippet found a false positive, summed over pages); lead = share of
pages whose text contains the 13-word lead as a run of casefolded word tokens.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


def shingles(text: str | None) -> Counter[tuple[str, ...]]:
    """Multiset of 4-token shingles; texts of 1-3 tokens give one shorter shingle."""
    tokens = _TOKEN.findall(text or "")
    found: Counter[tuple[str, ...]] = Counter()
    for i in range(max(1, len(tokens) - SHINGLE + 1)):
        shingle = tuple(tokens[i : i + SHINGLE])
        if shingle:
            found[shingle] += 1
    return found


def match(truth: str, prediction: str | None) -> tuple[float, float, float]:
    """Per-page (tp, fp, fn), normalised to sum to 1."""
    true, pred = shingles(truth), shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum(pred.values()) - tp
    fn = sum(true.values()) - tp
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def body_scores(pairs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(precision, recall, f1) over pages, as the benchmark averages them."""
    precisions = [tp / (tp + fp) for tp, fp, _ in pairs if tp + fp > 0]
    recalls = [tp / (tp + fn) if tp + fn > 0 else 0.0 for tp, _, fn in pairs]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


_NON_WORD = re.compile(r"\W+")
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:[;,|/&\u00b7]|\b(?:and|und|et)\b)\s*", re.IGNORECASE)
_AUTHOR_LEAD = re.compile(r"^\s*(?:written\s+by|by|von|par)\b\s*", re.IGNORECASE)
FUZZY_RATIO = 0.9
LEAD_WORDS = 13


def normalise_title(value: str | None) -> str:
    """NFKC, casefold, every run of non-word characters one space, trimmed."""
    if not value:
        return ""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()


def title_scores(row: Mapping[str, Any], predicted: str | None) -> tuple[bool, bool]:
    """(exact, fuzzy) match of a predicted title with the row's ``title``/``title_alts``."""
    guess = normalise_title(predicted)
    if not guess:
        return False, False
    accepted = [normalise_title(t) for t in [row.get("title"), *(row.get("title_alts") or [])]]
    accepted = [t for t in accepted if t]
    exact = guess in accepted
    fuzzy = exact or any(SequenceMatcher(None, guess, t).ratio() >= FUZZY_RATIO for t in accepted)
    return exact, fuzzy


def author_names(values: Iterable[str] | str | None) -> set[str]:
    """Single normalised names from a list of author strings (README's splitting rule)."""
    if values is None:
        return set()
    if isinstance(values, str):
        values = [values]
    names: set[str] = set()
    for value in values:
        for part in _AUTHOR_SEPARATORS.split(value or ""):
            part = _AUTHOR_LEAD.sub("", part)
            if "@" in part or "http" in part:
                continue
            name = normalise_title(part)
            if name:
                names.add(name)
    return names


def author_f1(truth: Iterable[str], predicted: Iterable[str] | str | None) -> float:
    """F1 of the predicted against the true set of names on one page."""
    true, guess = author_names(list(truth)), author_names(predicted)
    common = len(true & guess)
    if not common:
        return 1.0 if not true and not guess else 0.0
    precision, recall = common / len(guess), common / len(true)
    return 2 * precision * recall / (precision + recall)


_WS = re.compile(r"\s+")


def snippet_counts(row: Mapping[str, Any], text: str | None) -> tuple[int, int, int]:
    """(tp, fp, fn) of the row's ``with``/``without`` snippets in ``text``."""
    haystack = _WS.sub(" ", text or "").strip()
    tp = fp = fn = 0
    for snippet in row.get("with") or []:
        if _WS.sub(" ", snippet).strip() in haystack:
            tp += 1
        else:
            fn += 1
    for snippet in row.get("without") or []:
        if _WS.sub(" ", snippet).strip() in haystack:
            fp += 1
    return tp, fp, fn


def _words(text: str | None) -> list[str]:
    return [w.casefold() for w in _TOKEN.findall(text or "")]


def has_lead(lead: str, text: str | None) -> bool:
    """Whether ``text`` contains the first :data:`LEAD_WORDS` words of ``lead`` in a row."""
    wanted = _words(lead)[:LEAD_WORDS]
    if not wanted:
        return False
    words = _words(text)
    first = wanted[0]
    n = len(wanted)
    return any(
        words[i : i + n] == wanted
        for i, word in enumerate(words[: len(words) - n + 1])
        if word == first
    )


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


@dataclass
class Prediction:
    """What an extractor said about one page (only the scored fields)."""

    text: str | None = None
    published_date: str | None = None
    title: str | None = None
    authors: tuple[str, ...] | list[str] | None = None


@dataclass
class Scores:
    """Body and date figures of one extractor over a set of pages."""

    pairs: list[tuple[float, float, float]] = field(default_factory=list)
    per_page_f1: dict[str, float] = field(default_factory=dict)
    date_correct: int = 0
    date_given: int = 0
    n_date: int = 0
    date_hits: dict[str, bool] = field(default_factory=dict)
    date_within: int = 0
    n_title: int = 0
    title_exact: int = 0
    title_fuzzy: int = 0
    title_hits: dict[str, bool] = field(default_factory=dict)
    author_f1s: dict[str, float] = field(default_factory=dict)
    snippets: list[int] = field(default_factory=lambda: [0, 0, 0])
    n_snippet_pages: int = 0
    n_lead: int = 0
    lead_hits: int = 0

    @property
    def body(self) -> tuple[float, float, float]:
        """(precision, recall, f1) of the main text."""
        return body_scores(self.pairs)

    @property
    def n_body(self) -> int:
        """Pages with body truth."""
        return len(self.pairs)

    @property
    def date_accuracy(self) -> float:
        """Exact matches over pages with date truth (missing counts as wrong)."""
        return self.date_correct / self.n_date if self.n_date else 0.0

    @property
    def date_precision(self) -> float:
        """Exact matches over dates given."""
        return self.date_correct / self.date_given if self.date_given else 0.0

    @property
    def date_recall(self) -> float:
        """Exact matches over exact matches plus missing dates."""
        missing = self.n_date - self.date_given
        total = self.date_correct + missing
        return self.date_correct / total if total else 0.0

    @property
    def date_within_accuracy(self) -> float:
        """Matches within the row's ``date_tolerance_days`` over pages with date truth."""
        return self.date_within / self.n_date if self.n_date else 0.0

    @property
    def title_exact_rate(self) -> float:
        """Exact title matches over pages with a true title."""
        return self.title_exact / self.n_title if self.n_title else 0.0

    @property
    def title_fuzzy_rate(self) -> float:
        """Fuzzy title matches over pages with a true title."""
        return self.title_fuzzy / self.n_title if self.n_title else 0.0

    @property
    def authors_f1(self) -> float:
        """Mean per-page author F1 over pages with author truth."""
        values = self.author_f1s.values()
        return sum(values) / len(values) if values else 0.0

    @property
    def snippet_scores(self) -> tuple[float, float, float]:
        """(precision, recall, F1) of the snippet test, summed over pages."""
        tp, fp, fn = self.snippets
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        return precision, recall, f1

    @property
    def lead_rate(self) -> float:
        """Share of pages with a lead whose text contains it."""
        return self.lead_hits / self.n_lead if self.n_lead else 0.0

    def add(self, row: Mapping[str, Any], prediction: Prediction | None) -> None:
        """Score one page: ``row`` is its truth, ``prediction`` ``None`` when absent."""
        prediction = prediction or Prediction()
        if row.get("body") is not None:
            tp, fp, fn = match(row["body"], prediction.text)
            self.pairs.append((tp, fp, fn))
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            both = precision + recall
            self.per_page_f1[row["id"]] = 2 * precision * recall / both if both else 0.0
        if row.get("published_date") is not None:
            self.n_date += 1
            predicted = (prediction.published_date or "")[:10] or None
            hit = predicted == row["published_date"]
            if predicted is not None:
                self.date_given += 1
                self.date_correct += hit
            self.date_hits[row["id"]] = hit
            true_day, guess_day = _day(row["published_date"]), _day(predicted)
            tolerance = int(row.get("date_tolerance_days") or 0)
            self.date_within += bool(
                true_day and guess_day and abs((true_day - guess_day).days) <= tolerance
            )
        if row.get("title"):
            self.n_title += 1
            exact, fuzzy = title_scores(row, prediction.title)
            self.title_exact += exact
            self.title_fuzzy += fuzzy
            self.title_hits[row["id"]] = exact
        if row.get("authors"):
            self.author_f1s[row["id"]] = author_f1(row["authors"], prediction.authors)
        if row.get("with") or row.get("without"):
            self.n_snippet_pages += 1
            for i, count in enumerate(snippet_counts(row, prediction.text)):
                self.snippets[i] += count
        if row.get("lead"):
            self.n_lead += 1
            self.lead_hits += has_lead(row["lead"], prediction.text)

    def summary_lines(self) -> list[str]:
        """Human-readable body and date lines."""
        precision, recall, f1 = self.body
        return [
            f"body: precision={precision:.3f} recall={recall:.3f} f1={f1:.3f} (n={self.n_body})",
            f"date: accuracy={self.date_accuracy:.3f} precision={self.date_precision:.3f} "
            f"recall={self.date_recall:.3f} "
            f"(correct={self.date_correct} given={self.date_given} n={self.n_date}) "
            f"within_tolerance={self.date_within_accuracy:.3f}",
            *self.meta_lines(),
        ]

    def meta_lines(self) -> list[str]:
        """Title, authors, snippet and lead lines (only for truth the corpus has)."""
        lines = []
        if self.n_title:
            lines.append(
                f"title: exact={self.title_exact_rate:.3f} fuzzy={self.title_fuzzy_rate:.3f} "
                f"(n={self.n_title})"
            )
        if self.author_f1s:
            lines.append(f"authors: f1={self.authors_f1:.3f} (n={len(self.author_f1s)})")
        if self.n_snippet_pages:
            precision, recall, f1 = self.snippet_scores
            lines.append(
                f"snippets: precision={precision:.3f} recall={recall:.3f} f1={f1:.3f} "
                f"(pages={self.n_snippet_pages})"
            )
        if self.n_lead:
            lines.append(f"lead: {self.lead_rate:.3f} (n={self.n_lead})")
        return lines

    def machine_line(self) -> str:
        """The machine-readable last line of the evaluation commands."""
        return (
            f"body_f1={self.body[2]:.3f} date_acc={self.date_accuracy:.3f} "
            f"n_body={self.n_body} n_date={self.n_date}"
        )


def score(rows: Iterable[Mapping[str, Any]], predictions: Mapping[str, Prediction]) -> Scores:
    """Score ``predictions`` (by page id) against the truth ``rows``."""
    scores = Scores()
    for row in rows:
        scores.add(row, predictions.get(row["id"]))
    return scores


def load_truth(corpus: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of ``corpus/truth.jsonl`` (the first ``limit`` when given)."""
    with (corpus / "truth.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return rows if limit is None else rows[:limit]


def read_page(corpus: Path, row: Mapping[str, Any]) -> bytes:
    """The original bytes of a corpus page."""
    return gzip.decompress((corpus / row["file"]).read_bytes())
