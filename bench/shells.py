#!/usr/bin/env python3
"""How many ordinary pages the shell detector would send to the browser, and at what cost.

Usage: bench/shells.py CORPUS_DIR [CORPUS_DIR ...] [--limit N] [--min-text CHARS]
       bench/shells.py --crawl PAGES_DIR [--n 1000] [--rounds 3]

Every page of each corpus (``pages/<id>.html.gz``, see the corpus README) is
judged by ``pipelines.extract.shell.detect_shell`` and extracted by
``pipelines.extract.extract``. A page the detector calls a shell is a false
positive when its plain extraction already gives at least ``--min-text``
characters of main text (it did not need a browser). Prints, per corpus: pages,
pages called shells (the share that would be rendered), false positives and
their share, the verdicts by rule, and the detector's CPU time per page.

``--crawl`` measures what rendering costs a night of ordinary pages: the real
``scrapy crawl sources`` over N URLs served from PAGES_DIR (bench/throughput.py's
page server and measurement), with ``RENDER_ENABLED`` on and off in rounds whose
order alternates; prints the median pages/s, CPU seconds per page and peak PSS
of each, and the pages the crawl rendered.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.extract import extract
from pipelines.extract.shell import detect_shell

HEADERS = {"content-type": "text/html"}


def judge(corpus: Path, limit: int | None, min_text: int) -> dict[str, object]:
    pages = sorted((corpus / "pages").glob("*.html.gz"))[:limit]
    verdicts: Counter[str] = Counter()
    shells: list[tuple[str, str, int]] = []
    false_positives = 0
    cpu = 0.0
    for page in pages:
        body = gzip.decompress(page.read_bytes())
        c0 = time.process_time()
        verdict = detect_shell(body)
        cpu += time.process_time() - c0
        verdicts[f"{'shell' if verdict.shell else 'page'}/{verdict.reason}"] += 1
        if not verdict.shell:
            continue
        text = extract(body, HEADERS, "https://example.invalid/").text or ""
        shells.append((page.name, verdict.reason, len(text)))
        if len(text) >= min_text:
            false_positives += 1
    count = max(1, len(pages))
    return {
        "corpus": str(corpus),
        "pages": len(pages),
        "shells": len(shells),
        "shell_share": len(shells) / count,
        "false_positives": false_positives,
        "false_positive_share": false_positives / count,
        "detector_cpu_ms_per_page": 1000 * cpu / count,
        "verdicts": dict(sorted(verdicts.items())),
        "called_shells": shells,
    }


def crawl_cost(pages_dir: Path, n: int, rounds: int) -> None:
    import re
    import statistics

    from bench.throughput import Bench, Run, measure

    class RenderBench(Bench):
        def command(self, name: str, n: int, run_dir: Path) -> list[str]:
            command = super().command("b", n, run_dir)
            return [*command, "-s", f"RENDER_ENABLED={'true' if name == 'on' else 'false'}"]

        def run(self, name: str, n: int, index: int) -> Run:
            run_dir = self.work / f"{name}-{n}-{index}"
            run_dir.mkdir()
            log = run_dir / "log.txt"
            result = measure(self.command(name, n, run_dir), n, name, log, self.env)
            output = run_dir / "out.jsonl"
            result.pages = sum(1 for _ in output.open("rb")) if output.exists() else 0
            found = re.search(r"'render/rendered': (\d+)", log.read_text(errors="replace"))
            rendered[name].append(int(found.group(1)) if found else 0)
            return result

    rendered: dict[str, list[int]] = {"on": [], "off": []}
    results: dict[str, list[Run]] = {"on": [], "off": []}
    bench = RenderBench(pages_dir, latency=0.05, concurrency=32, keep=False)
    try:
        for index in range(rounds):
            for name in ("on", "off") if index % 2 == 0 else ("off", "on"):
                results[name].append(bench.run(name, n, index))
    finally:
        bench.close()
    for name, runs in results.items():
        print(
            f"RENDER_ENABLED={name:<3} pages/s {statistics.median(r.rate for r in runs):7.1f}  "
            f"CPU s/page {statistics.median(r.cpu / r.n for r in runs):.4f}  "
            f"peak PSS MB {statistics.median(r.peak_pss for r in runs) / 2**20:6.0f}  "
            f"records {min(r.pages for r in runs)}/{n}  rendered {max(rendered[name])}"
        )
    pairs = zip(results["on"], results["off"], strict=True)
    ratio = statistics.median(a.rate / b.rate for a, b in pairs)
    print(f"on/off pages/s (median of the rounds' own ratios): {ratio:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("corpora", type=Path, nargs="*")
    parser.add_argument("--crawl", type=Path, default=None, help="pages directory to crawl")
    parser.add_argument("--n", type=int, default=1000, help="URLs per crawl (--crawl)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (--crawl)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument(
        "--min-text",
        type=int,
        default=500,
        help="plain-extracted characters from which a page called a shell was not one",
    )
    args = parser.parse_args(argv)
    if args.crawl is not None:
        crawl_cost(args.crawl, args.n, args.rounds)
        return 0
    for corpus in args.corpora:
        r = judge(corpus, args.limit, args.min_text)
        print(
            f"{r['corpus']}: {r['pages']} pages, {r['shells']} called shells "
            f"({100 * float(r['shell_share']):.2f}% sent to the browser), "
            f"{r['false_positives']} false positives "
            f"({100 * float(r['false_positive_share']):.2f}%), "
            f"detector {float(r['detector_cpu_ms_per_page']):.2f} CPU ms/page"
        )
        print(f"  verdicts: {r['verdicts']}")
        for name, reason, chars in r["called_shells"]:  # type: ignore[attr-defined]
            print(f"  shell {name}: {reason}, plain extraction {chars} chars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
