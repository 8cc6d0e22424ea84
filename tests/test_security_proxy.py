"""Proxies cannot take the crawler past the address guard.

Three loopback addresses: the page server on 127.0.0.1 (let through with
``ALLOWED_NETWORKS``), an internal server on 127.0.0.2 (must never be
reached) and a forwarding proxy on 127.0.0.3 that resolves names itself,
as real proxies do. The test resolver maps ``internal.test`` to 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import CrawlResult, run_crawl
from tests.pageserver import PageServer

GUARDED = {
    "ALLOW_PRIVATE_ADDRESSES": "false",
    "ALLOWED_NETWORKS": "127.0.0.1/32",
    "TWISTED_DNS_RESOLVER": "tests.dnsfixture.LoopbackResolver",
    "RETRY_TIMES": "0",
    "MAX_ERROR_SHARE": "1",
    "ALARM_MAX_ERROR_SHARE": "1",
    "EXTRACT_WORKERS": "0",
    "PROGRESS": "off",
}


class ForwardingProxy:
    """A plain-HTTP forwarding proxy on 127.0.0.3 that resolves target names from its own table."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.hits: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = head.decode("latin-1").partition("\r\n")
            method, target, _ = line.split(" ", 2)
            parts = urlsplit(target)
            host = parts.hostname or ""
            self.hits[host] += 1
            address = self.names.get(host, host)
            upstream_r, upstream_w = await asyncio.open_connection(address, parts.port or 80)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            headers = [
                h for h in rest.split("\r\n") if h and not h.lower().startswith("connection:")
            ]
            request = f"{method} {path} HTTP/1.1\r\n" + "\r\n".join(headers)
            upstream_w.write(request.encode("latin-1") + b"\r\nConnection: close\r\n\r\n")
            await upstream_w.drain()
            while chunk := await upstream_r.read(65536):
                writer.write(chunk)
                await writer.drain()
            upstream_w.close()
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.3", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.3:{self.port}"

    def __enter__(self) -> ForwardingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def internal_server() -> Iterator[PageServer]:
    with PageServer(host="127.0.0.2") as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    with ForwardingProxy({"internal.test": "127.0.0.2", "public.test": "127.0.0.1"}) as p:
        yield p


def crawl(
    tmp_path: Path, pages: PageServer, internal: PageServer, **settings: str
) -> tuple[CrawlResult, str, str]:
    public_url = f"http://public.test:{pages.port}/article/blog-post"
    internal_url = f"http://internal.test:{internal.port}/article/ai-safety"
    listing = tmp_path / "sources.txt"
    listing.write_text(f"{public_url}\n{internal_url}\n", encoding="utf-8")
    hosts = {"public.test": "127.0.0.1", "internal.test": "127.0.0.2"}
    given = {
        **GUARDED,
        "TEST_DNS_HOSTS": json.dumps(hosts),
        "LOCK_FILE": str(tmp_path / "run.lock"),
        "SPOOL_DIR": str(tmp_path / "spool"),
        "STATE_URI": str(tmp_path / "state.sqlite"),
        **settings,
    }
    result = run_crawl(listing, tmp_path / "out.jsonl", **given)
    assert result.exit_code == 0, result.log[-3000:]
    return result, public_url, internal_url


def test_environment_proxy_variables_are_ignored(
    tmp_path: Path,
    page_server: PageServer,
    internal_server: PageServer,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    # The proxy's range let through: on main the crawl then sent every source
    # to it (and it fetched the internal page); it must not be used at all.
    result, public_url, internal_url = crawl(
        tmp_path, page_server, internal_server, ALLOWED_NETWORKS="127.0.0.1/32,127.0.0.3/32"
    )
    records = result.by_url()
    assert sum(proxy.hits.values()) == 0
    assert internal_server.all_hits() == {}
    assert (records[internal_url]["status"], records[internal_url]["error"]) == (
        "error",
        "blocked_address",
    )
    assert records[public_url]["status"] == "ok"


def test_through_a_proxy_the_guard_checks_every_target_name_itself(
    tmp_path: Path, page_server: PageServer, internal_server: PageServer, proxy: ForwardingProxy
) -> None:
    # The proxy's own address (127.0.0.3) is not in ALLOWED_NETWORKS: it is trusted
    # because the operator named it, not because the guard lets its range through.
    result, public_url, internal_url = crawl(
        tmp_path, page_server, internal_server, PROXY_URL=proxy.url
    )
    records = result.by_url()
    assert internal_server.all_hits() == {}
    assert proxy.hits["internal.test"] == 0
    assert (records[internal_url]["status"], records[internal_url]["error"]) == (
        "error",
        "blocked_address",
    )
    # The public page did go through the proxy and came back whole.
    assert proxy.hits["public.test"] >= 1
    assert records[public_url]["status"] == "ok", records[public_url]
    assert records[public_url]["title"]
