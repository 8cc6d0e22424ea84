#!/usr/bin/env python3
"""Score pipelines.extract on an evaluation corpus (main-text body F1, publication-date accuracy).

Usage: bench/evaluate.py CORPUS_DIR [--limit N] [--out predictions.jsonl]

CORPUS_DIR holds truth.jsonl and pages/<id>.html.gz (see the corpus README).
This calls ``extract()`` directly; ``bench/evaluate_crawl.py`` measures the
same through the real crawl. Scoring lives in ``bench/scoring.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scoring import Prediction, Scores, load_truth, read_page
from pipelines.extract import extract

# The saved pages come without their HTTP headers; a bare type (no charset)
# exercises the same decoding path as a server that declares none.
HEADERS = {"content-type": "text/html"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--out", type=Path, default=None, help="write predictions as JSONL")
    parser.add_argument(
        "--thorough", action="store_true", help="extract as EXTRACT_THOROUGH=true does"
    )
    args = parser.parse_args(argv)

    rows = load_truth(args.corpus, args.limit)

    # The first call pays for the libraries' lazy initialisation (seconds, once
    # per process): an untimed call on the first page keeps it out of the
    # per-page figures, which then describe steady state.
    warmup = 0.0
    if rows:
        w0 = time.perf_counter()
        extract(read_page(args.corpus, rows[0]), HEADERS, rows[0]["url"], thorough=args.thorough)
        warmup = time.perf_counter() - w0

    scores = Scores()
    paywalled = 0
    wall = cpu = 0.0
    slowest: list[float] = []
    out = args.out.open("w", encoding="utf-8") if args.out else None
    try:
        for row in rows:
            body = read_page(args.corpus, row)
            w0, c0 = time.perf_counter(), time.process_time()
            result = extract(body, HEADERS, row["url"], thorough=args.thorough)
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
            scores.add(row, Prediction(result.text, result.published_date))
    finally:
        if out is not None:
            out.close()

    n = len(rows)
    print(f"pages: {n}")
    for line in scores.summary_lines():
        print(line)
    print(f"paywall flagged: {paywalled} of {n} pages")
    if n:
        slowest.sort()
        p95 = slowest[int(0.95 * (n - 1))]
        print(
            f"time: {1000 * wall / n:.1f} ms/page wall, {1000 * cpu / n:.1f} ms/page cpu, "
            f"p95 {1000 * p95:.0f} ms, max {1000 * slowest[-1]:.0f} ms "
            f"(+ {1000 * warmup:.0f} ms one-off warm-up)"
        )
    print(scores.machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
