"""Scoring shared by the evaluation commands (see the corpus README, "How scores are computed").

Body: shingle matching as in the article-extraction-benchmark (4-token shingles
of ``\\w+`` tokens, per-page tp/fp/fn normalised to sum 1; precision averaged
over pages with a non-empty prediction, recall over all pages). Date: exact
``YYYY-MM-DD`` matches; accuracy = correct/pages, precision = correct/given,
recall = correct/(correct+missing).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


@dataclass
class Prediction:
    """What an extractor said about one page (only the scored fields)."""

    text: str | None = None
    published_date: str | None = None


@dataclass
class Scores:
    """Body and date figures of one extractor over a set of pages."""

    pairs: list[tuple[float, float, float]] = field(default_factory=list)
    per_page_f1: dict[str, float] = field(default_factory=dict)
    date_correct: int = 0
    date_given: int = 0
    n_date: int = 0
    date_hits: dict[str, bool] = field(default_factory=dict)

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

    def summary_lines(self) -> list[str]:
        """Human-readable body and date lines."""
        precision, recall, f1 = self.body
        return [
            f"body: precision={precision:.3f} recall={recall:.3f} f1={f1:.3f} (n={self.n_body})",
            f"date: accuracy={self.date_accuracy:.3f} precision={self.date_precision:.3f} "
            f"recall={self.date_recall:.3f} "
            f"(correct={self.date_correct} given={self.date_given} n={self.n_date})",
        ]

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
