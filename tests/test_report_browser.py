"""The report opened in real headless Chromium: figures, search, no console errors, no network.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe``
(JSON messages separated by NUL bytes on file descriptors 3 and 4). That needs
no websocket client, no driver binary and no Python package beyond the
standard library, and it sees every request the page makes and every console
message, which ``--dump-dom`` alone cannot show.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from crawler.watch.report import write_report
from tests.conftest import PROJECT_ROOT, run_crawl
from tests.pageserver import PageServer
from tests.test_report import THRESHOLDS, craft_nights, record, write_night

BROWSER = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium phones home (updates, sync, field trials)
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-pipe",
    "--window-size=1280,900",
]


def _pipe_to_3_and_4(read_end: int, write_end: int) -> None:
    """In the child: put the pipe ends on fds 3 and 4 (copied high first: none clobbers another)."""
    high_read = fcntl.fcntl(read_end, fcntl.F_DUPFD, 10)
    high_write = fcntl.fcntl(write_end, fcntl.F_DUPFD, 10)
    os.dup2(high_read, 3)
    os.dup2(high_write, 4)


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # Chromium reads commands from fd 3 and writes replies and events to fd 4.
        self.proc = subprocess.Popen(
            [BROWSER, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=lambda: _pipe_to_3_and_4(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its result, keeping the events that arrive meanwhile."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        """Wait for an event (or return it if it already came)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)
            self.events.append(self._read(deadline - time.monotonic()))

    def _read(self, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("no message from Chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def close(self) -> None:
        """End the browser (the process this client started) and remove its profile."""
        with contextlib.suppress(OSError, RuntimeError, EOFError, TimeoutError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser() -> Any:
    if not os.access(BROWSER, os.X_OK):
        pytest.skip(f"Chromium is not installed at {BROWSER} (apt-get install chromium)")
    client = DevTools()
    try:
        yield client
    finally:
        client.close()


def test_report_in_headless_chromium(tmp_path: Path, browser: DevTools) -> None:
    nights = craft_nights(tmp_path)
    page, report = write_report(nights[-1], thresholds=THRESHOLDS)

    # Runtime, Log and Network too: console messages and requests are checked below
    session, evaluate = open_page(browser, page, domains=("Page", "Runtime", "Log", "Network"))

    def metric(name: str) -> str:
        value = evaluate(f"document.querySelector('[data-metric=\"{name}\"]').textContent")
        assert isinstance(value, str)
        return value

    # the figures on the page are those of tonight's file
    assert metric("records") == str(report.tonight.counts.records) == "10"
    assert metric("status/ok") == "4"
    assert metric("status/dead") == "2"
    assert metric("changes/new") == "3"
    assert metric("changes/newly_dead") == "1"
    assert metric("changes/recovered") == "1"
    assert metric("changes/content_changed") == "1"
    assert metric("coverage/title") == "75%"
    assert evaluate("document.querySelectorAll('#alarms li').length") == 2
    assert evaluate("document.querySelectorAll('svg rect').length") == 4 * 3

    # the list holds every source, failing first; search and the status filter narrow it
    assert evaluate("document.getElementById('shown').textContent") == "10"
    assert evaluate("document.querySelectorAll('#sources tbody tr').length") == 10
    assert search(evaluate, "bad.example") == "2"
    assert search(evaluate, "", status="failing") == "6"
    assert search(evaluate, "") == "10"
    links = evaluate(
        "Array.from(document.querySelectorAll('#sources a')).map(a=>a.rel+' '+a.protocol)"
    )
    assert links and set(links) == {"noreferrer noopener https:"}

    metrics = browser.send("Page.getLayoutMetrics", session)["cssContentSize"]
    shot = browser.send(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": metrics["height"], "scale": 1},
    )
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / "report.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    assert png.stat().st_size > 10_000

    browser.send("Runtime.evaluate", session, expression="1")  # flush pending events
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests == [page.as_uri()], requests
    problems = [
        e["params"]
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "warning", "assert")
        )
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert problems == []


def open_page(
    browser: DevTools, page: Path, domains: tuple[str, ...] = ("Page",)
) -> tuple[str, Any]:
    """Open a page in a new tab with these DevTools domains on; return (session, evaluate)."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in domains:
        browser.send(f"{domain}.enable", session)
    browser.send("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")

    def evaluate(expression: str) -> Any:
        result = browser.send(
            "Runtime.evaluate", session, expression=expression, returnByValue=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    return session, evaluate


def test_two_crawled_nights_in_chromium(
    tmp_path: Path, page_server: PageServer, browser: DevTools
) -> None:
    u = page_server.url

    def night(name: str, entries: dict[str, str]) -> Path:
        listing = tmp_path / f"{name}.yaml"
        listing.write_text(
            "".join(f"- id: {rid}\n  url: {u(path)}\n" for rid, path in entries.items()),
            encoding="utf-8",
        )
        out = tmp_path / "out" / f"{name}.jsonl"
        result = run_crawl(listing, out, ALARM_MIN_RECORDS="0", ALARM_MIN_AUTHORS="")
        assert out.is_file(), result.log[-3000:]
        return out

    night(
        "night1",
        {
            "p1": "/article/ai-safety",
            "p2": "/article/blog-post",
            "p3": "/article/reef-paper",
            "p4": "/status/404",
        },
    )
    second = night(
        "night2",
        {
            "p1": "/article/ai-safety",  # unchanged
            "p2": "/article/gov-report",  # same source, other text
            "p3": "/status/404",  # newly dead
            "p4": "/article/blog-post",  # recovered
            "p5": "/status/500",  # new, failing
        },
    )
    records = {r["resource_id"]: r for r in map(json.loads, second.read_text().splitlines())}
    page = Path(f"{second}.report.html")
    _, evaluate = open_page(browser, page)

    def metric(name: str) -> str:
        value = evaluate(f"document.querySelector('[data-metric=\"{name}\"]').textContent")
        assert isinstance(value, str)
        return value

    statuses = [r["status"] for r in records.values()]
    assert metric("records") == str(len(records)) == "5"
    for status in ("ok", "dead", "error"):
        assert metric(f"status/{status}") == str(statuses.count(status))
    assert metric("changes/new") == "1"
    assert metric("changes/newly_dead") == "1"
    assert metric("changes/recovered") == "1"
    assert metric("changes/content_changed") == "1"
    assert metric("failing") == str(sum(s != "ok" for s in statuses))
    ok = [r for r in records.values() if r["status"] == "ok"]
    titled = sum(bool(r["title"]) for r in ok)
    assert metric("coverage/title") == f"{titled / len(ok):.0%}"
    search(evaluate, "", status="failing")
    assert evaluate("document.querySelectorAll('#sources tbody tr').length") == 2


def search(evaluate: Any, text: str, status: str = "") -> str:
    """Type into the page's search box and pick a status; return how many sources match."""
    shown = evaluate(
        "(function(){var q=document.getElementById('filter'),"
        "s=document.getElementById('status-filter');"
        f"s.value={json.dumps(status)};s.dispatchEvent(new Event('change'));"
        f"q.value={json.dumps(text)};q.dispatchEvent(new Event('input'));"
        "return document.getElementById('shown').textContent})()"
    )
    assert isinstance(shown, str)
    return shown


def test_twenty_thousand_sources_open_paginated(tmp_path: Path, browser: DevTools) -> None:
    domains = [f"d{n}.example" for n in range(50)]
    records = [
        record(
            f"r{i:05d}",
            "ok" if i % 7 else "dead",
            domain=domains[i % len(domains)],
            title=f"Article number {i:05d} about <things> & more",
            **({} if i % 7 else {"error": "http_404", "http_status": 404}),
        )
        for i in range(20_000)
    ]
    records.append(record("evil", "dead", url="javascript:alert(1)", error="unsupported_scheme"))
    output = write_night(tmp_path, "2026-11-29T02:00:00Z", records)
    page, _ = write_report(output, thresholds=THRESHOLDS)
    session, evaluate = open_page(browser, page, domains=("Page", "Runtime", "Log"))
    # the first paint holds one page of rows, not 20,001
    assert evaluate("document.querySelectorAll('#sources tbody tr').length") == 100
    assert evaluate("document.querySelectorAll('tr').length") < 400
    assert evaluate("document.getElementById('pages').textContent") == "201"
    assert evaluate("document.getElementById('shown').textContent") == "20,001"
    # a record far down the list (ok records come after the failing ones) is found by search
    assert search(evaluate, "number 19999") == "1"
    row = evaluate("document.querySelector('#sources tbody tr').textContent")
    assert "Article number 19999 about <things> & more" in row
    href = evaluate("document.querySelector('#sources tbody a').getAttribute('href')")
    assert href == "https://d49.example/r19999"
    # paging walks the whole list
    search(evaluate, "")
    evaluate("document.getElementById('next').click()")
    assert evaluate("document.getElementById('page').textContent") == "2"
    # a javascript: URL is shown as text, never as a link
    assert search(evaluate, "javascript:") == "1"
    assert evaluate("document.querySelectorAll('#sources tbody a').length") == 0
    browser.send("Runtime.evaluate", session, expression="1")  # flush pending events
    problems = [
        e["params"]
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert problems == []
