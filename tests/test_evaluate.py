"""The evaluation commands: scoring, routing, and the crawl-based evaluation end to end."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.evaluate_crawl import check_records, plan_routes, request_target, route_key
from bench.scoring import Prediction, body_scores, match, score, shingles

PROJECT_ROOT = Path(__file__).resolve().parent.parent

BODY_A = (
    "Researchers measured the water level of the river every morning for three years.\n\n"
    "The data show that the spring floods arrive two weeks earlier than in the 1990s, "
    "while the summer minimum has fallen by a fifth.\n\n"
    "The authors call for a denser network of gauging stations along the tributaries."
)
BODY_D = (
    "The town council approved the new cycling plan on Monday evening.\n\n"
    "Twelve kilometres of protected lanes will be built over the next two years, "
    "starting with the route between the station and the university."
)


def sha16(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def article_page(title: str, body: str, head: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title} | Site"
        f"</title>{head}</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a>"
        f" <a href='/sport'>Sport</a></nav><main><article><h1>{title}</h1>{paragraphs}"
        "</article></main><footer><p>Contact - Imprint - Privacy</p></footer></body></html>"
    )


def dated_page(title: str, day: str) -> str:
    head = f"<meta property='article:published_time' content='{day}T09:30:00+02:00'>"
    return article_page(title, f"Short news item about {title.lower()}.", head)


def build_corpus(root: Path) -> list[dict[str, Any]]:
    """A four-page corpus: two body pages, two dated pages sharing one path."""
    pages = [
        ("https://science.example/rivers/floods-earlier?ref=home", BODY_A, None, None),
        ("https://news.example/2021/05/04/story.html", None, "2021-05-04", "2021-05-04"),
        ("https://other.example/2021/05/04/story.html", None, "2021-05-04", "2021-05-04"),
        ("https://town.example//caf\u00e9/cycling plan?id=7", BODY_D, None, None),
    ]
    (root / "pages").mkdir(parents=True)
    rows = []
    for url, body, day, truth_day in pages:
        page_id = sha16(url)
        if body is not None:
            html = article_page(body.split(" ")[1].capitalize() + " story", body)
        else:
            assert day is not None
            html = dated_page("Local election", day)
        path = root / "pages" / f"{page_id}.html.gz"
        path.write_bytes(gzip.compress(html.encode("utf-8"), mtime=0))
        rows.append(
            {
                "id": page_id,
                "url": url,
                "file": f"pages/{page_id}.html.gz",
                "origin": "article-extraction-benchmark" if body else "htmldate",
                "body": body,
                "published_date": truth_day,
                "split": "dev",
            }
        )
    with (root / "truth.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


# --- scoring ---------------------------------------------------------------------


def test_shingles_and_match() -> None:
    assert sum(shingles("one two three four five").values()) == 2
    assert shingles("one two") == {("one", "two"): 1}
    assert match("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    tp, fp, fn = match("a b c d e f", "a b c d x y")
    assert tp > 0 and fp > 0 and fn > 0 and abs(tp + fp + fn - 1) < 1e-9


def test_body_scores_average_precision_over_non_empty_predictions() -> None:
    precision, recall, f1 = body_scores([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    assert precision == 1.0 and recall == 0.5 and abs(f1 - 2 / 3) < 1e-9


def test_score_counts_missing_dates_as_wrong() -> None:
    rows = [
        {"id": "a", "body": None, "published_date": "2020-01-02"},
        {"id": "b", "body": None, "published_date": "2020-01-03"},
        {"id": "c", "body": None, "published_date": "2020-01-04"},
    ]
    scores = score(
        rows, {"a": Prediction(None, "2020-01-02T10:00"), "b": Prediction(None, "2020-01-04")}
    )
    assert (scores.date_correct, scores.date_given, scores.n_date) == (1, 2, 3)
    assert scores.machine_line() == "body_f1=0.000 date_acc=0.333 n_body=0 n_date=3"


# --- routing and record checks ------------------------------------------------------


def test_request_target_keeps_path_and_query() -> None:
    assert request_target("https://x.example") == "/"
    assert request_target("https://x.example/a/b?c=1&d=2#frag") == "/a/b?c=1&d=2"
    assert route_key("/caf%C3%A9/a%20b?id=7") == route_key("/caf\u00e9/a b?id=7")
    assert route_key("//storypage.php?id=1") == route_key("/storypage.php?id=1")


def test_pages_sharing_a_target_go_to_different_servers() -> None:
    rows = [
        {"id": "b", "url": "https://one.example/same?x=1"},
        {"id": "a", "url": "https://two.example/same?x=1"},
        {"id": "c", "url": "https://one.example/other"},
    ]
    routes = {route.page_id: route for route in plan_routes(rows)}
    assert (routes["a"].server, routes["b"].server, routes["c"].server) == (0, 1, 0)
    assert routes["a"].target == routes["b"].target == "/same?x=1"


def test_check_records_reports_missing_duplicate_and_bad_preview() -> None:
    rows = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    records = [
        {
            "resource_id": "a",
            "text": "one two three",
            "preview": "one two",
            "preview_truncated": True,
        },
        {"resource_id": "b", "text": "one two", "preview": "two", "preview_truncated": True},
        {"resource_id": "b", "text": None, "preview": None},
    ]
    problems = check_records(rows, records)
    assert "b: 2 records" in problems
    assert "c: 0 records" in problems
    assert "b: preview is not the start of text" in problems
    assert not any(p.startswith("a:") for p in problems)


# --- end to end ----------------------------------------------------------------------


def test_evaluate_crawl_end_to_end(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    build_corpus(corpus)
    proc = subprocess.run(
        [sys.executable, "bench/evaluate_crawl.py", str(corpus), "--out", str(tmp_path / "run")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    last = re.fullmatch(
        r"body_f1=(\d\.\d{3}) date_acc=(\d\.\d{3}) n_body=(\d+) n_date=(\d+)", lines[-1]
    )
    assert last is not None, lines[-1]
    assert float(last[1]) >= 0.9
    assert float(last[2]) == 1.0
    assert (last[3], last[4]) == ("2", "2")
    assert "servers: 2" in proc.stdout  # two pages share one path
    assert any(line.startswith("trafilatura body:") for line in lines)
    assert not any(line.startswith("problem:") for line in lines)
    sources = [
        json.loads(line)
        for line in (tmp_path / "run" / "sources.jsonl").read_text("utf-8").splitlines()
    ]
    assert all(s["url"].startswith("http://127.0.0.1:") for s in sources)
    records = [
        json.loads(line)
        for line in (tmp_path / "run" / "records.jsonl").read_text("utf-8").splitlines()
    ]
    assert sorted(r["resource_id"] for r in records) == sorted(s["id"] for s in sources)
    assert all(r["status"] == "ok" and r["text"] for r in records)


@pytest.mark.parametrize("argv", [["--help"]])
def test_evaluate_crawl_help(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "bench/evaluate_crawl.py", *argv],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "CORPUS" in proc.stdout.upper()


# --- metadata scoring (corpus-meta/README.md) and cross-validation folds -------------


def test_title_scores_normalise_and_accept_alternatives() -> None:
    from bench.scoring import title_scores

    row = {"title": "Bridge plan \u2013 approved!", "title_alts": ["Bridge plan"]}
    assert title_scores(row, "BRIDGE PLAN - approved") == (True, True)
    assert title_scores(row, "bridge plan") == (True, True)
    assert title_scores(row, "Bridge plans approved") == (False, True)
    assert title_scores(row, None) == (False, False)


def test_author_f1_splits_and_normalises_names() -> None:
    from bench.scoring import author_f1, author_names

    assert author_names(["By Jane Doe and John Roe", "jane@example.org"]) == {
        "jane doe",
        "john roe",
    }
    assert author_f1(["Jane Doe", "John Roe"], ["JANE DOE"]) == 2 / 3
    assert author_f1(["Jane Doe"], []) == 0.0


def test_snippets_lead_and_date_tolerance() -> None:
    from bench.scoring import Scores

    scores = Scores()
    row = {
        "id": "a",
        "with": ["the  river", "three designs"],
        "without": ["Contact us"],
        "published_date": "2024-05-02",
        "date_tolerance_days": 1,
        "lead": "The council met on Tuesday",
    }
    text = "The council met on Tuesday near the river. Contact us"
    scores.add(row, Prediction(text, "2024-05-03T01:00"))
    assert scores.snippets == [1, 1, 1]
    assert scores.snippet_scores == (0.5, 0.5, 0.5)
    assert scores.lead_rate == 1.0
    assert (scores.date_accuracy, scores.date_within_accuracy) == (0.0, 1.0)


def test_folds_keep_each_site_whole() -> None:
    from bench.crossval import assign_folds, site_of

    rows = [
        {"id": f"{host}{i}", "url": f"https://www.{host}.example/{i}", "origin": "x"}
        for host in ("a", "b", "c", "d", "e", "f")
        for i in range(1 + len(host) % 3)
    ]
    rows.append(
        {"id": "p1", "url": "http://x.invalid/p", "origin": "x", "url_source": "placeholder"}
    )
    rows.append(
        {"id": "p2", "url": "http://x.invalid/q", "origin": "x", "url_source": "placeholder"}
    )
    folds = assign_folds(rows, 5)
    by_site: dict[str, set[int]] = {}
    for row in rows:
        by_site.setdefault(site_of(row), set()).add(folds[row["id"]])
    assert all(len(f) == 1 for f in by_site.values())
    assert site_of(rows[-1]) != site_of(rows[-2])  # placeholder hosts are not evidence
    assert (
        site_of({"id": "w", "url": "https://web.archive.org/web/2019/https://www.a.example/x"})
        == "a.example"
    )
    assert len(set(folds.values())) == 5
