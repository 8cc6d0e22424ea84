"""The settings declaration: one place for every default, checked before anything starts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from scrapy.settings import Settings, default_settings

from crawler import options
from crawler import settings as project_module
from crawler.commands import preflight
from crawler.options import SettingsError
from tests.conftest import PROJECT_ROOT, crawl_command, run_command

READ_METHODS = {"get", "getint", "getfloat", "getbool", "getlist", "getdict", "getdictorlist"}
CODE_DIRS = ("crawler", "pipelines", "schemas")


def project_settings(**given: str) -> Settings:
    """The project's settings with ``given`` at command-line priority, as ``-s`` sets them."""
    settings = Settings()
    settings.setmodule(project_module, priority="project")
    for name, value in given.items():
        settings.set(name, value, priority="cmdline")
    return settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PREVIEW_CHARS", "abc", "PREVIEW_CHARS: expected an integer >= 0, got 'abc'"),
        ("PREVIEW_CHARS", "-5", "PREVIEW_CHARS: expected an integer >= 0, got '-5'"),
        ("FULL_TEXT", "maybe", "FULL_TEXT: expected true or false, got 'maybe'"),
        (
            "EXTRACT_WORKERS",
            "two",
            "EXTRACT_WORKERS: expected an integer >= 0 (or empty for unset), got 'two'",
        ),
        (
            "ALLOWED_NETWORKS",
            "10.0.0.0/8,10.0.0.300/8",
            "ALLOWED_NETWORKS: expected CIDR networks such as 10.20.0.0/16, got '10.0.0.300/8'",
        ),
        ("S3_UPLOAD_ATTEMPTS", "0", "S3_UPLOAD_ATTEMPTS: expected an integer >= 1, got '0'"),
        ("PROGRESS", "fancy", "PROGRESS: expected one of auto, live, log, off, got 'fancy'"),
        ("ALARM_MIN_TITLE", "1.5", "ALARM_MIN_TITLE: expected a number >= 0 and <= 1"),
        ("OUTPUT_URI", "http://example.org/x.jsonl", "OUTPUT_URI: expected a local path"),
        ("OUTPUT_URI", "s3://bucket-only", "OUTPUT_URI: expected s3://bucket/key"),
        ("STATE_URI", "ftp://host/state.sqlite", "STATE_URI: expected a local path"),
        ("CONCURRENT_REQUESTS", "many", "CONCURRENT_REQUESTS: expected a number, got 'many'"),
        ("ROBOTSTXT_OBEY", "perhaps", "ROBOTSTXT_OBEY: expected true or false, got 'perhaps'"),
        ("DOWNLOAD_TIMEOUT", "-1", "DOWNLOAD_TIMEOUT: expected a value >= 0, got '-1'"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_setting(name: str, value: str, message: str) -> None:
    settings = project_settings(**{name: value})
    with pytest.raises(SettingsError) as caught:
        preflight.preflight(settings, {}, {"sources": ""})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_good_values_are_stored_typed() -> None:
    settings = project_settings(
        PREVIEW_CHARS="120",
        FULL_TEXT="yes",
        EXTRACT_WORKERS="",
        ALLOWED_NETWORKS=" 10.20.0.0/16 , fd00:1::/48",
        ALARM_MIN_AUTHORS="",
    )
    assert preflight.preflight(settings, {"sources": "x"}, {"sources": ""}) == []
    assert settings["PREVIEW_CHARS"] == 120
    assert settings["FULL_TEXT"] is True
    assert settings["EXTRACT_WORKERS"] is None
    assert settings["ALLOWED_NETWORKS"] == ["10.20.0.0/16", "fd00:1::/48"]
    assert settings["ALARM_MIN_AUTHORS"] is None


def test_a_near_miss_setting_name_is_a_warning_naming_both() -> None:
    settings = project_settings(PREVEIW_CHARS="100", CONCURRENT_REQUEST="4", AWS_REGION_NAME="x")
    warnings = preflight.preflight(settings, {}, {"sources": ""})
    assert "PREVEIW_CHARS is not a setting; did you mean PREVIEW_CHARS?" in warnings
    assert "CONCURRENT_REQUEST is not a setting; did you mean CONCURRENT_REQUESTS?" in warnings
    assert not any("AWS_REGION_NAME" in w for w in warnings)  # read by boto3 through Scrapy


def test_an_unknown_spider_argument_names_it_and_the_known_ones() -> None:
    with pytest.raises(
        SettingsError, match=r"unknown spider argument 'source'; known: -a sources="
    ):
        preflight.check_arguments({"source": "list.yaml"}, {"sources": ""})
    preflight.check_arguments({"sources": "x", "_job": "scrapyd"}, {"sources": ""})


def test_a_feature_without_its_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real extra is installed in the test venv; CI's crawl in a venv without extras
    # proves the real message. Here a module that does not exist stands in for it.
    monkeypatch.setattr(
        preflight, "EXTRAS", (("REDIS_URL", ("no_such_module_xyz",), "distributed"),)
    )
    settings = project_settings(REDIS_URL="redis://127.0.0.1:1/0")
    with pytest.raises(SettingsError) as caught:
        preflight.check_extras(settings)
    assert str(caught.value) == (
        "REDIS_URL is set but the 'distributed' extra is not installed "
        "(no_such_module_xyz missing): pip install 'sources-crawler[distributed]'"
    )


@pytest.mark.parametrize(
    ("arguments", "settings", "expected"),
    [
        (["-a", "source=list.yaml"], {}, "unknown spider argument 'source'"),
        ([], {"PREVIEW_CHARS": "abc"}, "PREVIEW_CHARS: expected an integer >= 0, got 'abc'"),
        ([], {"FULL_TEXT": "maybe"}, "FULL_TEXT: expected true or false"),
        ([], {"ALLOWED_NETWORKS": "10.1.2.0/33"}, "ALLOWED_NETWORKS: expected CIDR networks"),
        ([], {"REDIS_URL": "redis://:pw@127.0.0.1:1/0"}, "cannot reach Redis at 127.0.0.1:1"),
    ],
)
def test_a_command_line_mistake_exits_2_before_anything_starts(
    tmp_path: Path, arguments: list[str], settings: dict[str, str], expected: str
) -> None:
    out = tmp_path / "night" / "out.jsonl"
    command = crawl_command(None, out, LOCK_FILE=str(tmp_path / "night" / "lock"), **settings)
    proc = run_command([*command, *arguments], timeout=120)
    log = proc.stderr + proc.stdout
    assert proc.returncode == 2, log
    assert expected in log
    assert "Traceback" not in log
    assert "pw@" not in log
    error_lines = [line for line in log.splitlines() if line.startswith("Not started: ")]
    assert len(error_lines) == 1
    # nothing was started: no lock, state, part file or output
    assert not (tmp_path / "night").exists()


def test_the_readme_settings_table_is_generated_from_the_declaration() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", readme, re.S)
    assert block is not None, "README.md lacks the generated settings block"
    assert block.group(1) == options.markdown_table(), (
        "README settings table is stale: run python -m crawler.options and paste it"
    )


def test_the_settings_module_takes_every_project_default_from_the_declaration() -> None:
    for name, info in options.fields().items():
        assert getattr(project_module, name) == info.default, name
    assert options.ProjectSettings().model_dump() == options.project_defaults()


def _settings_reads() -> list[tuple[str, int, str, ast.Call, ast.AST | None]]:
    """(file, line, setting name, the call, the node using the call) of every settings read."""
    reads = []
    for directory in CODE_DIRS:
        for path in sorted((PROJECT_ROOT / directory).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            parents = {
                child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
            }
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in READ_METHODS
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and re.fullmatch(r"[A-Z][A-Z0-9_]+", node.args[0].value)
                ):
                    continue
                receiver = ast.unparse(node.func.value)
                if "settings" not in receiver.lower():
                    continue
                relative = str(path.relative_to(PROJECT_ROOT))
                reads.append((relative, node.lineno, node.args[0].value, node, parents.get(node)))
    return reads


def _is_default(node: ast.AST) -> bool:
    """A literal (other than None or "") or a module constant: a second copy of a default."""
    if isinstance(node, ast.Constant):
        return node.value not in (None, "")
    return isinstance(node, ast.Name) and node.id.isupper()


def test_no_settings_read_repeats_a_default() -> None:
    offenders = []
    for path, line, name, call, parent in _settings_reads():
        if len(call.args) > 1 or call.keywords:
            offenders.append(f"{path}:{line}: {name} read with a default")
        elif (
            isinstance(parent, ast.BoolOp)
            and isinstance(parent.op, ast.Or)
            and parent.values[0] is call
            and any(_is_default(value) for value in parent.values[1:])
        ):
            offenders.append(f"{path}:{line}: {name} read with `or <default>`")
    assert offenders == []


def test_every_setting_read_is_declared() -> None:
    declared = set(options.fields()) | {n for n in dir(project_module) if n.isupper()}
    declared |= {n for n in dir(default_settings) if n.isupper()}
    undeclared = [
        f"{path}:{line}: {name}"
        for path, line, name, _, _ in _settings_reads()
        if name not in declared and not name.startswith(options.FOREIGN_PREFIXES)
    ]
    assert undeclared == []
