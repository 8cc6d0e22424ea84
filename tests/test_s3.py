"""S3 in and out against moto's S3 server on 127.0.0.1 (a real HTTP server, boto3 unmocked)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from schemas import read_records
from schemas.reader import latest
from tests.conftest import PROJECT_ROOT, crawl_command, run_crawl
from tests.pageserver import PageServer

BUCKET = "nightly"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoS3:
    """moto's server mode on loopback; can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def settings(self, spool: Path) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION_NAME": "us-east-1",
            "SPOOL_DIR": str(spool),
            "S3_UPLOAD_ATTEMPTS": "2",
            "S3_UPLOAD_BACKOFF": "0.1",
            "S3_CONNECT_TIMEOUT": "1",
        }

    def body(self, key: str) -> bytes:
        data: bytes = self.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return data

    def keys(self, prefix: str = "") -> list[str]:
        found = self.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return [str(o["Key"]) for o in found]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test process's own boto3 (the reader, the checks) needs credentials
    # too; never the real ones.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3() -> Iterator[MotoS3]:
    server = MotoS3()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


def spooled(spool: Path) -> list[str]:
    if not spool.exists():
        return []
    return sorted(
        str(p.relative_to(spool))
        for p in spool.rglob("*")
        if p.is_file() and not any(x.startswith(".") for x in p.relative_to(spool).parts)
    )


def test_export_to_s3_with_sources_from_s3(
    tmp_path: Path, s3: MotoS3, page_server: PageServer
) -> None:
    u = page_server.url
    client = s3.client()
    client.put_object(
        Bucket=BUCKET,
        Key="lists/a.yaml",
        Body=f"- id: first\n  url: {u('/article/ai-safety')}\n- url: {u('/status/404')}\n",
    )
    client.put_object(Bucket=BUCKET, Key="lists/b.txt", Body=f"{u('/article/blog-post')}\n")
    client.put_object(Bucket=BUCKET, Key="lists/.hidden.yaml", Body=f"- {u('/text')}\n")
    client.put_object(Bucket=BUCKET, Key="other/c.txt", Body=f"{u('/text')}\n")
    spool = tmp_path / "spool"
    out = "s3://nightly/sources/n1.jsonl.gz"

    result = run_crawl(
        "s3://nightly/lists/", tmp_path / "unused", **s3.settings(spool), OUTPUT_URI=out
    )
    assert result.exit_code == 0, result.log[-3000:]
    assert spooled(spool) == []
    assert set(s3.keys("sources/")) == {
        "sources/n1.jsonl.gz",
        "sources/n1.jsonl.gz.manifest.json",
        "sources/n1.jsonl.gz.report.html",
        "sources/n1.jsonl.gz.timings.json",
        "sources/latest.json",
        "sources/state.sqlite.gz",
    }
    data = s3.body("sources/n1.jsonl.gz")
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    assert len(lines) == 3
    manifest = json.loads(s3.body("sources/n1.jsonl.gz.manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["output"] == out and manifest["sources"] == "s3://nightly/lists/"
    records = list(read_records(out, endpoint_url=s3.endpoint))
    assert {r.url for r in records} == {
        u("/article/ai-safety"),
        u("/status/404"),
        u("/article/blog-post"),
    }
    pointer = latest("s3://nightly/sources/", endpoint_url=s3.endpoint)
    assert pointer["output"] == out and pointer["sha256"] == manifest["sha256"]
    via_latest = list(read_records("s3://nightly/sources/", endpoint_url=s3.endpoint))
    assert [r.resource_id for r in via_latest] == [r.resource_id for r in records]
    assert f"output {out}" in result.log

    # The second night reads the state back from S3: unchanged pages say so.
    out2 = "s3://nightly/sources/n2.jsonl"
    second = run_crawl(
        "s3://nightly/lists/b.txt", tmp_path / "unused", **s3.settings(spool), OUTPUT_URI=out2
    )
    assert second.exit_code == 0, second.log[-3000:]
    (record,) = read_records(out2, endpoint_url=s3.endpoint)
    assert record.url == u("/article/blog-post") and record.changed is False
    assert latest("s3://nightly/sources/latest.json", endpoint_url=s3.endpoint)["output"] == out2

    # The second night's report is built from both nights on S3 and opens from a link.
    page = client.get_object(Bucket=BUCKET, Key="sources/n2.jsonl.report.html")
    assert page["ContentType"].startswith("text/html")
    html = page["Body"].read().decode("utf-8")
    assert "n2.jsonl" in html and "n1.jsonl.gz" in html  # tonight, and the night before
    assert f"Report written to {out2}.report.html" in second.log


def test_missing_s3_sources_exit_2(tmp_path: Path, s3: MotoS3) -> None:
    result = run_crawl(
        "s3://nightly/nothing-here/", tmp_path / "out.jsonl", **s3.settings(tmp_path / "spool")
    )
    assert result.exit_code == 2, result.log[-2000:]
    assert "no sources file under this S3 prefix" in result.log


def test_s3_down_before_upload_spools_then_next_run_uploads(
    tmp_path: Path, s3: MotoS3, page_server: PageServer
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(
        f"{page_server.url('/article/reef-paper')}\n{page_server.url('/delay/3')}\n",
        encoding="utf-8",
    )
    spool = tmp_path / "spool"
    out = "s3://nightly/down/n1.jsonl"
    settings = {**s3.settings(spool), "OUTPUT_URI": out}
    log = tmp_path / "run1.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            crawl_command(listing, tmp_path / "unused", **settings),
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while "Incremental state:" not in log.read_text(encoding="utf-8"):
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.05)
            s3.stop()  # S3 goes away while the slow page is still being fetched
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text(encoding="utf-8")
    assert code == 4, text[-3000:]
    kept = spool / BUCKET / "down" / "n1.jsonl"
    assert f"kept at {kept}" in text
    # (other extensions may leave files beside the output too: they travel with it)
    assert {
        "nightly/down/latest.json",
        "nightly/down/n1.jsonl",
        "nightly/down/n1.jsonl.manifest.json",
        "nightly/down/state.sqlite.gz",
    } <= set(spooled(spool))
    assert len(kept.read_text(encoding="utf-8").splitlines()) == 2

    s3.start()  # the same port, the same (in-process) buckets
    assert s3.keys("down/") == [], text[-6000:]
    listing2 = tmp_path / "list2.txt"
    listing2.write_text(f"{page_server.url('/article/reef-paper')}\n", encoding="utf-8")
    out2 = "s3://nightly/down/n2.jsonl"
    second = run_crawl(listing2, tmp_path / "unused", **{**settings, "OUTPUT_URI": out2})
    assert second.exit_code == 0, second.log[-3000:]
    assert spooled(spool) == []
    uploaded = s3.body("down/n1.jsonl")
    manifest = json.loads(s3.body("down/n1.jsonl.manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(uploaded).hexdigest() and manifest["records"] == 2
    assert latest("s3://nightly/down/", endpoint_url=s3.endpoint)["output"] == out2
    (record,) = read_records(out2, endpoint_url=s3.endpoint)
    assert record.changed is False  # the spooled state reached S3 before this run read it
