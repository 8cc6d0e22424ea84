"""Which browser the render stage starts (crawler.render.browser.find_browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.render.browser import BROWSER_NAMES, find_browser


def _executable(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_the_headless_shell_is_preferred_over_the_desktop_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desktop = _executable(tmp_path, "chromium")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_browser(None) == str(desktop)
    shell = _executable(tmp_path, "chromium-headless-shell")
    assert find_browser(None) == str(shell)
    assert BROWSER_NAMES[0] == "chromium-headless-shell"


def test_a_configured_path_wins_and_a_missing_one_finds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executable(tmp_path, "chromium-headless-shell")
    (tmp_path / "elsewhere").mkdir()
    desktop = _executable(tmp_path / "elsewhere", "chromium")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_browser(str(desktop)) == str(desktop)
    assert find_browser(str(tmp_path / "no-such-browser")) is None


def test_nothing_on_path_finds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_browser(None) is None
