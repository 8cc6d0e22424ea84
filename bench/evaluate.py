#!/usr/bin/env python3
"""Score pipelines.extract on an evaluation corpus (main-text body F1, publication-date accuracy).

Usage: bench/evaluate.py CORPUS_DIR [--limit N] [--out predictions.jsonl]

CORPUS_DIR holds truth.jsonl and pages/<id>.html.gz (see the corpus README).
Body: shingle matching as in the article-extraction-benchmark (4-token shingles of
``\\w+`` tokens, per-page tp/fp/fn normalised to sum 1; precision averaged over
pages with a non-empty prediction, recall over all pages). Date: exact
YYYY-MM-DD matches; precision = correct/given, recall = correct/(correct+missing).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.extract import extract

_TOKEN = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4
# The saved pages come without their HTTP headers; a bare type (no charset)
# exercises the same decoding path as a server that declares none.
HEADERS = {"content-type": "text/html"}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--out", type=Path, default=None, help="write predictions as JSONL")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    with (args.corpus / "truth.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if args.limit is not None:
        rows = rows[: args.limit]

    # The first call pays for the libraries' lazy initialisation (seconds, once
    # per process): an untimed call on the first page keeps it out of the
    # per-page figures, which then describe steady state.
    warmup = 0.0
    if rows:
        w0 = time.perf_counter()
        first = gzip.decompress((args.corpus / rows[0]["file"]).read_bytes())
        extract(first, HEADERS, rows[0]["url"])
        warmup = time.perf_counter() - w0

    pairs: list[tuple[float, float, float]] = []
    correct = given = n_date = paywalled = 0
    wall = cpu = 0.0
    slowest: list[float] = []
    out = args.out.open("w", encoding="utf-8") if args.out else None
    try:
        for row in rows:
            body = gzip.decompress((args.corpus / row["file"]).read_bytes())
            w0, c0 = time.perf_counter(), time.process_time()
            result = extract(body, HEADERS, row["url"])
            slowest.append(time.perf_counter() - w0)
            wall += slowest[-1]
            cpu += time.process_time() - c0
            if out is not None:
                prediction = {
                    "id": row["id"],
                    "title": result.title,
                    "published_date": result.published_date,
                    "text": result.text,
                }
                out.write(json.dumps(prediction, ensure_ascii=False) + "\n")
            paywalled += result.paywall
            if row.get("body") is not None:
                pairs.append(match(row["body"], result.text))
            if row.get("published_date") is not None:
                n_date += 1
                predicted = (result.published_date or "")[:10] or None
                if predicted is not None:
                    given += 1
                    correct += predicted == row["published_date"]
    finally:
        if out is not None:
            out.close()

    n = len(rows)
    precision, recall, f1 = body_scores(pairs)
    missing = n_date - given
    date_acc = correct / n_date if n_date else 0.0
    date_p = correct / given if given else 0.0
    date_r = correct / (correct + missing) if correct + missing else 0.0
    print(f"pages: {n}")
    print(f"body: precision={precision:.3f} recall={recall:.3f} f1={f1:.3f} (n={len(pairs)})")
    print(
        f"date: accuracy={date_acc:.3f} precision={date_p:.3f} recall={date_r:.3f} "
        f"(correct={correct} given={given} n={n_date})"
    )
    print(f"paywall flagged: {paywalled} of {n} pages")
    if n:
        slowest.sort()
        p95 = slowest[int(0.95 * (n - 1))]
        print(
            f"time: {1000 * wall / n:.1f} ms/page wall, {1000 * cpu / n:.1f} ms/page cpu, "
            f"p95 {1000 * p95:.0f} ms, max {1000 * slowest[-1]:.0f} ms "
            f"(+ {1000 * warmup:.0f} ms one-off warm-up)"
        )
    print(f"body_f1={f1:.3f} date_acc={date_acc:.3f} n_body={len(pairs)} n_date={n_date}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
