"""The guarded proxy on its own: real sockets on 127.0.0.0/8, no browser."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from crawler.fetch.guard import AddressPolicy
from crawler.render.proxy import GuardedProxy, parse_absolute_target, split_host_port


class _Upstream:
    """An HTTP server on ``host`` that counts requests and echoes the headers it got."""

    def __init__(self, host: str) -> None:
        self.hits: Counter[str] = Counter()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                upstream.hits[self.path] += 1
                body = "".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Keep-Alive", "timeout=5")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def allowed() -> Iterator[_Upstream]:
    server = _Upstream("127.0.0.1")
    yield server
    server.close()


@pytest.fixture(scope="module")
def blocked() -> Iterator[_Upstream]:
    server = _Upstream("127.0.0.2")
    yield server
    server.close()


POLICY = AddressPolicy.from_settings(False, ["127.0.0.1/32"])


async def _exchange(proxy: GuardedProxy, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    return answer


def _run(policy: AddressPolicy, data: bytes, resolver: Any = None) -> tuple[bytes, GuardedProxy]:
    async def main() -> tuple[bytes, GuardedProxy]:
        proxy = GuardedProxy(policy, resolver)
        await proxy.start()
        try:
            return await _exchange(proxy, data), proxy
        finally:
            await proxy.close()

    return asyncio.run(main())


def test_plain_http_is_forwarded_once_with_hop_by_hop_headers_dropped(allowed: _Upstream) -> None:
    answer, proxy = _run(
        POLICY,
        f"GET http://127.0.0.1:{allowed.port}/page?q=1 HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{allowed.port}\r\nProxy-Connection: keep-alive\r\n"
        "Proxy-Authorization: Basic c2VjcmV0\r\nX-Kept: yes\r\n\r\n".encode(),
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in head
    assert b"keep-alive" not in head.lower()
    assert b"x-kept: yes" in body
    assert b"proxy-" not in body  # neither proxy header reached the server
    assert b"connection: close" in body
    assert allowed.hits["/page?q=1"] == 1
    assert proxy.forwarded == 1 and proxy.connected["127.0.0.1"] == "127.0.0.1"


def test_connect_tunnels_to_an_allowed_address(allowed: _Upstream) -> None:
    async def main() -> bytes:
        proxy = GuardedProxy(POLICY)
        await proxy.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"CONNECT 127.0.0.1:{allowed.port} HTTP/1.1\r\n\r\n".encode())
            await writer.drain()
            established = await reader.readuntil(b"\r\n\r\n")
            assert established.startswith(b"HTTP/1.1 200")
            writer.write(b"GET /tunnelled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer
        finally:
            await proxy.close()

    assert b"200" in asyncio.run(main()).split(b"\r\n", 1)[0]
    assert allowed.hits["/tunnelled"] == 1


@pytest.mark.parametrize(
    "request_line",
    [
        "CONNECT 127.0.0.2:{port} HTTP/1.1",
        "GET http://127.0.0.2:{port}/secret HTTP/1.1",
        "CONNECT [::ffff:127.0.0.2]:{port} HTTP/1.1",
        "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1",
        "CONNECT 10.0.0.1:443 HTTP/1.1",
    ],
)
def test_blocked_addresses_are_refused_before_any_connection(
    blocked: _Upstream, request_line: str
) -> None:
    line = request_line.format(port=blocked.port)
    answer, proxy = _run(POLICY, f"{line}\r\nHost: x\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403")
    assert b"refused by the guard" in answer and proxy.token.encode() in answer
    assert proxy.refused == 1 and proxy.forwarded == 0
    assert sum(blocked.hits.values()) == 0


def test_names_are_resolved_and_checked_by_the_proxy(
    allowed: _Upstream, blocked: _Upstream
) -> None:
    answers = {"evil.test": ["127.0.0.2"], "mixed.test": ["127.0.0.2", "127.0.0.1"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    refused, _ = _run(
        POLICY, f"CONNECT evil.test:{blocked.port} HTTP/1.1\r\n\r\n".encode(), resolver
    )
    assert refused.startswith(b"HTTP/1.1 403")
    # of a mixed answer only the allowed address is connected to
    mixed, proxy = _run(
        POLICY,
        f"GET http://mixed.test:{allowed.port}/mixed HTTP/1.1\r\nHost: mixed.test\r\n\r\n".encode(),
        resolver,
    )
    assert b" 200 " in mixed.split(b"\r\n", 1)[0]
    assert allowed.hits["/mixed"] == 1
    assert proxy.connected["mixed.test"] == "127.0.0.1"
    assert sum(blocked.hits.values()) == 0


@pytest.mark.parametrize(
    "data",
    [
        b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET ftp://127.0.0.1/x HTTP/1.1\r\n\r\n",
        b"NONSENSE\r\n\r\n",
        b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_requests_get_400(data: bytes) -> None:
    answer, proxy = _run(POLICY, data)
    assert answer.startswith(b"HTTP/1.1 400")
    assert proxy.forwarded == 0


def test_an_oversized_head_is_dropped(allowed: _Upstream) -> None:
    data = (
        f"GET http://127.0.0.1:{allowed.port}/huge HTTP/1.1\r\nX-Pad: ".encode()
        + b"a" * 200_000
        + b"\r\n\r\n"
    )

    async def main() -> bytes:
        proxy = GuardedProxy(POLICY)
        await proxy.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer
        finally:
            await proxy.close()

    try:
        answer = asyncio.run(main())
    except ConnectionError:
        answer = b""
    assert answer == b""
    assert allowed.hits["/huge"] == 0


def test_the_guard_off_lets_loopback_through(blocked: _Upstream) -> None:
    answer, _ = _run(
        AddressPolicy(allow_private=True),
        f"GET http://127.0.0.2:{blocked.port}/open HTTP/1.1\r\n\r\n".encode(),
    )
    assert b" 200 " in answer.split(b"\r\n", 1)[0]
    assert blocked.hits["/open"] == 1
    blocked.hits.clear()


def test_target_parsing() -> None:
    assert split_host_port("Example.COM:8443", 443) == ("example.com", 8443)
    assert split_host_port("[::1]:80", 443) == ("::1", 80)
    assert split_host_port("example.com", 443) == ("example.com", 443)
    for bad in ("", ":80", "host:0", "host:x", "[::1]:70000"):
        with pytest.raises(ValueError):
            split_host_port(bad, 443)
    assert parse_absolute_target("http://user:pw@h.test:81/a?b=1") == ("h.test", 81, "/a?b=1")
    assert parse_absolute_target("http://h.test") == ("h.test", 80, "/")
    with pytest.raises(ValueError):
        parse_absolute_target("https://h.test/")


def test_a_name_is_looked_up_once_for_many_requests_and_its_failure_remembered() -> None:
    """A shell asks for dozens of files on one unreachable CDN at once: one look-up for all."""
    asked: Counter[str] = Counter()

    async def resolver(host: str, port: int) -> list[str]:
        asked[host] += 1
        await asyncio.sleep(0.2)  # the requests below all arrive while this look-up runs
        raise OSError("Name or service not known")

    async def main() -> list[bytes]:
        proxy = GuardedProxy(POLICY, resolver)
        await proxy.start()
        try:
            request = b"CONNECT cdn.unreachable.test:443 HTTP/1.1\r\n\r\n"
            first = await asyncio.gather(*(_exchange(proxy, request) for _ in range(20)))
            # after the look-up failed, the answer comes from the cache
            later = await _exchange(proxy, request)
            return [*first, later]
        finally:
            await proxy.close()

    answers = asyncio.run(main())
    assert len(answers) == 21
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 502")
        assert b"cannot resolve cdn.unreachable.test: Name or service not known" in answer
    assert asked == {"cdn.unreachable.test": 1}


def test_a_resolved_name_is_shared_by_concurrent_requests(allowed: _Upstream) -> None:
    asked: Counter[str] = Counter()

    async def resolver(host: str, port: int) -> list[str]:
        asked[host] += 1
        await asyncio.sleep(0.2)
        return ["127.0.0.1"]

    async def main() -> list[bytes]:
        proxy = GuardedProxy(POLICY, resolver)
        await proxy.start()
        try:
            return await asyncio.gather(
                *(
                    _exchange(
                        proxy,
                        f"GET http://shared.test:{allowed.port}/shared/{i} HTTP/1.1\r\n"
                        "Host: shared.test\r\n\r\n".encode(),
                    )
                    for i in range(10)
                )
            )
        finally:
            await proxy.close()

    answers = asyncio.run(main())
    assert all(b" 200 " in answer.split(b"\r\n", 1)[0] for answer in answers)
    assert asked == {"shared.test": 1}
    assert sum(allowed.hits[f"/shared/{i}"] for i in range(10)) == 10
