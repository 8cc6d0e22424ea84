#!/usr/bin/env python3
"""Cross-validated effect of each extraction rule, 5 folds split by site.

Usage: bench/crossval.py CORPUS [CORPUS ...] [--rules NAME,...] [--folds 5] [--limit N]
       [--cache DIR] [--loopback]

Each rule of ``pipelines/extract/rules.py`` is switched off in turn (the other
rules keep their defaults) and the field it changes is extracted again on every
page that has truth for that field. Pages are grouped by site (URL host; origin
+ page id where ``url_source`` is ``placeholder``) and the sites dealt into
folds (largest first, each to the fold with the fewest pages so far, ties by a
hash of the site name), so a site's pages are never on both sides. For each
fold the score on its test pages with the rule is compared with the score
without it; a rule with a threshold gets the value that scores best on the
other four folds (its training folds), so the test fold never chooses. The
table gives, per rule and corpus, the mean effect over folds (score with minus
score without) of the field's metric, the folds where it helped/hurt, and the
dev score without and with it (a rule that is off by default is measured
switched on).

Metrics: authors F1, title exact, date exact accuracy (and within the row's
``date_tolerance_days``), body F1 (and snippet F1, lead) — as
``bench/scoring.py`` computes them. Field extraction runs the same code as
``extract()``; only the fields a rule can change are computed. ``--loopback``
extracts every page as if served from ``http://127.0.0.1:8000`` at its
original path, as the held-out check serves them (the host then says nothing
about the site); the folds are still split by the original site.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scoring import Prediction, Scores, load_truth, read_page
from pipelines.extract import extract, rules
from pipelines.extract.dates import extract_dates
from pipelines.extract.encoding import decode_body
from pipelines.extract.markup import build_page
from pipelines.extract.metadata import extract_authors, extract_site_name, extract_title

HEADERS = {"content-type": "text/html"}
# The corpora were saved before this day; dates after the fetch are refused anyway.
FETCHED = datetime(2026, 12, 1, tzinfo=UTC)

# Which field each rule changes.
FIELD: dict[str, str] = {
    "jsonld_unwrap": "authors",
    "meta_value_attribute": "authors",
    "authors_jsonld_ref": "authors",
    "authors_byline": "authors",
    "authors_by_line": "authors",
    "authors_person_over_site": "authors",
    "authors_lowercase_handle": "authors",
    "authors_copyright_holder": "authors",
    "authors_profile_link": "authors",
    "authors_label_field": "authors",
    "authors_normalise": "authors",
    "authors_credit_strings": "authors",
    "title_h1_agreement": "title",
    "title_site_span": "title",
    "title_h1_logo": "title",
    "title_blog_archive": "title",
    "title_not_site_name": "title",
    "title_og_inside_h1": "title",
    "title_og_kicker": "title",
    "title_og_heading": "title",
    "title_heading_text": "title",
    "title_canonical_host": "title",
    "title_h2_segment": "title",
    "text_recall_when_short": "text",
    "text_thorough_when_short": "text",
    "text_precise_thorough": "text",
    "date_url_month": "date",
    "date_newest_for_january_first": "date",
    "date_cjk_full_date": "date",
    "date_stated_over_guess": "date",
    "date_last_updated": "date",
    "date_shared_tree": "date",
    "date_rdf_statement": "date",
    "date_itemprop_over_guess": "date",
    "date_local_offset": "date",
    "date_published_label": "date",
    "date_url_issue": "date",
    "date_numeric_unambiguous": "date",
    "date_url_month_stated": "date",
    "date_offset_day_over_neighbour": "date",
}
# Rules whose effect also reaches other fields, scored there too.
ALSO: dict[str, tuple[str, ...]] = {
    "jsonld_unwrap": ("title", "date"),
    "meta_value_attribute": ("title", "date"),
}

METRICS: dict[str, list[tuple[str, Callable[[Scores], float], Callable[[Scores], int]]]] = {
    "authors": [("authors F1", lambda s: s.authors_f1, lambda s: len(s.author_f1s))],
    "title": [("title exact", lambda s: s.title_exact_rate, lambda s: s.n_title)],
    "date": [
        ("date exact", lambda s: s.date_accuracy, lambda s: s.n_date),
        # the held-out check also accepts a day off where the row's tolerance allows it
        ("date +-tol", lambda s: s.date_within_accuracy, lambda s: s.n_date),
    ],
    "text": [
        ("body F1", lambda s: s.body[2], lambda s: s.n_body),
        ("snippet F1", lambda s: s.snippet_scores[2], lambda s: s.n_snippet_pages),
        ("lead", lambda s: s.lead_rate, lambda s: s.n_lead),
    ],
}


def has_truth(row: Mapping[str, Any], field: str) -> bool:
    """Whether ``row`` can score ``field``."""
    if field == "authors":
        return bool(row.get("authors"))
    if field == "title":
        return bool(row.get("title"))
    if field == "date":
        return row.get("published_date") is not None
    return bool(row.get("body") is not None or row.get("with") or row.get("lead"))


def predict(field: str, body: bytes, url: str) -> Prediction:
    """Extract only what ``field`` needs, with the code ``extract()`` runs."""
    if field == "text":
        return Prediction(text=extract(body, HEADERS, url, fetched_at=FETCHED).text)
    html = decode_body(body, HEADERS["content-type"])
    page = build_page(html, url, HEADERS)
    site = extract_site_name(page)
    if field == "authors":
        return Prediction(authors=extract_authors(page, site))
    if field == "title":
        return Prediction(title=extract_title(page, site))
    published, _ = extract_dates(page, html, FETCHED)
    return Prediction(published_date=published.isoformat() if published else None)


LOOPBACK = "http://127.0.0.1:8000"


def loopback_url(url: str) -> str:
    """``url`` served from the loopback server at its original path and query."""
    parts = urlsplit(url)
    return LOOPBACK + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def site_of(row: Mapping[str, Any]) -> str:
    """The site a page belongs to: its URL host, or origin + id for placeholder URLs."""
    if row.get("url_source") == "placeholder":
        return f"{row.get('origin')}:{row['id']}"
    host = (urlsplit(str(row["url"])).hostname or "").lower().removeprefix("www.")
    if host == "web.archive.org":  # archived copies: the archived site counts
        rest = urlsplit(str(row["url"])).path.split("/", 3)[-1]
        host = (urlsplit(rest if "//" in rest else "http://" + rest).hostname or host).lower()
        host = host.removeprefix("www.")
    return host or f"{row.get('origin')}:{row['id']}"


def assign_folds(rows: Sequence[Mapping[str, Any]], k: int) -> dict[str, int]:
    """Page id -> fold, sites kept whole, folds balanced by page count."""
    sites: dict[str, list[str]] = {}
    for row in rows:
        sites.setdefault(site_of(row), []).append(str(row["id"]))
    order = sorted(sites, key=lambda s: (-len(sites[s]), hashlib.sha256(s.encode()).hexdigest()))
    sizes = [0] * k
    fold_of: dict[str, int] = {}
    for site in order:
        fold = min(range(k), key=lambda f: (sizes[f], f))
        sizes[fold] += len(sites[site])
        for pid in sites[site]:
            fold_of[pid] = fold
    return fold_of


class Runner:
    """Predictions per (field, configuration), computed once and kept on disk."""

    def __init__(
        self,
        corpora: Mapping[str, list[dict[str, Any]]],
        cache: Path | None,
        *,
        loopback: bool = False,
    ) -> None:
        self.corpora = corpora
        self.cache = cache
        self.loopback = loopback
        self.memory: dict[str, dict[str, Prediction]] = {}
        self.cpu = 0.0

    def run(self, field: str, overrides: Mapping[str, Any]) -> dict[str, Prediction]:
        """Predictions of ``field`` with the rule table changed by ``overrides``."""
        key = json.dumps(
            [field, sorted(overrides.items())] + (["loopback"] if self.loopback else [])
        )
        if key in self.memory:
            return self.memory[key]
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = self.cache / f"{field}-{digest}.jsonl" if self.cache else None
        if path is not None and path.exists():
            found = {
                r["id"]: Prediction(r["text"], r["published_date"], r["title"], r["authors"])
                for r in map(json.loads, path.read_text("utf-8").splitlines())
            }
        else:
            found = self._compute(field, overrides)
            if path is not None:
                with path.open("w", encoding="utf-8") as fh:
                    for pid, p in found.items():
                        record = {"id": pid, "text": p.text, "published_date": p.published_date}
                        record.update(title=p.title, authors=list(p.authors or []))
                        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.memory[key] = found
        return found

    def _compute(self, field: str, overrides: Mapping[str, Any]) -> dict[str, Prediction]:
        saved_rules, saved_thresholds = dict(rules.RULES), dict(rules.THRESHOLDS)
        found: dict[str, Prediction] = {}
        try:
            for name, value in overrides.items():
                if isinstance(value, bool):
                    rules.RULES[name] = value
                else:
                    rules.RULES[name] = True
                    rules.THRESHOLDS[name] = float(value)
            start = time.process_time()
            for corpus, rows in self.corpora.items():
                for row in rows:
                    if has_truth(row, field):
                        body = read_page(Path(corpus), row)
                        url = str(row["url"])
                        url = loopback_url(url) if self.loopback else url
                        found[str(row["id"])] = predict(field, body, url)
            self.cpu += time.process_time() - start
        finally:
            rules.RULES.clear()
            rules.RULES.update(saved_rules)
            rules.THRESHOLDS.clear()
            rules.THRESHOLDS.update(saved_thresholds)
        return found


def metric_value(
    field: str,
    index: int,
    rows: Sequence[Mapping[str, Any]],
    predictions: Mapping[str, Prediction],
) -> tuple[float, int]:
    """The field's ``index``-th metric over ``rows`` and how many pages it counts."""
    scores = Scores()
    for row in rows:
        if has_truth(row, field):
            scores.add(row, predictions.get(str(row["id"])))
    _, value, count = METRICS[field][index]
    return value(scores), count(scores)


def evaluate_rule(
    rule: str,
    field: str,
    runner: Runner,
    corpora: Mapping[str, list[dict[str, Any]]],
    fold_of: Mapping[str, int],
    k: int,
) -> list[str]:
    """Report lines for one rule on one field, per corpus and metric."""
    off = runner.run(field, {rule: False})
    grid = rules.THRESHOLD_GRID.get(rule)
    candidates: dict[Any, dict[str, Prediction]]
    if grid:
        candidates = {value: runner.run(field, {rule: value}) for value in grid}
    else:
        # a rule that is off by default is measured switched on
        candidates = {True: runner.run(field, {} if rules.RULES[rule] else {rule: True})}
    lines: list[str] = []
    for index, (label, _, _) in enumerate(METRICS[field]):
        for corpus, rows in corpora.items():
            if not metric_value(field, index, rows, off)[1]:
                continue
            effects, chosen = [], []
            for fold in range(k):
                test = [r for r in rows if fold_of[str(r["id"])] == fold]
                train = [r for r in rows if fold_of[str(r["id"])] != fold]
                if not metric_value(field, index, test, off)[1]:
                    continue
                # the training folds choose the threshold (first of the best on ties)
                best = max(
                    candidates, key=lambda c: metric_value(field, index, train, candidates[c])[0]
                )
                chosen.append(best)
                with_rule = metric_value(field, index, test, candidates[best])[0]
                effects.append(with_rule - metric_value(field, index, test, off)[0])
            if not effects:
                continue
            mean = sum(effects) / len(effects)
            ups = sum(e > 1e-12 for e in effects)
            downs = sum(e < -1e-12 for e in effects)
            default = runner.run(field, {}) if grid else candidates[True]
            dev_on = metric_value(field, index, rows, default)[0]
            dev_off = metric_value(field, index, rows, off)[0]
            picks = "" if not grid else " chosen=" + ",".join(f"{c:g}" for c in chosen)
            lines.append(
                f"{rule:32}{Path(corpus).name:14}{label:12}{mean:+9.4f}  "
                f"folds +{ups}/-{downs}  dev {dev_off:.3f}->{dev_on:.3f}{picks}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("corpora", type=Path, nargs="+")
    parser.add_argument("--rules", default=None, help="comma-separated rule names (default: all)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each")
    parser.add_argument("--cache", type=Path, default=None, help="keep predictions here")
    parser.add_argument(
        "--loopback", action="store_true", help="extract as if served from 127.0.0.1"
    )
    args = parser.parse_args(argv)
    corpora = {str(c): load_truth(c, args.limit) for c in args.corpora}
    every = [row for rows in corpora.values() for row in rows]
    fold_of = assign_folds(every, args.folds)
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    runner = Runner(corpora, args.cache, loopback=args.loopback)
    names = args.rules.split(",") if args.rules else list(rules.RULES)
    print(f"pages: {len(every)}, sites: {len({site_of(r) for r in every})}, folds: {args.folds}")
    print(f"{'rule':32}{'corpus':14}{'metric':12}{'CV effect':>9}")
    for rule in names:
        for field in (FIELD[rule], *ALSO.get(rule, ())):
            for line in evaluate_rule(rule, field, runner, corpora, fold_of, args.folds):
                print(line, flush=True)
    print(f"extraction CPU: {runner.cpu:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
