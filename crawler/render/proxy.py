"""A local forwarding proxy that holds the address guard for the browser.

A browser resolves host names itself and connects wherever a page's scripts,
sub-resources, redirects or WebSockets point: the crawl's resolver-level
guard (:mod:`crawler.fetch.resolver`) never sees those connections. So the
browser is launched with this proxy as its only way out: every connection it
makes arrives here as ``CONNECT host:port`` (HTTPS, WebSockets) or as an
absolute-form request (plain HTTP), and the proxy resolves the host itself,
checks each address with :class:`~crawler.fetch.guard.AddressPolicy` and
connects only to an allowed one. The check is on the address actually
connected to, at connect time, so DNS answers that change cannot slip past.

Plain-HTTP requests are forwarded one per client connection (``Connection:
close`` both ways): a browser reuses proxy connections across hosts, and a
second request on a piped connection would reach the first host.

It runs on the crawl's asyncio loop, listens on 127.0.0.1 only, on a port
the OS picks, and bounds what one connection may send before it is judged
(the request head) and how long a connection may stay idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from crawler.fetch.guard import AddressPolicy, is_ip_literal

logger = logging.getLogger(__name__)

#: Largest request or response head read before a connection is refused.
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a client may take to send its request head.
HEAD_TIMEOUT = 15.0
#: Seconds a tunnel may carry nothing in either direction before it is closed.
IDLE_TIMEOUT = 120.0
#: Connections served at once; more wait for a slot.
MAX_CONNECTIONS = 256
#: Host names whose addresses are remembered, and for how long (seconds).
DNS_CACHE_SIZE = 4096
DNS_CACHE_TTL = 300.0
#: Seconds a name that did not resolve is answered as unresolvable without asking
#: again. A shell's scripts ask for dozens of files on each unreachable CDN at once;
#: asked one by one, the system resolver answered some of them only after its own
#: 5 s timeout, which held the page's network busy for its whole budget.
DNS_FAILURE_TTL = 60.0

_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"te", b"upgrade"}
)

Resolver = Callable[[str, int], Awaitable[list[str]]]


class ProxyRefusal(Exception):
    """A request the proxy will not forward; the message is the reason given to the browser."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``, or a bare host) → (host, port); raises ValueError."""
    text = authority.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    port = int(port_text) if port_text else default_port
    if not host or not 0 < port < 65536:
        raise ValueError(f"not a host and port: {authority!r}")
    return host.lower(), port


def parse_absolute_target(target: str) -> tuple[str, int, str]:
    """``http://host:port/path?q`` → (host, port, ``/path?q``); raises ValueError."""
    scheme, sep, rest = target.partition("://")
    if not sep or scheme.lower() not in ("http", "ws"):
        raise ValueError(f"not an absolute http URL: {target[:200]!r}")
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]  # credentials in a URL are not forwarded
    host, port = split_host_port(authority, 80)
    return host, port, slash + path if slash else "/"


class GuardedProxy:
    """An HTTP proxy on 127.0.0.1 that connects only to addresses ``policy`` allows.

    :meth:`bind` reserves the port synchronously (the browser's launch options
    need it before the loop runs); :meth:`start` serves on the running loop.
    ``resolver`` (host, port → addresses) replaces the system look-up in tests.
    """

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self._resolver = resolver
        self._sock: socket.socket | None = None
        self._server: asyncio.base_events.Server | None = None
        self._slots: asyncio.Semaphore | None = None
        # host → (when, addresses, why not): an empty list remembers a failed look-up
        self._dns: OrderedDict[str, tuple[float, list[str], str]] = OrderedDict()
        # look-ups under way: a second request for the same name waits for the first
        self._lookups: dict[str, asyncio.Future[tuple[list[str], str]]] = {}
        self.port = 0
        #: connections forwarded, and refused by the guard
        self.forwarded = 0
        self.refused = 0
        #: the address last connected to for each host (bounded like the DNS cache)
        self.connected: OrderedDict[str, str] = OrderedDict()
        #: in every answer the proxy itself writes (a refusal, a failed connection),
        #: so that a page showing one is not taken for the site's content
        self.token = secrets.token_hex(12)

    def bind(self) -> int:
        """Reserve a port on 127.0.0.1 and return it."""
        if self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            sock.setblocking(False)
            self._sock = sock
            self.port = sock.getsockname()[1]
        return self.port

    async def start(self) -> None:
        """Serve on the running loop (binding first if needed)."""
        if self._server is not None:
            return
        self.bind()
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._server = await asyncio.start_server(
            self._serve, sock=self._sock, limit=MAX_HEAD_BYTES
        )

    async def close(self) -> None:
        """Stop accepting connections and close the listening socket."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        elif self._sock is not None:
            self._sock.close()
        self._sock = None

    # --- one client connection -------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._slots is not None
        async with self._slots:
            try:
                await self._handle(reader, writer)
            except ProxyRefusal as exc:
                await _answer(writer, exc.status, f"{exc} [{self.token}]")
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass  # the browser went away, or sent a head too large to judge
            except TimeoutError:
                pass
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        request_line, _, header_block = head.partition(b"\r\n")
        parts = request_line.decode("latin-1").split()
        if len(parts) != 3:
            raise ProxyRefusal(400, "malformed request line")
        method, target, _version = parts
        if method.upper() == "CONNECT":
            try:
                host, port = split_host_port(target, 443)
            except ValueError as exc:
                raise ProxyRefusal(400, str(exc)) from exc
            up_reader, up_writer = await self._connect(host, port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _splice(reader, writer, up_reader, up_writer)
            return
        try:
            host, port, path = parse_absolute_target(target)
        except ValueError as exc:
            raise ProxyRefusal(400, str(exc)) from exc
        up_reader, up_writer = await self._connect(host, port)
        up_writer.write(
            f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + _close_headers(header_block)
        )
        await up_writer.drain()
        # The response head is rewritten to close too; the body is piped as it comes.
        response_head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        status_line, _, response_headers = response_head.partition(b"\r\n")
        writer.write(status_line + b"\r\n" + _close_headers(response_headers))
        await writer.drain()
        await _splice(reader, writer, up_reader, up_writer)

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a connection to an allowed address of ``host``; refuse when there is none."""
        addresses = await self._addresses(host, port)
        refusals = [(a, self.policy.refusal(a)) for a in addresses]
        allowed = [address for address, refusal in refusals if refusal is None]
        if not allowed:
            self.refused += 1
            reasons = "; ".join(str(refusal) for _, refusal in refusals)
            logger.info("Render proxy refused %s:%d (%s)", host, port, reasons)
            raise ProxyRefusal(403, f"address refused by the guard: {reasons}")
        failures = []
        for address in allowed:
            try:
                connection = await asyncio.wait_for(
                    asyncio.open_connection(address, port, limit=MAX_HEAD_BYTES), HEAD_TIMEOUT
                )
            except (OSError, TimeoutError) as exc:
                failures.append(f"{address}: {exc or type(exc).__name__}")
                continue
            self.forwarded += 1
            self.connected[host] = address
            self.connected.move_to_end(host)
            if len(self.connected) > DNS_CACHE_SIZE:
                self.connected.popitem(last=False)
            return connection
        raise ProxyRefusal(502, f"cannot connect to {host}:{port}: {'; '.join(failures)}")

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``: from the cache, a look-up under way, or a new look-up.

        Raises :class:`ProxyRefusal` (502) when the name does not resolve; that
        answer is remembered for :data:`DNS_FAILURE_TTL` seconds.
        """
        if is_ip_literal(host):
            return [host.strip("[]")]
        cached = self._dns.get(host)
        if cached is not None:
            when, addresses, why = cached
            if time.monotonic() - when < (DNS_CACHE_TTL if addresses else DNS_FAILURE_TTL):
                return _resolved(host, addresses, why)
        pending = self._lookups.get(host)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(host, port))
            self._lookups[host] = pending
            pending.add_done_callback(lambda _: self._lookups.pop(host, None))
        # shielded: one waiting request going away does not cancel the others' look-up
        addresses, why = await asyncio.shield(pending)
        return _resolved(host, addresses, why)

    async def _look_up(self, host: str, port: int) -> tuple[list[str], str]:
        """Resolve ``host`` once and cache the answer (an empty list and why, on failure)."""
        why = ""
        try:
            if self._resolver is not None:
                addresses = await self._resolver(host, port)
            else:
                infos = await asyncio.wait_for(
                    asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
                    HEAD_TIMEOUT,
                )
                addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        except (OSError, TimeoutError) as exc:
            addresses, why = [], str(exc) or type(exc).__name__
        self._dns[host] = (time.monotonic(), addresses, why)
        self._dns.move_to_end(host)
        while len(self._dns) > DNS_CACHE_SIZE:
            self._dns.popitem(last=False)
        return addresses, why


def _resolved(host: str, addresses: list[str], why: str) -> list[str]:
    """``addresses``, or the refusal of a name that did not resolve."""
    if not addresses:
        raise ProxyRefusal(502, f"cannot resolve {host}" + (f": {why}" if why else ""))
    return addresses


def _close_headers(block: bytes) -> bytes:
    """Header lines without the hop-by-hop ones, plus ``Connection: close`` and the blank line."""
    kept = []
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        if name not in _HOP_BY_HOP:
            kept.append(line)
    kept.append(b"Connection: close")
    return b"\r\n".join(kept) + b"\r\n\r\n"


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    """Send a short error response (best effort: the browser may be gone)."""
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    body = reason.encode("utf-8", "replace")[:2000]
    with contextlib.suppress(Exception):
        writer.write(
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
            + body
        )
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT)
        if not data:
            return
        writer.write(data)
        await writer.drain()


async def _splice(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Carry bytes both ways until either side closes (or stays idle too long)."""
    tasks = [
        asyncio.ensure_future(_pipe(client_reader, up_writer)),
        asyncio.ensure_future(_pipe(up_reader, client_writer)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        up_writer.close()
        with contextlib.suppress(Exception):
            await up_writer.wait_closed()
