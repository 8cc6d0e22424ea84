#!/usr/bin/env python3
"""The main-text choice measured on its own: each reading, the choice, the oracle, the rules' CV.

Usage: bench/textchoice.py CORPUS [CORPUS ...] --cache DIR [--rules NAME,...] [--folds 5]
       [--limit N] [--verify]

``pipelines.extract.text.html_main_text`` chooses among readings of a page
(trafilatura's precise, recall and default modes, fast or with its comparison
against readability and jusText, and readability's own article). This command
computes every reading of every page with text truth once, keeps them in
``DIR/passes.jsonl`` (outside the checkout), and then replays the choice on
them through :class:`~pipelines.extract.text.Passes`: the production code
decides, only the trafilatura and readability runs are remembered. It prints

1. each reading alone and the current choice, per corpus and text metric
   (body F1, snippet F1, lead: ``bench/scoring.py``), and the oracle that
   takes, page by page, the reading scoring best on that page's own truth:
   the room a better choice has;
2. how many pages the current choice asks each reading of (the CPU it costs);
3. the 5-fold site-split cross-validated effect of every text rule of
   ``pipelines/extract/rules.py`` (or ``--rules``), computed exactly as
   ``bench/crossval.py`` computes it (its folds and its ``evaluate_rule``),
   only faster: a threshold grid costs seconds instead of a full extraction
   per value.

``--verify`` checks that the replayed default choice gives, on every page,
the text ``extract()`` gives (it runs ``extract()`` once per page).
The cache is keyed by page id only: delete it after changing trafilatura,
readability or the readings themselves (not after changing the choice).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.crossval import (
    FETCHED,
    FIELD,
    HEADERS,
    METRICS,
    assign_folds,
    evaluate_rule,
    has_truth,
    site_of,
)
from bench.scoring import Prediction, Scores, load_truth, read_page
from pipelines.extract import extract, rules
from pipelines.extract.encoding import decode_body
from pipelines.extract.markup import build_page
from pipelines.extract.metadata import extract_site_name, extract_title
from pipelines.extract.text import (
    Document,
    Passes,
    drop_leading_title,
    fast_main_text,
    html_main_text,
    page_measures,
)

# Every reading the choice can ask for: trafilatura (precision, thorough), readability.
READINGS: dict[str, tuple[bool | None, bool] | None] = {
    "precise": (True, False),
    "recall": (False, False),
    "default": (None, False),
    "precise-thorough": (True, True),
    "recall-thorough": (False, True),
    "default-thorough": (None, True),
    "readability": None,
}
_KEYS = {value: name for name, value in READINGS.items() if value is not None}


class ReplayPasses(Passes):
    """:class:`Passes` that remember each reading in ``store`` and count the ones asked for."""

    def __init__(
        self, document: Document, url: str, store: dict[str, str | None], asked: Counter[str]
    ) -> None:
        super().__init__(document, url)
        self.store = store
        self.asked = asked

    def trafilatura(self, precision: bool | None, thorough: bool) -> str | None:
        """The remembered reading, computed on first use."""
        return self._get(
            _KEYS[(precision, thorough)],
            lambda: super(ReplayPasses, self).trafilatura(precision, thorough),
        )

    def readability(self) -> str | None:
        """The remembered readability article, computed on first use."""
        return self._get("readability", super().readability)

    def _get(self, key: str, compute: Callable[[], str | None]) -> str | None:
        self.asked[key] += 1
        if key not in self.store:
            self.store[key] = compute()
        return self.store[key]


class Pages:
    """The text-truth pages of the corpora, their readings and the replayed choice."""

    def __init__(self, corpora: Mapping[str, list[dict[str, Any]]], cache: Path) -> None:
        self.rows = {
            str(row["id"]): (corpus, row)
            for corpus, rows in corpora.items()
            for row in rows
            if has_truth(row, "text")
        }
        self.path = cache / "passes.jsonl"
        self.readings: dict[str, dict[str, str | None]] = {}
        if self.path.exists():
            for line in self.path.read_text("utf-8").splitlines():
                record = json.loads(line)
                self.readings[record["id"]] = record["readings"]
        self.titles: dict[str, str | None] = {}
        self.asked: Counter[str] = Counter()

    def save(self) -> None:
        """Write every reading computed so far."""
        with self.path.open("w", encoding="utf-8") as fh:
            for pid, readings in self.readings.items():
                fh.write(json.dumps({"id": pid, "readings": readings}, ensure_ascii=False) + "\n")

    def _page(self, pid: str) -> tuple[Any, str]:
        corpus, row = self.rows[pid]
        html = decode_body(read_page(Path(corpus), row), HEADERS["content-type"])
        page = build_page(html, str(row["url"]), dict(HEADERS))
        if pid not in self.titles:
            self.titles[pid] = extract_title(page, extract_site_name(page))
        return page, html

    def choice(self, pid: str, count: bool = False) -> str | None:
        """The text extract() gives the page, its readings replayed (as extract_html runs it)."""
        page, html = self._page(pid)
        large, page_words = page_measures(page.tree)
        if large:
            main = fast_main_text(page.tree)
        else:
            document = page.tree if page.tree is not None else html
            store = self.readings.setdefault(pid, {})
            asked: Counter[str] = self.asked if count else Counter()
            passes = ReplayPasses(document, str(self.rows[pid][1]["url"]), store, asked)
            main = html_main_text(document, passes.url, page_words=page_words, passes=passes)
        return drop_leading_title(main, self.titles[pid])

    def reading(self, pid: str, name: str) -> str | None:
        """One reading of the page alone (headline paragraph dropped, as the choice's text)."""
        store = self.readings.setdefault(pid, {})
        if name not in store:
            page, html = self._page(pid)
            document = page.tree if page.tree is not None else html
            passes = ReplayPasses(document, str(self.rows[pid][1]["url"]), store, Counter())
            spec = READINGS[name]
            if spec is None:
                passes.readability()
            else:
                passes.trafilatura(*spec)
        elif pid not in self.titles:
            self._page(pid)
        return drop_leading_title(store[name], self.titles[pid])


class ReplayRunner:
    """``bench.crossval.Runner`` for the text field, on replayed readings."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.memory: dict[str, dict[str, Prediction]] = {}

    def run(self, field: str, overrides: Mapping[str, Any]) -> dict[str, Prediction]:
        """Texts of every page with the rule table changed by ``overrides``."""
        assert field == "text", field
        key = json.dumps(sorted(overrides.items()))
        if key in self.memory:
            return self.memory[key]
        saved_rules, saved_thresholds = dict(rules.RULES), dict(rules.THRESHOLDS)
        try:
            for name, value in overrides.items():
                rules.RULES[name] = value if isinstance(value, bool) else True
                if not isinstance(value, bool):
                    rules.THRESHOLDS[name] = float(value)
            found = {pid: Prediction(text=self.pages.choice(pid)) for pid in self.pages.rows}
        finally:
            rules.RULES.clear()
            rules.RULES.update(saved_rules)
            rules.THRESHOLDS.clear()
            rules.THRESHOLDS.update(saved_thresholds)
        self.memory[key] = found
        return found


def page_score(row: Mapping[str, Any], text: str | None, index: int) -> float | None:
    """The ``index``-th text metric of one page (None when the page has no such truth)."""
    scores = Scores()
    scores.add(row, Prediction(text=text))
    _, value, count = METRICS["text"][index]
    if not count(scores):
        return None
    if index == 0:
        return scores.per_page_f1[str(row["id"])]
    return value(scores)


def corpus_value(
    rows: Sequence[Mapping[str, Any]], texts: Mapping[str, str | None], index: int
) -> float:
    """The ``index``-th text metric over ``rows``."""
    scores = Scores()
    for row in rows:
        scores.add(row, Prediction(text=texts[str(row["id"])]))
    return METRICS["text"][index][1](scores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("corpora", type=Path, nargs="+")
    parser.add_argument("--cache", type=Path, required=True, help="readings are kept here")
    parser.add_argument("--rules", default=None, help="comma-separated text rules (default: all)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each")
    parser.add_argument("--verify", action="store_true", help="compare with extract() per page")
    args = parser.parse_args(argv)
    corpora = {str(c): load_truth(c, args.limit) for c in args.corpora}
    args.cache.mkdir(parents=True, exist_ok=True)
    pages = Pages(corpora, args.cache)
    start = time.process_time()
    texts = {pid: pages.choice(pid, count=True) for pid in pages.rows}
    alone = {name: {pid: pages.reading(pid, name) for pid in pages.rows} for name in READINGS}
    pages.save()
    print(
        f"pages with text truth: {len(pages.rows)} (readings computed/replayed in "
        f"{time.process_time() - start:.0f} CPU-s)"
    )
    if args.verify:
        differ = [
            pid
            for pid, (corpus, row) in pages.rows.items()
            if extract(
                read_page(Path(corpus), row), HEADERS, str(row["url"]), fetched_at=FETCHED
            ).text
            != texts[pid]
        ]
        print(f"replayed choice differs from extract() on {len(differ)} pages {differ[:10]}")
    print(f"{'reading':18}{'corpus':14}" + "".join(f"{m[0]:>12}" for m in METRICS["text"]))
    for corpus, every in corpora.items():
        rows = [row for row in every if str(row["id"]) in pages.rows]
        if not rows:
            continue
        name = Path(corpus).name
        counted = [i for i in range(len(METRICS["text"])) if METRICS["text"][i][2](_scored(rows))]
        for label, chosen in [*alone.items(), ("choice", texts)]:
            values = "".join(
                f"{corpus_value(rows, chosen, i):12.4f}" if i in counted else f"{'-':>12}"
                for i in range(len(METRICS["text"]))
            )
            print(f"{label:18}{name:14}{values}")
        oracle = []
        for i in range(len(METRICS["text"])):
            if i not in counted:
                oracle.append(f"{'-':>12}")
                continue
            best: dict[str, str | None] = {}
            for row in rows:
                pid = str(row["id"])
                options = [texts[pid], *(alone[n][pid] for n in READINGS)]
                best[pid] = max(options, key=lambda t: page_score(row, t, i) or 0.0)
            oracle.append(f"{corpus_value(rows, best, i):12.4f}")
        print(f"{'oracle':18}{name:14}" + "".join(oracle))
    total = len(pages.rows)
    print(
        "readings the choice asks for: "
        + ", ".join(f"{name} {pages.asked[name]}/{total}" for name in READINGS)
    )
    every = [row for rows in corpora.values() for row in rows]
    fold_of = assign_folds(every, args.folds)
    runner = ReplayRunner(pages)
    names = (
        args.rules.split(",") if args.rules else [r for r in rules.RULES if FIELD.get(r) == "text"]
    )
    print(f"sites: {len({site_of(r) for r in every})}, folds: {args.folds}")
    print(f"{'rule':32}{'corpus':14}{'metric':12}{'CV effect':>9}")
    for rule in names:
        for line in evaluate_rule(rule, "text", runner, corpora, fold_of, args.folds):  # type: ignore[arg-type]
            print(line, flush=True)
    pages.save()
    return 0


def _scored(rows: Sequence[Mapping[str, Any]]) -> Scores:
    scores = Scores()
    for row in rows:
        scores.add(row, None)
    return scores


if __name__ == "__main__":
    raise SystemExit(main())
