"""Which hosts are rendered: the operator's lists and the state's memory of hosts with shells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.incremental.store import RenderHost, StateStore
from crawler.render.memory import HostList, HostMemory, host_key

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_host_key() -> None:
    assert host_key("https://WWW.Example.com:8443/a?b") == "example.com"
    assert host_key("www.example.com") == "example.com"
    assert host_key("example.com/path") == "example.com"
    assert host_key("app.example.com.") == "app.example.com"
    assert host_key("") == ""


def test_host_lists_cover_subdomains_only() -> None:
    hosts = HostList.from_setting(["Example.com", "www.spa.test", ""])
    assert "example.com" in hosts
    assert "news.example.com" in hosts
    assert "spa.test" in hosts
    assert "notexample.com" not in hosts
    assert "example.com.evil.test" not in hosts
    assert "" not in HostList.from_setting([])


def _memory(rows: dict[str, RenderHost]) -> HostMemory:
    return HostMemory(lookup=rows.get, now=NOW, remember=timedelta(days=30))


def test_a_host_mostly_of_shells_is_remembered_while_recent() -> None:
    recent = (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (NOW - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
    memory = _memory(
        {
            "app.test": RenderHost("app.test", pages=4, shells=3, last_shell=recent),
            "mixed.test": RenderHost("mixed.test", pages=10, shells=2, last_shell=recent),
            "stale.test": RenderHost("stale.test", pages=2, shells=2, last_shell=old),
        }
    )
    assert memory.remembered("app.test")
    assert not memory.remembered("mixed.test")  # a few shells among many pages
    assert not memory.remembered("stale.test")  # no shell for longer than RENDER_REMEMBER_DAYS
    assert not memory.remembered("unknown.test")


def test_rows_keep_this_runs_shell_hosts_and_recent_older_ones() -> None:
    recent = (NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (NOW - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = [
        RenderHost("app.test", 4, 3, recent),  # seen again tonight, no shell: forgotten
        RenderHost("quiet.test", 2, 2, recent),  # not crawled tonight: kept
        RenderHost("stale.test", 2, 2, old),  # too old: dropped
    ]
    memory = _memory({row.host: row for row in previous})
    for shell in (False, False):
        memory.observe("app.test", shell)
    for shell in (True, True, False):
        memory.observe("spa.test", shell)
    memory.observe("static.test", False)
    rows = {row.host: row for row in memory.rows(previous)}
    assert set(rows) == {"spa.test", "quiet.test"}
    assert rows["spa.test"] == RenderHost("spa.test", 3, 2, "2026-12-02T02:00:00Z")
    assert rows["quiet.test"] == previous[1]


def test_the_state_store_keeps_render_hosts_between_runs(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    first = StateStore(None, tmp_path / "work1")
    assert first.render_host("spa.test") is None
    first.put_render_hosts([RenderHost("spa.test", 3, 2, "2026-12-01T02:00:00Z")])
    first.finish().replace(state)
    second = StateStore(state, tmp_path / "work2")
    assert second.render_host("spa.test") == RenderHost("spa.test", 3, 2, "2026-12-01T02:00:00Z")
    assert second.render_host("other.test") is None
    assert [row.host for row in second.previous_render_hosts()] == ["spa.test"]
    second.discard()


def test_a_state_from_before_the_table_reads_as_empty(tmp_path: Path) -> None:
    import sqlite3

    state = tmp_path / "state.sqlite"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE sources (url TEXT PRIMARY KEY)")
    store = StateStore(state, tmp_path / "work")
    assert store.render_host("spa.test") is None
    assert list(store.previous_render_hosts()) == []
    store.discard()
