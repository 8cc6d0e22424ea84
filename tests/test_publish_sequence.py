"""The one publish sequence, on files under tmp_path: its order and what each outcome leaves."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from scrapy.signalmanager import SignalManager

from crawler.publish.counts import RecordCounts, stat_keys
from crawler.publish.sequence import IncompleteRunError, Publication, publish
from crawler.publish.signals import output_published

RECORDS: list[dict[str, Any]] = [
    {"status": "ok", "error": None, "changed": True},
    {"status": "dead", "error": "http_404", "changed": False},
    {"status": "error", "error": "timeout"},
]


def stats_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    counts = RecordCounts()
    for record in records:
        counts.add(record)
    return {**counts.as_stats(), "ingest/started_at": "2026-12-02T02:00:00Z"}


def part_file(directory: Path, records: list[dict[str, Any]]) -> Path:
    part = directory / ".night.jsonl.part"
    part.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return part


def test_counts_and_stat_keys_follow_one_rule() -> None:
    counted: dict[str, int] = {}
    for record in RECORDS:
        for key in stat_keys(record):
            counted[key] = counted.get(key, 0) + 1
    assert counted == {k: v for k, v in stats_of(RECORDS).items() if k != "ingest/started_at"}
    assert counted["ingest/records"] == 3
    assert counted["ingest/records/status/dead"] == 1
    assert counted["ingest/records/error/timeout"] == 1
    assert counted["ingest/records/changed"] == counted["ingest/records/unchanged"] == 1


def test_a_healthy_night_signals_before_the_pointer_moves(tmp_path: Path) -> None:
    records = RECORDS[:2]
    signals = SignalManager()
    heard: list[tuple[Path, bool]] = []

    def receiver(target: Path, manifest: dict[str, Any]) -> None:
        heard.append((target, (target.parent / "latest.json").exists()))
        assert manifest["healthy"] is True and target.exists()

    signals.connect(receiver, signal=output_published)
    target = tmp_path / "night.jsonl"
    done = publish(
        Publication(
            part=part_file(tmp_path, records),
            target=target,
            output=str(target),
            stats=stats_of(records),
            incomplete=None,
            max_error_share=0.5,
            signals=signals,
        )
    )
    assert heard == [(target, False)]  # the pointer came after the signal
    assert done.latest == tmp_path / "latest.json" and done.health_problem is None
    manifest = json.loads((tmp_path / "night.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["records"] == 2 and manifest["by_status"] == {"dead": 1, "ok": 1}
    assert manifest["changed"] == 1
    pointer = json.loads(done.latest.read_text(encoding="utf-8"))
    assert pointer["output"] == "night.jsonl" and pointer["sha256"] == manifest["sha256"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_an_unhealthy_night_is_published_but_moves_nothing(tmp_path: Path) -> None:
    records = [RECORDS[2], RECORDS[2], RECORDS[0]]
    signals = SignalManager()
    heard: list[Path] = []
    signals.connect(lambda target, manifest: heard.append(target), signal=output_published)
    target = tmp_path / "night.jsonl"
    done = publish(
        Publication(
            part=part_file(tmp_path, records),
            target=target,
            output=str(target),
            stats=stats_of(records),
            incomplete=None,
            max_error_share=0.5,
            signals=signals,
        )
    )
    assert done.health_problem is not None and "2 of 3 records are errors" in done.health_problem
    assert target.exists() and heard == [] and done.latest is None
    assert not (tmp_path / "latest.json").exists()
    manifest = json.loads((tmp_path / "night.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["healthy"] is False


def test_an_incomplete_night_leaves_nothing(tmp_path: Path) -> None:
    part = part_file(tmp_path, RECORDS)
    target = tmp_path / "night.jsonl"
    with pytest.raises(IncompleteRunError, match="2 records written for 3"):
        publish(
            Publication(
                part=part,
                target=target,
                output=str(target),
                stats=stats_of(RECORDS),
                incomplete="2 records written for 3 unique source entries",
                max_error_share=0.5,
            )
        )
    assert sorted(os.listdir(tmp_path)) == []


def test_a_failing_receiver_keeps_the_pointer_on_the_previous_night(tmp_path: Path) -> None:
    signals = SignalManager()

    def receiver(target: Path, manifest: dict[str, Any]) -> None:
        raise OSError("disk full while saving the state")

    signals.connect(receiver, signal=output_published)
    target = tmp_path / "night.jsonl"
    with pytest.raises(OSError, match="disk full"):
        publish(
            Publication(
                part=part_file(tmp_path, RECORDS[:1]),
                target=target,
                output=str(target),
                stats=stats_of(RECORDS[:1]),
                incomplete=None,
                max_error_share=0.5,
                signals=signals,
            )
        )
    assert not (tmp_path / "latest.json").exists()


def test_a_refused_confirmation_withdraws_the_file(tmp_path: Path) -> None:
    target = tmp_path / "worker-1.jsonl"
    seen: list[bool] = []

    def confirm() -> str | None:
        seen.append(target.exists() and Path(f"{target}.manifest.json").exists())
        return "the claims were re-queued elsewhere"

    with pytest.raises(IncompleteRunError, match="re-queued"):
        publish(
            Publication(
                part=part_file(tmp_path, RECORDS),
                target=target,
                output=str(target),
                stats=stats_of(RECORDS),
                incomplete=None,
                manifest_extra={"worker": "worker-1"},
                confirm=confirm,
            )
        )
    assert seen == [True]  # asked once the file and its manifest were in place
    assert sorted(os.listdir(tmp_path)) == []


def test_a_part_without_health_check_gets_no_pointer(tmp_path: Path) -> None:
    target = tmp_path / "worker-1.jsonl"
    done = publish(
        Publication(
            part=part_file(tmp_path, RECORDS),
            target=target,
            output=str(target),
            stats=stats_of(RECORDS),
            incomplete=None,
            manifest_extra={"worker": "worker-1", "run_id": "r1"},
        )
    )
    assert done.latest is None and not (tmp_path / "latest.json").exists()
    manifest = json.loads((tmp_path / "worker-1.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["worker"] == "worker-1" and manifest["run_id"] == "r1"
    assert "healthy" not in manifest
