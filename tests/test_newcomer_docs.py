"""The files a newcomer looks for: LICENSE, CHANGELOG, and ``python -m schemas --help``."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def test_license_matches_pyproject() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    text = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} the sources-crawler authors$", text, re.M)


def test_changelog_follows_keep_a_changelog() -> None:
    text = (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert versions[0] == "Unreleased" and "0.1.0" in versions
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["version"] in versions
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert set(re.findall(r"^### (\w+)", text, re.M)) <= allowed


def test_schemas_help_prints_usage_and_writes_nothing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "schemas", "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m schemas")
    assert list(tmp_path.iterdir()) == []


def test_schemas_writes_and_checks(tmp_path: Path) -> None:
    from schemas.__main__ import main, render

    target = tmp_path / "schema.json"
    assert main([str(target), "--check"]) == 1
    assert main([str(target)]) == 0 and target.read_text(encoding="utf-8") == render()
    assert main([str(target), "--check"]) == 0
