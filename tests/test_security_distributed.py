"""A distributed night with credential URLs: crawled, finished, and no password in its output.

The finishing step checks that the records' URLs are the loaded entries'
URLs; a record shows a URL without its userinfo, so the check must compare
the entries' URLs read the same way (crawler/fetch/urls.py's ``redact_url``),
or a run holding ``http://user:pw@host/`` never finishes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import crawl_command, run_command
from tests.pageserver import PageServer
from tests.redisserver import RedisServer

# userinfo as written: fetched (@ : space %-escapes) and refused (/ # ? end the authority)
USERINFOS = [
    "alice:s3cr@t-pw1",
    "bob:sp ace-pw2",
    "carol:pe%40rc%3Ant-pw3",
    "dave:co:lon-pw4",
    "erin:sl/ash-pw5",
    "frank:ha#sh-pw6",
]
PASSWORD_PIECES = ["s3cr", "t-pw1", "ace-pw2", "pe%40rc", "pe@rc", "nt-pw3", "lon-pw4",
                   "sl/ash", "ash-pw5", "ha#sh", "sh-pw6"]  # fmt: skip


def test_a_run_with_credential_urls_finishes_and_shows_no_password(
    page_server: PageServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    base = page_server.url("/article/ai-safety")
    lines = [{"id": "plain", "url": base}]
    for i, userinfo in enumerate(USERINFOS):
        lines.append({"id": f"cred{i}", "url": base.replace("://", f"://{userinfo}@") + f"?n={i}"})
    sources = tmp_path / "sources.jsonl"
    sources.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    python = [sys.executable, "-m"]
    loaded = run_command(
        [*python, "crawler.distributed.load", str(sources), "--redis", redis_server.url,
         "--run-id", "cred-night"],
        timeout=60,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    worker = run_command(
        crawl_command(
            None,
            tmp_path / "unused.jsonl",
            REDIS_URL=redis_server.url,
            RUN_ID="cred-night",
            WORKER_ID="w1",
            DISTRIBUTED_PARTS_DIR=str(tmp_path / "parts"),
            DISTRIBUTED_POLL="0.2",
            EXTRACT_WORKERS="0",
            PROGRESS="off",
            LOG_LEVEL="DEBUG",
        ),
        timeout=180,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    output = tmp_path / "night.jsonl"
    finished = run_command(
        [*python, "crawler.distributed.finish", "--redis", redis_server.url, "--run-id",
         "cred-night", "--output", str(output)],
        timeout=60,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    records = {r["resource_id"]: r for r in map(json.loads, output.read_text().splitlines())}
    assert len(records) == len(lines)
    statuses = sorted(r["status"] for r in records.values())
    assert statuses.count("ok") == 5 and statuses.count("error") == 2  # two refused spellings
    shown = [
        output.read_text(encoding="utf-8"),
        Path(f"{output}.manifest.json").read_text(encoding="utf-8"),
        finished.stdout + finished.stderr,
        worker.stdout + worker.stderr,
        loaded.stdout + loaded.stderr,
    ]
    for piece in PASSWORD_PIECES:
        assert not any(piece in text for text in shown), piece


def test_the_missing_list_shows_no_password(redis_server: RedisServer, tmp_path: Path) -> None:
    """finish lists the sources no worker recorded: their URLs as records show them."""
    lines = [
        {"id": f"cred{i}", "url": f"http://{userinfo}@127.0.0.1:9/page?n={i}"}
        for i, userinfo in enumerate(USERINFOS)
    ]
    sources = tmp_path / "sources.jsonl"
    sources.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    python = [sys.executable, "-m"]
    loaded = run_command(
        [*python, "crawler.distributed.load", str(sources), "--redis", redis_server.url,
         "--run-id", "missing-night"],
        timeout=60,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    output = tmp_path / "night.jsonl"
    finished = run_command(
        [*python, "crawler.distributed.finish", "--redis", redis_server.url, "--run-id",
         "missing-night", "--output", str(output)],
        timeout=60,
    )  # fmt: skip
    assert finished.returncode == 3 and not output.exists()  # nothing was crawled
    listed = Path(f"{output}.missing.jsonl").read_text(encoding="utf-8")
    assert sorted(json.loads(line)["id"] for line in listed.splitlines()) == sorted(
        x["id"] for x in lines
    )
    assert all("127.0.0.1:9/page" in json.loads(line)["url"] for line in listed.splitlines())
    for piece in PASSWORD_PIECES:
        assert piece not in listed + finished.stdout + finished.stderr, piece
