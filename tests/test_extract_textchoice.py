"""The main-text choice replayed on stored readings (bench/textchoice.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.textchoice import ReplayPasses
from pipelines.extract import text as text_module
from pipelines.extract.markup import build_page

ROOT = Path(__file__).resolve().parent.parent

GUIDE = "".join(
    f"<p>Step {i} of the installation guide explains setting number {i} in its own words, "
    f"with values {i * 3} and {i * 7} that the other steps of the guide do not repeat.</p>"
    for i in range(12)
)
# A short article behind a long list of links: the precise text is a small share of
# the page's words, so the recall pass runs as well.
NEWS = (
    "<p>The council approved the cycling plan on Monday evening after a long debate.</p>"
    "<p>Twelve kilometres of protected lanes will be built over the next two years.</p>"
)
LINKS = "".join(f"<li><a href='/s{i}'>Section {i} overview of the week</a></li>" for i in range(60))


def _page(title: str, main: str, aside: str = "") -> str:
    return (
        f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<div><ul>{aside}</ul></div><main><article><h1>{title}</h1>{main}</article></main>"
        "<footer><p>Licence and contact</p></footer></body></html>"
    )


def test_replayed_readings_give_the_same_text_without_running_again() -> None:
    tree = build_page(_page("Council news", NEWS, LINKS), "https://news.example/a").tree
    assert tree is not None
    words = text_module.visible_words(tree)
    direct = text_module.html_main_text(tree, "https://news.example/a", page_words=words)
    store: dict[str, str | None] = {}
    asked: Counter[str] = Counter()
    first = ReplayPasses(tree, "https://news.example/a", store, asked)
    recorded = text_module.html_main_text(
        tree, "https://news.example/a", page_words=words, passes=first
    )
    assert recorded == direct and direct is not None and "cycling plan" in direct
    assert {"precise", "recall"} <= set(store)  # both passes ran on this page

    class Refusing(ReplayPasses):
        """Replays only: a reading that is not stored is a failure."""

        def _get(self, key: str, compute: Callable[[], str | None]) -> str | None:
            assert key in self.store, key
            return super()._get(key, compute)

    replay = Refusing(tree, "https://news.example/a", store, Counter())
    again = text_module.html_main_text(
        tree, "https://news.example/a", page_words=words, passes=replay
    )
    assert again == direct


def _corpus(root: Path) -> None:
    pages = [
        ("https://docs.example/guide", _page("Installation guide", GUIDE), GUIDE),
        ("https://news.example/cycling", _page("Council news", NEWS, LINKS), NEWS),
    ]
    (root / "pages").mkdir(parents=True)
    with (root / "truth.jsonl").open("w", encoding="utf-8") as fh:
        for url, html, body in pages:
            pid = hashlib.sha256(url.encode()).hexdigest()[:16]
            (root / "pages" / f"{pid}.html.gz").write_bytes(gzip.compress(html.encode(), mtime=0))
            text = "\n\n".join(part.split(">", 1)[1] for part in body.split("</p>") if part.strip())
            row = {
                "id": pid,
                "url": url,
                "file": f"pages/{pid}.html.gz",
                "origin": "t",
                "body": text,
            }
            fh.write(json.dumps(row) + "\n")


def test_textchoice_command_verifies_scores_and_cross_validates(tmp_path: Path) -> None:
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    _corpus(corpus)
    command = [sys.executable, str(ROOT / "bench" / "textchoice.py"), str(corpus)]
    command += ["--cache", str(cache), "--verify", "--rules", "text_recall_when_short"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=True)
    out = run.stdout
    assert "replayed choice differs from extract() on 0 pages" in out
    choice = next(line for line in out.splitlines() if line.startswith("choice "))
    oracle = next(line for line in out.splitlines() if line.startswith("oracle "))
    # both pages are extracted well: the choice scores high, and the oracle never lower
    assert float(choice.split()[2]) > 0.9
    assert float(oracle.split()[2]) >= float(choice.split()[2])
    assert "precise 2/2" in out and "recall 1/2" in out
    assert "text_recall_when_short" in out.split("CV effect", 1)[1]
    stored = [json.loads(line) for line in (cache / "passes.jsonl").read_text().splitlines()]
    assert len(stored) == 2 and all(len(r["readings"]) == 7 for r in stored)
    # a second run replays the stored readings and prints the same figures
    rerun = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, check=True
    )
    strip = [line for line in out.splitlines() if "CPU-s" not in line]
    assert [line for line in rerun.stdout.splitlines() if "CPU-s" not in line] == strip
