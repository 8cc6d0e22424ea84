"""The nightly report's figures, computed from published output files (no Scrapy needed).

Everything here reads the JSONL files and their manifests as plain JSON,
without validating against the record model: the report must still open the
nights written by an older schema, and it only needs a few fields.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import jsonlines

from crawler.watch.alarms import Alarm, Counts, Thresholds, evaluate

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".jsonl", ".jsonl.gz")
NO_DOMAIN = "(no domain)"
#: characters of a title or error detail kept in the list of sources: the
#: page is read by people, and a hostile page must not make it huge
MAX_TEXT = 300
#: the order of the list of sources: failing first, worst first
STATUS_RANK = {"error": 0, "dead": 1, "paywall": 2, "ok": 3}


def manifest_of(output: Path) -> Path:
    """Where the manifest of an output file is (``<output>.manifest.json``)."""
    return Path(f"{output}.manifest.json")


def timings_of(output: Path) -> Path:
    """Where the per-domain download timings of an output file are kept."""
    return Path(f"{output}.timings.json")


def report_of(output: Path) -> Path:
    """Where the HTML report of an output file goes (``<output>.report.html``)."""
    return Path(f"{output}.report.html")


def is_output_file(path: Path) -> bool:
    """Whether ``path`` looks like a published output file (not hidden, not a part file)."""
    return path.is_file() and not path.name.startswith(".") and path.name.endswith(OUTPUT_SUFFIXES)


def read_json(path: Path) -> dict[str, Any] | None:
    """Return a JSON object from a file, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _started_at(output: Path) -> str:
    """The run's start as an ISO string: from the manifest, else the file's mtime."""
    manifest = read_json(manifest_of(output))
    started = manifest.get("started_at") if manifest else None
    if isinstance(started, str) and started:
        return started
    return datetime.fromtimestamp(output.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_outputs(directory: Path) -> list[Path]:
    """Published output files of a directory, oldest run first (by the manifest's start time).

    Only files with a manifest beside them count: a run that was never
    published, or some other JSONL file dropped there, is not a night.
    """
    files = [p for p in directory.iterdir() if is_output_file(p) and manifest_of(p).is_file()]
    return sorted(files, key=lambda p: (_started_at(p), p.name))


def resolve_output(target: Path) -> Path:
    """The output file a report is about: ``target`` itself, or a directory's newest run."""
    if target.is_dir():
        outputs = find_outputs(target)
        if not outputs:
            raise FileNotFoundError(f"no output files (*.jsonl, *.jsonl.gz) in {target}")
        return outputs[-1]
    if not target.is_file():
        raise FileNotFoundError(f"no such output file: {target}")
    return target


def iter_raw_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of an output file; lines that are not objects are skipped."""
    raw = cast(IO[bytes], gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb"))  # noqa: SIM115
    with raw, jsonlines.Reader(raw) as reader:
        while True:
            try:
                data = reader.read(skip_empty=True)
            except EOFError:
                return
            except jsonlines.InvalidLineError as exc:
                logger.warning("%s:%d: not JSON, skipped in the report", path, exc.lineno)
                continue
            if isinstance(data, dict):
                yield data


@dataclass
class Night:
    """The figures of one run that every night of the history needs."""

    path: Path
    started_at: str
    manifest: dict[str, Any] | None
    counts: Counts = field(default_factory=Counts)

    @property
    def by_status(self) -> Counter[str]:
        """Records by status."""
        return self.counts.by_status

    @property
    def by_error(self) -> Counter[str]:
        """Records by error kind."""
        return self.counts.by_error

    @property
    def label(self) -> str:
        """A short name for charts: the start date and time, else the file name."""
        return self.started_at[:16].replace("T", " ") if self.started_at else self.path.name


@dataclass(frozen=True)
class State:
    """What the comparison between nights needs of a record."""

    url: str
    status: str
    content_sha256: str | None


@dataclass(frozen=True)
class Failing:
    """A row of the failing-sources table."""

    resource_id: str
    url: str
    domain: str
    status: str
    error: str
    http_status: int | None
    detail: str


@dataclass(frozen=True)
class SourceRow:
    """A row of the list of every source: what a reader looks a source up by."""

    status: str
    error: str
    http_status: int | None
    title: str
    published_date: str
    domain: str
    url: str
    detail: str


@dataclass(frozen=True)
class Change:
    """A source whose state differs from the previous night."""

    resource_id: str
    url: str
    before: str
    after: str


@dataclass
class Changes:
    """What changed since the previous night, compared by ``resource_id``."""

    previous: Night
    new: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    newly_dead: list[Change] = field(default_factory=list)
    recovered: list[Change] = field(default_factory=list)
    content_changed: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class DomainFailures:
    """Failing sources of one domain."""

    domain: str
    failing: int
    total: int
    kinds: tuple[tuple[str, int], ...]

    @property
    def share(self) -> float:
        """Share of the domain's sources that fail."""
        return self.failing / self.total if self.total else 0.0


@dataclass(frozen=True)
class DomainSpeed:
    """Download timings of one domain (from the run's timings file) and its timeouts."""

    domain: str
    responses: int
    mean_latency: float | None
    max_latency: float | None
    timeouts: int


@dataclass
class Report:
    """Everything the HTML page shows."""

    tonight: Night
    history: list[Night]
    changes: Changes | None
    failing: list[Failing]
    failure_domains: list[DomainFailures]
    #: every record of tonight's file, failing first (the page lists them all)
    sources: list[SourceRow]
    slow_domains: list[DomainSpeed]
    timings_available: bool
    alarms: list[Alarm]
    thresholds: Thresholds
    generated_at: str
    #: the "Reference rot" section (issue 18); None for reports built without it
    rot: RotSection | None = None

    @property
    def judged(self) -> bool:
        """Whether tonight is big enough for the coverage alarms (``ALARM_MIN_RECORDS``)."""
        return self.tonight.counts.records >= self.thresholds.min_records


def _summarise(path: Path, states: dict[str, State] | None = None) -> Night:
    night = Night(path=path, started_at=_started_at(path), manifest=read_json(manifest_of(path)))
    for record in iter_raw_records(path):
        night.counts.add(record)
        if states is not None:
            states[str(record.get("resource_id"))] = _state(record)
    return night


def _state(record: Mapping[str, Any]) -> State:
    sha = record.get("content_sha256")
    return State(
        url=str(record.get("url") or ""),
        status=str(record.get("status")),
        content_sha256=sha if isinstance(sha, str) else None,
    )


def _short(value: Any) -> str:
    """A text field for the list of sources: a string, cut at :data:`MAX_TEXT` characters."""
    if not isinstance(value, str):
        return ""
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def _compare(tonight: Mapping[str, State], before: Mapping[str, State], previous: Night) -> Changes:
    changes = Changes(previous=previous)
    for rid, now in tonight.items():
        then = before.get(rid)
        if then is None:
            changes.new.append(Change(rid, now.url, "", now.status))
            continue
        if now.status == "dead" and then.status != "dead":
            changes.newly_dead.append(Change(rid, now.url, then.status, now.status))
        if now.status == "ok" and then.status != "ok":
            changes.recovered.append(Change(rid, now.url, then.status, now.status))
        if now.content_sha256 and then.content_sha256 and now.content_sha256 != then.content_sha256:
            changes.content_changed.append(Change(rid, now.url, then.status, now.status))
    for rid, then in before.items():
        if rid not in tonight:
            changes.removed.append(Change(rid, then.url, then.status, ""))
    return changes


def _read_timings(output: Path) -> dict[str, dict[str, float]] | None:
    data = read_json(timings_of(output))
    domains = data.get("domains") if data else None
    return domains if isinstance(domains, dict) else None


def build_report(
    output: Path,
    *,
    history: int = 14,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> Report:
    """Compute the report of one output file against the earlier runs in its directory.

    ``history`` is how many nights (tonight included) the coverage charts show;
    the previous night is the newest output file that started before this one.
    """
    thresholds = thresholds or Thresholds()
    output = Path(output)
    earlier: list[Path] = []
    if output.parent.is_dir():
        runs = find_outputs(output.parent)
        started = _started_at(output)
        earlier = [
            p
            for p in runs
            if p.resolve() != output.resolve() and (_started_at(p), p.name) < (started, output.name)
        ]

    tonight = Night(
        path=output, started_at=_started_at(output), manifest=read_json(manifest_of(output))
    )
    states: dict[str, State] = {}
    failing: list[Failing] = []
    sources: list[SourceRow] = []
    domains: dict[str, Counter[str]] = {}
    timeouts: Counter[str] = Counter()
    for record in iter_raw_records(output):
        tonight.counts.add(record)
        rid = str(record.get("resource_id"))
        states[rid] = _state(record)
        domain = str(record.get("domain") or NO_DOMAIN)
        status = str(record.get("status"))
        per_domain = domains.setdefault(domain, Counter())
        per_domain["_total"] += 1
        if record.get("error") == "timeout":
            timeouts[domain] += 1
        http_status = record.get("http_status")
        sources.append(
            SourceRow(
                status=status,
                error=str(record.get("error") or ""),
                http_status=http_status if isinstance(http_status, int) else None,
                title=_short(record.get("title")),
                published_date=_short(record.get("published_date")),
                domain=domain,
                url=str(record.get("url") or ""),
                detail=_short(record.get("error_detail")),
            )
        )
        if status == "ok":
            continue
        kind = str(record.get("error") or status)
        per_domain[kind] += 1
        per_domain["_failing"] += 1
        failing.append(
            Failing(
                resource_id=rid,
                url=str(record.get("url") or ""),
                domain=domain,
                status=status,
                error=str(record.get("error") or ""),
                http_status=http_status if isinstance(http_status, int) else None,
                detail=str(record.get("error_detail") or ""),
            )
        )

    changes: Changes | None = None
    past: list[Night] = []
    if earlier:
        before: dict[str, State] = {}
        previous = _summarise(earlier[-1], before)
        changes = _compare(states, before, previous)
        if history > 1:
            window = earlier[-(history - 1) :]
            past = [*(_summarise(p) for p in window[:-1]), previous]

    failure_domains = sorted(
        (
            DomainFailures(
                domain=d,
                failing=c["_failing"],
                total=c["_total"],
                kinds=tuple((k, n) for k, n in c.most_common() if not k.startswith("_")),
            )
            for d, c in domains.items()
            if c["_failing"]
        ),
        key=lambda f: (-f.failing, -f.share, f.domain),
    )

    timings = _read_timings(output)
    speeds: list[DomainSpeed] = []
    if timings is not None:
        for domain, t in timings.items():
            responses = int(t.get("responses", 0))
            total = float(t.get("latency_total", 0.0))
            speeds.append(
                DomainSpeed(
                    domain=domain,
                    responses=responses,
                    mean_latency=total / responses if responses else None,
                    max_latency=float(t["latency_max"]) if "latency_max" in t else None,
                    timeouts=timeouts.get(domain, 0),
                )
            )
        for domain, n in timeouts.items():  # domains that never answered at all
            if domain not in timings:
                speeds.append(DomainSpeed(domain, 0, None, None, n))
        speeds.sort(key=lambda s: (-s.timeouts, -(s.mean_latency or 0.0), s.domain))
    else:
        speeds = sorted(
            (DomainSpeed(d, 0, None, None, n) for d, n in timeouts.items()),
            key=lambda s: (-s.timeouts, s.domain),
        )

    moment = now or datetime.now(UTC)
    return Report(
        tonight=tonight,
        history=[*past, tonight],
        changes=changes,
        failing=sorted(failing, key=lambda f: (f.status, f.error, f.domain, f.url)),
        failure_domains=failure_domains,
        sources=sorted(
            sources, key=lambda r: (STATUS_RANK.get(r.status, -1), r.error, r.domain, r.url)
        ),
        slow_domains=speeds,
        timings_available=timings is not None,
        alarms=evaluate(tonight.counts, thresholds),
        thresholds=thresholds,
        generated_at=moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        rot=build_rot_section(output, changes),
    )


# --- Reference rot -------------------------------------------------------------

#: the rot kinds the section lists, each in its own list (pipelines/rot)
ROT_KINDS = ("soft_404", "redirected_home", "parked_domain", "login_wall")


@dataclass(frozen=True)
class Rotten:
    """A source the section lists: what rotted, and where a copy is."""

    resource_id: str
    url: str
    status: str
    error: str
    detail: str
    #: the archived capture's page (an http(s) URL), or None
    archive_url: str | None
    archive_captured_at: str | None
    dead_confirmed: bool


@dataclass
class RotSection:
    """Tonight's reference rot: newly dead by kind, the rot kinds, drifted pages."""

    #: error kind -> count, among sources dead tonight and not dead the night before
    newly_dead_by_kind: Counter[str] = field(default_factory=Counter)
    newly_dead: list[Rotten] = field(default_factory=list)
    by_kind: dict[str, list[Rotten]] = field(default_factory=dict)
    drifted: list[Rotten] = field(default_factory=list)
    #: listed sources with an archived copy
    with_archive: int = 0
    #: whether a previous night was there to tell "newly" dead
    compared: bool = False


def _rotten(record: Mapping[str, Any]) -> Rotten:
    archive = record.get("archive")
    url = archive.get("url") if isinstance(archive, dict) else None
    captured = archive.get("captured_at") if isinstance(archive, dict) else None
    safe = isinstance(url, str) and url.lower().startswith(("http://", "https://"))
    return Rotten(
        resource_id=str(record.get("resource_id")),
        url=str(record.get("url") or ""),
        status=str(record.get("status")),
        error=str(record.get("error") or ""),
        detail=str(record.get("error_detail") or ""),
        archive_url=url if safe else None,
        archive_captured_at=captured if isinstance(captured, str) else None,
        dead_confirmed=record.get("dead_confirmed") is True,
    )


def build_rot_section(output: Path, changes: Changes | None) -> RotSection:
    """Collect the section from tonight's records (one more pass over the file).

    "Newly dead" uses the night-to-night comparison when there is one; on a
    first night every dead source is new.
    """
    section = RotSection(by_kind={kind: [] for kind in ROT_KINDS}, compared=changes is not None)
    newly = {c.resource_id for c in changes.newly_dead} if changes is not None else None
    for record in iter_raw_records(output):
        status = record.get("status")
        error = str(record.get("error") or "")
        drift = record.get("drift")
        drifted = isinstance(drift, dict) and drift.get("drifted") is True
        is_newly_dead = status == "dead" and (
            newly is None or str(record.get("resource_id")) in newly
        )
        if not (is_newly_dead or error in section.by_kind or drifted):
            continue
        row = _rotten(record)
        if row.archive_url:
            section.with_archive += 1
        if is_newly_dead:
            section.newly_dead_by_kind[error or "dead"] += 1
            section.newly_dead.append(row)
        if error in section.by_kind:
            section.by_kind[error].append(row)
        if drifted:
            section.drifted.append(row)
    return section
