"""Command-line mistakes get one line and their documented exit code before anything starts.

Scrapy's feed flags (``-O``, ``-o``, ``-t``), output paths that cannot be
published, and a publication that fails at the very end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, TEST_SETTINGS
from tests.pageserver import PageServer


def crawl_in(
    folder: Path, *arguments: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy crawl sources`` from ``folder`` (given a copy of the project config)."""
    (folder / "scrapy.cfg").write_text((PROJECT_ROOT / "scrapy.cfg").read_text())
    command = [sys.executable, "-m", "scrapy", "crawl", "sources"]
    for name, value in TEST_SETTINGS.items():
        command += ["-s", f"{name}={value}"]
    return subprocess.run(
        [*command, *arguments],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def listing(tmp_path: Path, page_server: PageServer) -> Path:
    sources = tmp_path / "lists" / "one.txt"
    sources.parent.mkdir()
    sources.write_text(page_server.url("/article/blog-post") + "\n", encoding="utf-8")
    return sources


def left_behind(folder: Path) -> set[str]:
    """Every path under ``folder`` except the config and the sources list the test made."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name != "scrapy.cfg" and not str(p.relative_to(folder)).startswith("lists")
    }


@pytest.mark.parametrize(
    "flags",
    [
        ["-O", "out.csv"],
        ["-o", "x.xml"],
        ["-O", "x.json"],
        ["-O", "out.jsonl:csv"],
        ["-O", "out.jsonl", "-t", "csv"],
        ["-O", "-:json"],
    ],
)
def test_non_jsonl_formats_are_refused(tmp_path: Path, listing: Path, flags: list[str]) -> None:
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", *flags)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if "JSON Lines contracts" in line]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert left_behind(tmp_path) == set()


def test_append_is_refused(tmp_path: Path, listing: Path) -> None:
    (tmp_path / "night.jsonl").write_text('{"kept": true}\n', encoding="utf-8")
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", "-o", "night.jsonl")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "appending is refused" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "night.jsonl").read_text(encoding="utf-8") == '{"kept": true}\n'
    assert left_behind(tmp_path) == {"night.jsonl"}


def test_two_outputs_are_refused(tmp_path: Path, listing: Path) -> None:
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", "-O", "a.jsonl", "-O", "b.jsonl")
    assert proc.returncode == 2 and "one output per run" in proc.stderr
    assert left_behind(tmp_path) == set()


def test_overwrite_flag_is_the_output_uri(tmp_path: Path, listing: Path) -> None:
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", "-O", "nights/one.jsonl.gz")
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = tmp_path / "nights"
    assert (folder / "one.jsonl.gz").is_file()
    manifest = json.loads((folder / "one.jsonl.gz.manifest.json").read_text(encoding="utf-8"))
    assert manifest["records"] == 1
    assert json.loads((folder / "latest.json").read_text(encoding="utf-8"))["output"] == (
        "one.jsonl.gz"
    )


@pytest.mark.parametrize(
    "flags", [["-O", "-"], ["-O", "-:jsonlines"], ["-O", "-:jsonl"], ["-o", "-"]]
)
def test_stdout_output_streams_records_and_leaves_nothing(
    tmp_path: Path, listing: Path, page_server: PageServer, flags: list[str]
) -> None:
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", *flags)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["url"] for r in records] == [page_server.url("/article/blog-post")]
    assert records[0]["status"] == "ok"
    assert left_behind(tmp_path) == set(), "a stdout run left files behind"
    assert "Traceback" not in proc.stderr


def test_output_that_is_a_directory_stops_before_anything(
    tmp_path: Path, listing: Path, page_server: PageServer
) -> None:
    folder = tmp_path / "nights"
    folder.mkdir()
    page_server.reset_hits()
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", "-s", f"OUTPUT_URI={folder}")
    assert proc.returncode == 3, proc.stderr[-2000:]
    (line,) = [line for line in proc.stderr.splitlines() if "Not started" in line]
    assert str(folder) in line and "is a directory" in line
    assert "Traceback" not in proc.stderr
    assert list(folder.iterdir()) == [] and left_behind(tmp_path) == {"nights"}
    assert page_server.hits("/article/blog-post") == 0


def test_output_under_a_file_stops_before_anything(tmp_path: Path, listing: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    proc = crawl_in(tmp_path, "-a", f"sources={listing}", "-O", f"{blocker}/deeper/out.jsonl")
    assert proc.returncode == 3, proc.stderr[-2000:]
    (line,) = [line for line in proc.stderr.splitlines() if "Not started" in line]
    assert f"{blocker} is a file" in line and "Traceback" not in proc.stderr
    assert left_behind(tmp_path) == {"a-file"}


def _as_unprivileged() -> None:
    """In the child: give up root (uid/gid 65534, "nobody"), for whom modes hold."""
    os.setgid(65534)
    os.setuid(65534)


def test_unwritable_output_folder_is_found_before_anything() -> None:
    # Root writes into any folder, and CI runs as root: the check runs in a child that
    # drops to an unprivileged user, over a folder that user may read but not write.
    base = Path(tempfile.mkdtemp(prefix="sources-unwritable-"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        script = (
            "import sys; from crawler.commands.crawl import output_problem; "
            "print(output_problem(sys.argv[1], 'sources'))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script, f"{locked}/out.jsonl"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
            preexec_fn=_as_unprivileged if os.geteuid() == 0 else None,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert (
            proc.stdout.strip()
            == f"{locked}/out.jsonl: cannot write in {locked} (permission denied)"
        )
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_failed_publication_keeps_the_finished_file(
    tmp_path: Path, page_server: PageServer
) -> None:
    listing = tmp_path / "lists" / "slow.txt"
    listing.parent.mkdir()
    listing.write_text(
        page_server.url("/article/gov-report")
        + "\n"
        + page_server.url("/delay/4?publish=1")
        + "\n",
        encoding="utf-8",
    )
    (tmp_path / "scrapy.cfg").write_text((PROJECT_ROOT / "scrapy.cfg").read_text())
    out = tmp_path / "night.jsonl"
    command = [sys.executable, "-m", "scrapy", "crawl", "sources", "-a", f"sources={listing}"]
    for name, value in {**TEST_SETTINGS, "OUTPUT_URI": str(out)}.items():
        command += ["-s", f"{name}={value}"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            p.name.endswith(".part") for p in tmp_path.iterdir()
        ):
            time.sleep(0.05)
        # The output path turns into a non-empty directory while the crawl runs:
        # the final rename cannot replace it.
        (out / "in-the-way").mkdir(parents=True)
        log, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    (summary,) = [line for line in log.splitlines() if "Night summary" in line]
    (kept,) = tmp_path.glob("night.jsonl.*.unpublished")
    assert f"the finished file is kept at {kept}" in summary
    records = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2
    assert not list(tmp_path.glob(".*.part"))
