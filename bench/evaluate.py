#!/usr/bin/env python3
"""Score pipelines.extract on a corpus beside plain trafilatura, overall and per origin.

Usage: bench/evaluate.py CORPUS_DIR [--limit N] [--out predictions.jsonl]
       [--no-trafilatura] [--trafilatura-cache FILE] [--thorough]

CORPUS_DIR holds truth.jsonl and pages/<id>.html.gz (``../shared/corpus`` or
``../shared/corpus-meta``; see their READMEs). This calls ``extract()``
directly; ``bench/evaluate_crawl.py`` measures the same through the real
crawl. Scored (``bench/scoring.py``): body F1, snippet precision/recall/F1,
lead, title exact/fuzzy, authors F1, date exact and within the row's
tolerance, each where the corpus has that truth; CPU ms/page is process time
of the extraction call alone. Plain trafilatura is
``extract(html, url=..., output_format="json", with_metadata=True,
include_comments=False)`` (its ``text``, ``title``, ``author``, ``date``).
The last line is machine-readable: ``body_f1=… date_acc=… n_body=N n_date=M``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scoring import Prediction, Scores, load_truth, read_page
from pipelines.extract import extract

# The saved pages come without their HTTP headers; a bare type (no charset)
# exercises the same decoding path as a server that declares none.
HEADERS = {"content-type": "text/html"}


def ours(body: bytes, url: str, *, thorough: bool = False) -> tuple[Prediction, bool]:
    """Our extraction of one page, as a prediction, and whether it was flagged as paywalled."""
    result = extract(body, HEADERS, url, thorough=thorough)
    prediction = Prediction(result.text, result.published_date, result.title, result.authors)
    return prediction, result.paywall


def trafilatura_page(body: bytes, url: str) -> Prediction:
    """Plain trafilatura with its metadata on one page."""
    import trafilatura

    try:
        raw = trafilatura.extract(
            body, url=url, output_format="json", with_metadata=True, include_comments=False
        )
    except Exception:  # a failure of the baseline counts as an empty prediction
        return Prediction()
    if not raw:
        return Prediction()
    doc = json.loads(raw)
    author = doc.get("author")
    authors = [a.strip() for a in author.split(";")] if author else []
    return Prediction(doc.get("text"), doc.get("date"), doc.get("title"), authors)


def run(
    corpus: Path,
    rows: Sequence[Mapping[str, Any]],
    extractor: Callable[[bytes, str], Prediction],
) -> tuple[dict[str, Prediction], float]:
    """Predictions of ``extractor`` on every row, and its mean CPU ms per page.

    The first call, untimed, pays for the libraries' lazy initialisation
    (seconds, once per process): the figures describe steady state.
    """
    if rows:
        extractor(read_page(corpus, rows[0]), str(rows[0]["url"]))
    found: dict[str, Prediction] = {}
    cpu = 0.0
    for row in rows:
        body = read_page(corpus, row)
        c0 = time.process_time()
        found[str(row["id"])] = extractor(body, str(row["url"]))
        cpu += time.process_time() - c0
    return found, 1000 * cpu / max(len(rows), 1)


def _dump(path: Path, predictions: Mapping[str, Prediction]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for pid, p in predictions.items():
            record = {
                "id": pid,
                "title": p.title,
                "authors": list(p.authors or []),
                "published_date": p.published_date,
                "text": p.text,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _load(path: Path) -> dict[str, Prediction]:
    found: dict[str, Prediction] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            found[r["id"]] = Prediction(r["text"], r["published_date"], r["title"], r["authors"])
    return found


FIGURES: list[tuple[str, Callable[[Scores], float], Callable[[Scores], int]]] = [
    ("body F1", lambda s: s.body[2], lambda s: s.n_body),
    ("snippet precision", lambda s: s.snippet_scores[0], lambda s: s.n_snippet_pages),
    ("snippet recall", lambda s: s.snippet_scores[1], lambda s: s.n_snippet_pages),
    ("snippet F1", lambda s: s.snippet_scores[2], lambda s: s.n_snippet_pages),
    ("lead", lambda s: s.lead_rate, lambda s: s.n_lead),
    ("title exact", lambda s: s.title_exact_rate, lambda s: s.n_title),
    ("title fuzzy", lambda s: s.title_fuzzy_rate, lambda s: s.n_title),
    ("authors F1", lambda s: s.authors_f1, lambda s: len(s.author_f1s)),
    ("date exact", lambda s: s.date_accuracy, lambda s: s.n_date),
    ("date within tolerance", lambda s: s.date_within_accuracy, lambda s: s.n_date),
]


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Mapping[str, Mapping[str, Prediction]],
    ms: Mapping[str, float | None],
) -> list[str]:
    """Side-by-side figures of each column, overall then per origin."""
    origins = sorted({str(r.get("origin")) for r in rows})
    groups = [("all", list(rows))] + [
        (o, [r for r in rows if str(r.get("origin")) == o]) for o in origins
    ]
    lines: list[str] = []
    for name, subset in groups:
        scored = {}
        for column, predictions in columns.items():
            scores = Scores()
            for row in subset:
                scores.add(row, predictions.get(str(row["id"])))
            scored[column] = scores
        lines.append(f"== {name} ({len(subset)} pages)")
        lines.append(f"{'':24}{'n':>6}" + "".join(f"{c:>14}" for c in columns))
        first = next(iter(scored.values()))
        for label, value, count in FIGURES:
            if count(first):
                cells = "".join(f"{value(s):>14.3f}" for s in scored.values())
                lines.append(f"{label:24}{count(first):>6}{cells}")
        if name == "all":
            cells = "".join(
                f"{'-' if ms.get(c) is None else format(ms[c], '.1f'):>14}" for c in columns
            )
            lines.append(f"{'CPU ms/page':24}{'':>6}{cells}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--out", type=Path, default=None, help="write our predictions as JSONL")
    parser.add_argument(
        "--thorough", action="store_true", help="extract as EXTRACT_THOROUGH=true does"
    )
    parser.add_argument("--no-trafilatura", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--trafilatura-cache",
        type=Path,
        default=None,
        help="JSONL of trafilatura's predictions: read if present, else written (no timing then)",
    )
    args = parser.parse_args(argv)
    rows = load_truth(args.corpus, args.limit)

    paywalled: dict[str, bool] = {}

    def mine(body: bytes, url: str) -> Prediction:
        prediction, paywalled[url] = ours(body, url, thorough=args.thorough)
        return prediction

    predictions, our_ms = run(args.corpus, rows, mine)
    if args.out is not None:
        _dump(args.out, predictions)
    columns: dict[str, Mapping[str, Prediction]] = {"ours": predictions}
    ms: dict[str, float | None] = {"ours": our_ms}
    if not args.no_trafilatura:
        cache = args.trafilatura_cache
        if cache is not None and cache.exists():
            columns["trafilatura"], ms["trafilatura"] = _load(cache), None
        else:
            columns["trafilatura"], ms["trafilatura"] = run(args.corpus, rows, trafilatura_page)
            if cache is not None:
                _dump(cache, columns["trafilatura"])

    scores = Scores()
    for row in rows:
        scores.add(row, predictions.get(str(row["id"])))
    print(f"pages: {len(rows)}")
    for line in scores.summary_lines():
        print(line)
    print(f"paywall flagged: {sum(paywalled.values())} of {len(paywalled)} page URLs")
    print(f"time: {our_ms:.1f} ms/page cpu")
    for line in table(rows, columns, ms):
        print(line)
    print(scores.machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
