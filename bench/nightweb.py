"""A simulated night's web on 127.0.0.1: thousands of origins, their latencies and failures.

:func:`make_plan` draws, from a seed, which origin each source is on, how fast each origin
answers, which hang or refuse, and which sources are very large pages or PDFs. The plan is
plain JSON so that the server (this module run as a script, its own process) and the
benchmark (bench/night.py) read the same night.

``python bench/nightweb.py PLAN.json PAGES_DIR`` listens on three ports and prints
``PORTS <web> <hang> <refuse>``:

- ``web`` (aiohttp): every origin that answers, told apart by the ``Host`` header
  (``o<k>.night.test``, which the benchmark's resolver sends to 127.0.0.1). ``/robots.txt``
  is a 404 (allow all), ``/s/<i>`` is source ``i`` after its origin's latency (a real page
  from PAGES_DIR, a large page, or a PDF); an origin of kind ``hang_pages`` answers its
  robots.txt but never its pages.
- ``hang``: accepts, reads the request, and never answers (origins of kind ``hang``).
- ``refuse``: a bound socket that never listens, so every connection is refused.

On SIGTERM it writes what it saw to ``PLAN.json.served.json``: requests per origin and path
kind, and the connections the hanging port accepted per origin.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import signal
import socket
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DOMAIN = "night.test"

# The latency mix of a night (issue 19): most origins answer in 50-500 ms, a tail in
# 2-10 s, 2 % accept and never answer, 1 % refuse.
TAIL_SHARE = 0.05
HANG_SHARE = 0.02
REFUSE_SHARE = 0.01
LARGE_SHARE = 0.001  # sources whose body is 5-19 MB of HTML
PDF_SHARE = 0.01


@dataclass
class Origin:
    """One simulated host."""

    name: str
    kind: str  # "web", "hang" (nothing answers), "hang_pages" (robots.txt answers), "refuse"
    latency: float  # seconds before each answer (web origins)
    sources: list[int] = field(default_factory=list)


@dataclass
class Source:
    """One entry of the sources list."""

    index: int
    origin: int
    body: str  # "page", "large", "pdf"
    page: int  # which corpus page (body "page"), or the size in bytes (body "large")


def origin_name(k: int) -> str:
    """The host name of origin ``k``."""
    return f"o{k}.{DOMAIN}"


def make_plan(n_sources: int, n_origins: int, seed: int, n_pages: int) -> dict[str, Any]:
    """Draw a night: ``n_sources`` sources over ``n_origins`` origins, reproducible from ``seed``.

    Origins get a Zipf-like share of the sources (a few busy hosts, most with one or two),
    capped so that no origin holds more than 1 % of the list, at least one source each;
    the list itself is shuffled, so a busy host's sources are spread all through it, as in
    a real list. The second-busiest origin is made slow (the tail), as a busy slow host is
    what politeness makes expensive.
    """
    rng = random.Random(seed)
    n_origins = max(1, min(n_origins, n_sources))
    cap = max(5, n_sources // 100)
    counts = [1] * n_origins
    weights = [1.0 / (k + 1) ** 0.9 for k in range(n_origins)]
    left = n_sources - n_origins
    while left > 0:
        k = rng.choices(range(n_origins), weights)[0]
        if counts[k] < cap:
            counts[k] += 1
            left -= 1
    origins: list[Origin] = []
    for k in range(n_origins):
        draw = rng.random()
        if draw < HANG_SHARE:
            # half hang altogether, half answer robots.txt from a front and hang on pages
            kind, latency = rng.choice(("hang", "hang_pages")), 0.0
        elif draw < HANG_SHARE + REFUSE_SHARE:
            kind, latency = "refuse", 0.0
        elif draw < HANG_SHARE + REFUSE_SHARE + TAIL_SHARE:
            kind, latency = "web", rng.uniform(2.0, 10.0)
        else:
            kind, latency = "web", rng.uniform(0.05, 0.5)
        origins.append(Origin(origin_name(k), kind, round(latency, 3)))
    if n_origins > 1:
        origins[1].kind, origins[1].latency = "web", 7.0
    slots = [k for k, c in enumerate(counts) for _ in range(c)]
    rng.shuffle(slots)
    sources: list[Source] = []
    for i, k in enumerate(slots):
        draw = rng.random()
        if draw < LARGE_SHARE:
            body, page = "large", rng.randint(5 * 2**20, 19 * 2**20)
        elif draw < LARGE_SHARE + PDF_SHARE:
            body, page = "pdf", rng.randrange(n_pages)
        else:
            body, page = "page", rng.randrange(n_pages)
        sources.append(Source(i, k, body, page))
        origins[k].sources.append(i)
    # a night has a few large bodies whatever its size
    webs = [s for s in sources if origins[s.origin].kind == "web"]
    for s in rng.sample(webs, min(3, len(webs))):
        if s.body == "page":
            s.body, s.page = "large", rng.randint(5 * 2**20, 19 * 2**20)
    return {
        "seed": seed,
        "origins": [asdict(o) for o in origins],
        "sources": [asdict(s) for s in sources],
    }


def source_url(plan: dict[str, Any], i: int, ports: dict[str, int]) -> str:
    """The URL of source ``i``: its origin's name, on the port its origin's kind listens on."""
    origin = plan["origins"][plan["sources"][i]["origin"]]
    kind = origin["kind"]
    port = ports["web"] if kind in ("web", "hang_pages") else ports[kind]
    suffix = ".pdf" if plan["sources"][i]["body"] == "pdf" else ""
    return f"http://{origin['name']}:{port}/s/{i}{suffix}"


# --- bodies ------------------------------------------------------------------------------


def load_pages(directory: Path) -> list[bytes]:
    """Bodies of every ``*.html`` / ``*.html.gz`` in ``directory``, in name order."""
    pages = []
    for path in sorted(directory.iterdir()):
        if path.name.endswith(".html.gz"):
            pages.append(gzip.decompress(path.read_bytes()))
        elif path.name.endswith(".html"):
            pages.append(path.read_bytes())
    if not pages:
        raise SystemExit(f"no *.html or *.html.gz files in {directory}")
    return pages


def make_pdf(title: str, lines: list[str]) -> bytes:
    """A small valid PDF (one page of text, an Info title) written by hand, offsets exact."""

    def esc(text: str) -> str:
        clean = text.encode("latin-1", "replace").decode("latin-1")
        return clean.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT /F1 11 Tf 50 780 Td 14 TL"] + [f"({esc(line[:90])}) '" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({esc(title)}) /CreationDate (D:20240115120000Z) >>".encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def large_page(pages: list[bytes], size: int) -> bytes:
    """An HTML page of about ``size`` bytes: one real page's head, then paragraphs to fill."""
    head = b"<html><head><meta charset='utf-8'><title>A very long report</title></head><body>"
    para = b"<p>" + b"This long report goes on and on about the same findings. " * 20 + b"</p>\n"
    return head + para * max(1, (size - len(head)) // len(para)) + b"</body></html>"


# --- the server --------------------------------------------------------------------------


class Night:
    """The server side of a plan: answers, hangs, and counts what it saw."""

    def __init__(self, plan: dict[str, Any], pages: list[bytes]) -> None:
        self.plan = plan
        self.pages = pages
        self.by_name = {o["name"]: o for o in plan["origins"]}
        self.requests: Counter[str] = Counter()  # "<origin> <robots|page>"
        self.hang_connections: Counter[str] = Counter()
        self.pdfs: dict[int, bytes] = {}
        self.large: dict[int, bytes] = {}

    def body(self, index: int) -> tuple[bytes, str]:
        source = self.plan["sources"][index]
        if source["body"] == "pdf":
            if index not in self.pdfs:
                self.pdfs[index] = make_pdf(
                    f"Report number {index}",
                    [f"Line {n} of report {index}: findings and methods." for n in range(40)],
                )
            return self.pdfs[index], "application/pdf"
        if source["body"] == "large":
            # built when asked and dropped after, so the server holds one at a time
            return large_page(self.pages, source["page"]), "text/html"
        return self.pages[source["page"] % len(self.pages)], "text/html"

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        host = (request.host or "").split(":")[0].lower()
        origin = self.by_name.get(host)
        if origin is None:
            raise web.HTTPNotFound()
        if request.path == "/robots.txt":
            self.requests[f"{host} robots"] += 1
            await asyncio.sleep(origin["latency"])
            raise web.HTTPNotFound()
        self.requests[f"{host} page"] += 1
        if origin["kind"] == "hang_pages":
            await asyncio.Event().wait()  # until the client gives up and closes
        try:
            index = int(request.path.rsplit("/", 1)[-1].removesuffix(".pdf"))
            if not 0 <= index < len(self.plan["sources"]):
                raise IndexError(index)
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        await asyncio.sleep(origin["latency"])
        body, content_type = self.body(index)
        # No charset: real saved pages whose original headers we do not have.
        return web.Response(body=body, content_type=content_type)

    async def hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = "?"
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"host:"):
                    host = line[5:].strip().decode("latin-1").split(":")[0].lower()
            self.hang_connections[host] += 1
            await reader.read()  # until the client closes
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def report(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "hang_connections": dict(self.hang_connections)}


async def serve(plan_path: Path, pages_dir: Path) -> None:
    """Listen until SIGTERM; then write what was served beside the plan."""
    from aiohttp import web

    night = Night(json.loads(plan_path.read_text(encoding="utf-8")), load_pages(pages_dir))
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", night.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    web_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hang_server = await asyncio.start_server(night.hang, "127.0.0.1", 0, backlog=4096)
    hang_port = hang_server.sockets[0].getsockname()[1]
    # bound, never listening: connections to it are refused, and nobody else can take it
    refuse = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refuse.bind(("127.0.0.1", 0))
    refuse_port = refuse.getsockname()[1]
    print(f"PORTS {web_port} {hang_port} {refuse_port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    Path(f"{plan_path}.served.json").write_text(json.dumps(night.report()), encoding="utf-8")
    refuse.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plan", type=Path)
    parser.add_argument("pages", type=Path)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.plan, args.pages))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
