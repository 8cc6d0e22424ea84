"""Shared fixtures: a page server on 127.0.0.1 and a helper that runs the real crawl command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.pageserver import PageServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Settings every test crawl uses: the page server is on loopback, and the
# politeness delays that protect real sites only slow the tests down.
TEST_SETTINGS = {
    "ALLOW_PRIVATE_ADDRESSES": "true",
    "AUTOTHROTTLE_ENABLED": "false",
    "DOWNLOAD_TIMEOUT": "10",
    "RETRY_TIMES": "1",
    "LOG_LEVEL": "INFO",
}


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
    """The command line of a test crawl."""
    command = [sys.executable, "-m", "scrapy", "crawl", "sources"]
    if sources is not None:
        command += ["-a", f"sources={sources}"]
    for name, value in {**TEST_SETTINGS, "OUTPUT_URI": str(output), **settings}.items():
        command += ["-s", f"{name}={value}"]
    return command


def run_command(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``command`` from the project root with the project importable; capture its output."""
    return subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
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
