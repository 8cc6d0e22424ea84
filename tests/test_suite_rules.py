"""The suite's own rules (tests/conftest.py): isolation from the checkout, no skip under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, crawl_command, project_files


def test_the_tree_snapshot_sees_new_files_but_not_caches(tmp_path: Path) -> None:
    (tmp_path / "crawler").mkdir()
    (tmp_path / "crawler" / "a.py").write_text("", encoding="utf-8")
    before = project_files(tmp_path)
    assert before == {"crawler/a.py"}
    for cache in ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"):
        (tmp_path / "crawler" / cache).mkdir()
        (tmp_path / "crawler" / cache / "x").write_text("", encoding="utf-8")
    assert project_files(tmp_path) == before
    (tmp_path / "output" / "spool").mkdir(parents=True)
    (tmp_path / "output" / "spool" / "n.jsonl").write_text("", encoding="utf-8")
    assert project_files(tmp_path) - before == {"output/spool/n.jsonl"}


def test_test_crawls_keep_spool_and_lock_beside_their_output(tmp_path: Path) -> None:
    command = crawl_command(tmp_path / "list.txt", tmp_path / "out" / "n.jsonl")
    settings = dict(a.split("=", 1) for a in command[command.index("-s") :] if a != "-s")
    assert settings["SPOOL_DIR"] == str(tmp_path / "out" / "spool")
    assert settings["LOCK_FILE"] == str(tmp_path / "out" / ".run.lock")
    given = crawl_command(None, tmp_path / "n.jsonl", SPOOL_DIR=str(tmp_path / "mine"))
    assert f"SPOOL_DIR={tmp_path / 'mine'}" in given  # a test's own choice wins


INNER_CONFTEST = "from tests.conftest import pytest_runtest_makereport  # noqa: F401\n"
INNER_TESTS = """
import pytest

def test_passes():
    pass

def test_skips():
    pytest.skip("no such tool here")

@pytest.mark.xfail(reason="known")
def test_expected_to_fail():
    raise AssertionError
"""


def _inner_run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST, encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(INNER_TESTS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_under_ci_a_skip_fails_the_run(tmp_path: Path) -> None:
    proc = _inner_run(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed, 1 xfailed" in proc.stdout, proc.stdout
    assert "skipped under CI=true" in proc.stdout and "no such tool here" in proc.stdout


def test_outside_ci_a_skip_is_a_skip(tmp_path: Path) -> None:
    proc = _inner_run(tmp_path, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 skipped, 1 xfailed" in proc.stdout, proc.stdout
