"""Files: no umask change, a lock that follows no symlink, a corrupt state that heals."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.incremental.store import read_all
from crawler.publish.lock import LockedError, RunLock
from crawler.publish.manifest import make_shareable, write_text_atomically
from crawler.sources import SourcesError, fetch_s3_sources
from tests.conftest import run_crawl
from tests.pageserver import PageServer


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_files_get_the_umask_mode_without_the_umask_being_touched(
    tmp_path: Path, umask_027: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_umask(mask: int) -> int:
        raise AssertionError("os.umask changed the mode of every file created meanwhile")

    monkeypatch.setattr(os, "umask", no_umask)
    target = tmp_path / "report.html"
    write_text_atomically(target, "<p>x</p>")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    other = tmp_path / "part"
    other.write_bytes(b"")
    other.chmod(0o600)
    make_shareable(other)
    assert stat.S_IMODE(other.stat().st_mode) == 0o640


def test_the_lock_never_follows_a_symlink(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n", encoding="utf-8")
    lock = tmp_path / ".run.lock"
    lock.symlink_to(precious)
    with pytest.raises(LockedError, match="symbolic link"):
        RunLock(lock).acquire()
    assert precious.read_text(encoding="utf-8") == "keep me\n"
    fifo = tmp_path / "fifo.lock"
    os.mkfifo(fifo)
    with pytest.raises(LockedError, match="not a regular file"):
        RunLock(fifo).acquire()


def test_a_regular_lock_still_excludes_a_second_run(tmp_path: Path) -> None:
    path = tmp_path / ".run.lock"
    holder = RunLock(path)
    holder.acquire()
    try:
        with pytest.raises(LockedError, match="another run holds"):
            RunLock(path).acquire()
        assert "pid" in path.read_text(encoding="utf-8")
    finally:
        holder.release()


def test_a_corrupt_state_is_set_aside_and_the_night_runs_as_a_first_one(
    page_server: PageServer, tmp_path: Path
) -> None:
    urls = [page_server.url(f"/article/{name}") for name in ("blog-post", "ai-safety")]
    listing = tmp_path / "sources.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    state = tmp_path / "state.sqlite"
    garbage = b"this is not a database\x00" * 200
    state.write_bytes(garbage)
    result = run_crawl(
        listing,
        tmp_path / "out.jsonl",
        STATE_URI=str(state),
        LOCK_FILE=str(tmp_path / "run.lock"),
        SPOOL_DIR=str(tmp_path / "spool"),
        EXTRACT_WORKERS="0",
        PROGRESS="off",
    )
    assert result.exit_code == 0, result.log[-3000:]
    assert [r["status"] for r in result.records] == ["ok", "ok"]
    assert all(r["changed"] is True for r in result.records)
    assert result.log.count("cannot be read") == 1
    aside = list(tmp_path.glob("state.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert set(read_all(state)) == set(urls)  # a new, readable state took its place


def test_s3_keys_stay_inside_the_download_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_s3 import BUCKET, MotoS3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)
    server = MotoS3()
    server.start()
    try:
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        outside = tmp_path / "outside"
        outside.mkdir()
        dest = tmp_path / "dest"
        client.put_object(Bucket=BUCKET, Key="lists/a.txt", Body=b"https://example.org/a\n")
        escapes = [f"/{outside}/evil.txt".replace("//", "/"), "lists/../../../outside/evil2.txt"]
        for key in escapes:
            client.put_object(Bucket=BUCKET, Key=key, Body=b"https://example.org/x\n")
        with pytest.raises(SourcesError, match="cannot be stored as a local file safely"):
            fetch_s3_sources(f"s3://{BUCKET}/", client, str(dest))
        assert list(outside.iterdir()) == []
        assert not (tmp_path / "outside" / "evil2.txt").exists()
        # a prefix without such keys downloads as before, inside the folder
        local = fetch_s3_sources(f"s3://{BUCKET}/lists/", client, str(dest))
        assert Path(local, "a.txt").read_text() == "https://example.org/a\n"
        assert Path(local).resolve().is_relative_to(dest.resolve())
    finally:
        server.stop()
