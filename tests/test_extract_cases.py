"""Every golden extraction case (``tests/extract_cases/<name>/``) gives its expected fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.extract_cases import CASES, actual, case_names, expected
from tests.extract_cases.__main__ import main as cases_main


@pytest.mark.parametrize("name", case_names())
def test_extraction_matches_the_golden_case(name: str) -> None:
    want = expected(name)
    got = actual(name)
    # field by field first, so that a failure names the field that moved
    for field in want:
        assert got.get(field) == want[field], f"{name}: {field}"
    assert got == want


def test_there_are_golden_cases_of_every_body_kind() -> None:
    kinds = {expected(name)["content_type"] for name in case_names()}
    assert {"html", "pdf", "text"} <= kinds
    assert len(case_names()) >= 10


def test_the_update_command_reports_and_rewrites_a_stale_expectation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import tests.extract_cases as cases

    name = case_names()[0]
    copy = tmp_path / "cases"
    shutil.copytree(CASES / name, copy / name)
    monkeypatch.setattr(cases, "CASES", copy)
    stale = expected(name)
    stale["title"] = "a title nobody reviewed"
    cases.write_expected(name, stale)

    assert cases_main([name]) == 1
    assert f"{name}: title" in capsys.readouterr().out
    assert cases_main(["--update", name]) == 0
    assert cases.expected(name) == actual(name)
    assert cases_main([name]) == 0
